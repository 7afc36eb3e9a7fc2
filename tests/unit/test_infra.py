"""The deploy path that can be checked without an AWS account: the template is valid
CloudFormation that creates exactly the tables the models use, and the rendered chalice
config and IAM policy name this stage's resources."""
import fnmatch
import json
import subprocess
import sys
from pathlib import Path

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
