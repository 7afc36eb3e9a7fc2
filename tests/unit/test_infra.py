"""The deploy path that can be checked without an AWS account: the template is valid
CloudFormation that creates exactly the tables the models use, and the rendered chalice
config and IAM policy name this stage's resources."""
import fnmatch
import importlib.util
import json
import os
import py_compile
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from chalicelib import models
from infra import deploy

OUTPUTS = {"TablePrefix": "cloud-annotator-dev-", "DataBucket": "cloud-annotator-dev-data-1",
           "SiteBucket": "s", "KeysParameter": "/cloud-annotator/dev/jwt-keys",
           "KeysParameterArn": "arn:aws:ssm:us-east-1:1:parameter/cloud-annotator/dev/jwt-keys",
           "IngestQueue": "cloud-annotator-dev-ingest",
           "IngestQueueArn": "arn:aws:sqs:us-east-1:1:cloud-annotator-dev-ingest",
           "ExportQueue": "cloud-annotator-dev-export",
           "ExportQueueArn": "arn:aws:sqs:us-east-1:1:cloud-annotator-dev-export",
           "IngestFunction": "cloud-annotator-dev-ingest_now",
           "IngestFunctionArn": "arn:aws:lambda:us-east-1:1:function:cloud-annotator-dev-ingest_now",
           "TableArns": ",".join(f"arn:aws:dynamodb:us-east-1:1:table/t{i}" for i in range(6)),
           "FunctionLogGroupArn": "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/cloud-annotator-dev"}


class CfnLoader(yaml.SafeLoader):
    pass


CfnLoader.add_multi_constructor(  # keep !Sub strings, drop other intrinsics
    "!", lambda loader, tag, node: loader.construct_scalar(node) if tag == "Sub" and
    isinstance(node, yaml.ScalarNode) else None)


def test_template_passes_cfn_lint():
    result = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(deploy.TEMPLATE)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_tables_match_the_models():
    resources = yaml.load(deploy.TEMPLATE.read_text(), Loader=CfnLoader)["Resources"]
    tables = {r["Properties"]["TableName"].split("${Stage}-")[1]: r["Properties"]
              for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"}
    for model in models.ALL_MODELS:
        props = tables[model.Meta.table_name.removeprefix(models.config.TABLE_PREFIX)]
        keys = [k["AttributeName"] for k in props["KeySchema"]]
        assert keys == [model._hash_keyname] + ([model._range_keyname] if model._range_keyname else [])
    gsi = tables["samples"]["GlobalSecondaryIndexes"][0]
    assert gsi["IndexName"] == models.Sample.dispatch.Meta.index_name
    assert [k["AttributeName"] for k in gsi["KeySchema"]] == ["task_id", "dispatch_key"]


def test_rendered_build_has_stage_config_and_least_privilege_policy(tmp_path):
    build = deploy.render_build("dev", OUTPUTS, tmp_path / "build", import_buckets=["lab-microscope"])
    config = json.loads((build / ".chalice" / "config.json").read_text())
    env = config["stages"]["dev"]["environment_variables"]
    assert env["TABLE_PREFIX"] == "cloud-annotator-dev-" and "JWT_SECRET" not in env
    assert env["JWT_SECRET_PARAMETER"] == "/cloud-annotator/dev/jwt-keys"
    assert all(isinstance(v, str) for v in env.values())
    assert "AWS_ENDPOINT_URL" not in env
    assert env["EXPORT_QUEUE"] == "cloud-annotator-dev-export"
    assert config["stages"]["dev"]["lambda_functions"]["on_export_message"]["lambda_timeout"] == 900
    policy = json.loads((build / ".chalice" / "policy-dev.json").read_text())
    resources = [r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(
        s["Resource"], str) else s["Resource"])]
    assert "arn:aws:dynamodb:us-east-1:1:table/t1/index/*" in resources
    assert "arn:aws:s3:::cloud-annotator-dev-data-1/*" in resources
    assert [s["Action"] for s in policy["Statement"] if s["Resource"] == OUTPUTS["KeysParameterArn"]] \
        == [["ssm:GetParameter"]]
    assert "arn:aws:s3:::lab-microscope/*" in resources and env["IMPORT_BUCKETS"] == "lab-microscope"
    assert not any(a == "*" or a.endswith(":*") for s in policy["Statement"] for a in s["Action"])
    assert (build / "app.py").exists() and (build / "chalicelib" / "leases.py").exists()
    assert not (build / "tests").exists() and not (build / "devstack").exists()


def test_a_stack_user_pool_becomes_the_stages_identity_provider(tmp_path):
    """Off by default (no OIDC_* at all); with the template's user pool outputs the Lambda
    accepts its ID tokens, admins by the pool's group."""
    plain = deploy.stage_config("dev", OUTPUTS)["stages"]["dev"]["environment_variables"]
    assert not any(k.startswith("OIDC_") for k in plain)
    pool = {**OUTPUTS, "SignInIssuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab",
            "SignInClientId": "client-1"}
    env = deploy.stage_config("dev", pool)["stages"]["dev"]["environment_variables"]
    assert {k: v for k, v in env.items() if k.startswith("OIDC_")} == {
        "OIDC_ISSUER": pool["SignInIssuer"], "OIDC_AUDIENCE": "client-1",
        "OIDC_GROUPS_CLAIM": "cognito:groups", "OIDC_ADMIN_GROUPS": "admins"}
    assert deploy.sign_in_urls("https://d1.cloudfront.net") == [
        "https://d1.cloudfront.net/", "https://d1.cloudfront.net/admin.html"]


def test_policy_grants_logs_of_this_stages_functions_only():
    logs, = [s for s in deploy.iam_policy(OUTPUTS)["Statement"] if s["Action"][0].startswith("logs:")]
    group = OUTPUTS["FunctionLogGroupArn"]
    assert logs["Resource"] == [f"{group}:*", f"{group}-on_*:*", f"{group}-ingest_now:*"]
    # Stage names have no "_": another stage's functions ("dev-x", "dev-on") never match.
    for other in ("cloud-annotator-dev-x", "cloud-annotator-dev-on-on_upload"):
        assert not any(fnmatch.fnmatchcase(f"arn:aws:logs:us-east-1:1:log-group:/aws/lambda/{other}:log-stream:s",
                                           pattern) for pattern in logs["Resource"])
    assert fnmatch.fnmatchcase(f"{group}-on_upload:log-stream:s", logs["Resource"][1])


def test_runtime_is_copied_without_this_machines_bytecode(tmp_path, monkeypatch):
    """chalice zips whatever chalicelib/ holds: the package makes its own byte code."""
    source = tmp_path / "project"
    (source / "chalicelib" / "__pycache__").mkdir(parents=True)
    for name in ("app.py", "requirements.txt", "chalicelib/leases.py",
                 "chalicelib/__pycache__/leases.cpython-311.pyc"):
        (source / name).write_text("")
    monkeypatch.setattr(deploy, "ROOT", source)
    deploy.copy_runtime(tmp_path / "build")
    assert sorted(p.relative_to(tmp_path / "build").as_posix() for p in (tmp_path / "build").rglob("*")) \
        == ["app.py", "chalicelib", "chalicelib/leases.py", "requirements.txt"]


def _zip(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _unchecked_hash_header(source: bytes) -> bytes:
    """PEP 552: magic number, flags 0b01 (hash-based, source not checked), the source's hash."""
    return importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + importlib.util.source_hash(source)


def test_precompile_adds_unchecked_bytecode_that_python_uses_without_the_source(tmp_path):
    # A stale pyc of an older text of lab/mod.py, as a reused zip could hold one: replaced.
    (tmp_path / "old.py").write_text("VALUE = 0\n")
    py_compile.compile(str(tmp_path / "old.py"), str(tmp_path / "old.pyc"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    sources = {"lab/__init__.py": b"", "lab/mod.py": b"VALUE = 1\n", "top.py": b"import lab.mod\n"}
    archive = _zip(tmp_path / "package.zip", {
        **sources, "lab/data.json": b"{}",
        "lab/__pycache__/mod.cpython-311.pyc": (tmp_path / "old.pyc").read_bytes()})
    deploy.precompile(archive)
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        assert names == {*sources, "lab/data.json", "lab/__pycache__/__init__.cpython-311.pyc",
                         "lab/__pycache__/mod.cpython-311.pyc", "__pycache__/top.cpython-311.pyc"}
        for module, text in sources.items():
            assert z.read(module) == text
            assert z.read(importlib.util.cache_from_source(module))[:16] == _unchecked_hash_header(text)
        z.extractall(tmp_path / "task")
    before = archive.read_bytes()
    deploy.precompile(archive)
    assert archive.read_bytes() == before  # already compiled: left as it is

    # Unzipped with any mtimes, the source even edited: Python runs the byte code, compiles
    # nothing (a read-only task root) and never looks at the source's date.
    mod = tmp_path / "task" / "lab" / "mod.py"
    mod.write_text("VALUE = 2\n")
    os.utime(mod, (0, 0))
    probe = ("import sys, top, lab.mod; assert sys.modules['lab.mod'].__file__.endswith('mod.py');"
             "print(lab.mod.VALUE)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path / "task", capture_output=True,
                         text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=True)
    assert out.stdout.strip() == "1"


def test_precompile_refuses_an_interpreter_that_is_not_the_functions_runtime(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "package.zip", {"app.py": b"x = 1\n"})
    monkeypatch.setattr(deploy, "LAMBDA_PYTHON", "3.12")
    with pytest.raises(SystemExit, match=r"Deploy with Python 3\.12.*this is Python 3\.11"):
        deploy.precompile(archive)
    with zipfile.ZipFile(archive) as z:
        assert z.namelist() == ["app.py"]
    with pytest.raises(SystemExit, match=r"Deploy with Python 3\.12"):  # before any AWS call
        deploy.main(["dev"])


def test_precompile_refuses_a_module_that_does_not_compile(tmp_path):
    archive = _zip(tmp_path / "package.zip", {"app.py": b"x = 1\n", "broken.py": b"def (\n"})
    with pytest.raises(py_compile.PyCompileError, match="broken.py"):
        deploy.precompile(archive)
    with zipfile.ZipFile(archive) as z:
        assert z.namelist() == ["app.py", "broken.py"]
