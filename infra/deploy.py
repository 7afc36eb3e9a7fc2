"""Deploy one stage to AWS in one command: `make deploy STAGE=dev` (or `python infra/deploy.py dev`).

1. CloudFormation stack from infra/template.yaml: tables, buckets, queues, alarms, and with
   `--user-pool on` a Cognito user pool as the identity provider (kept on later deploys).
2. The token key set: an SSM SecureString, created once per stage, never in the repository, in
   a file or in the Lambda's configuration (the Lambda reads it at run time: signing_keys.py).
3. The site's CloudFront distribution (infra/cdn.py), found again by name on later deploys.
4. The worker layer: requirements-worker.txt (numpy, Pillow) built for Lambda's Linux, published
   as a Lambda layer once per content. Only the functions that decode or render images get it,
   so the API function's package carries neither (requirements.txt).
5. `chalice deploy` of the API and the worker functions (ingest and export consumers) from a
   build folder whose .chalice/config.json carries this stage's names, the layer and a
   least-privilege IAM policy. The build folder (infra/.build/<stage>, git-ignored) keeps
   chalice's deployment state and the layer's zip. The zip uploaded (and the layer) carries
   byte code for every module (precompile), so cold starts compile nothing.
6. The annotator site (frontend/dist, built by `make frontend`), with a config.json naming the API.

Needs AWS credentials in the environment (any of the usual ways boto3 finds them). Every step is
safe to repeat: a second run with nothing changed changes nothing.
"""
import argparse
import hashlib
import importlib.util
import json
import mimetypes
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib import signing_keys  # noqa: E402
from infra import cdn, gateway_responses  # noqa: E402

TEMPLATE = ROOT / "infra" / "template.yaml"
RUNTIME = ["app.py", "chalicelib", "requirements.txt"]
SITE = ROOT / "frontend" / "dist"
# Vite names what it emits under assets/ by content hash: cache it for ever. Everything else
# (pages, config.json, vendor/) is revalidated, so a deploy is seen at the next load.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
LOG_DAYS = 30
# The template's ApiRateLimitedAlarm watches this metric (namespace "<app>/<stage>").
RATE_LIMITED_METRIC = "RateLimited"
# What a Cognito user pool's ID tokens carry (the template's SignInAdmins group).
USER_POOL_SIGN_IN = {"OIDC_GROUPS_CLAIM": "cognito:groups", "OIDC_ADMIN_GROUPS": "admins"}
# Lambda's Python runtime has these; the package need not carry them.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}
WORKER_REQUIREMENTS = ROOT / "requirements-worker.txt"
# The functions that decode or render images (chalice's names): they alone get the worker layer.
WORKER_FUNCTIONS = ("on_upload", "ingest_now", "on_export_message")
# The functions' runtime. chalice deploys the deploying interpreter's version, the wheels and
# the layer are built for this one, and byte code (precompile) is valid for one version only.
LAMBDA_PYTHON = "3.11"
# Wheels Lambda's python3.11 (Amazon Linux 2, glibc 2.26) loads; never built from source here.
LAMBDA_WHEELS = ["--platform", "manylinux2014_x86_64", "--implementation", "cp",
                 "--python-version", LAMBDA_PYTHON, "--only-binary=:all:"]
# Explicit, so the uploaded types do not depend on this machine's /etc/mime.types.
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".json": "application/json",
                 ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2"}


def stage_config(stage: str, outputs: dict, import_buckets=(), worker_layer: str | None = None) -> dict:
    """The .chalice/config.json the Lambda is deployed with. Every value a string. The stack's
    user pool, when it has one, is the identity provider (else the stage's OIDC_* settings)."""
    workers = {name: {"layers": [worker_layer]} if worker_layer else {} for name in WORKER_FUNCTIONS}
    base = json.loads((ROOT / ".chalice" / "config.json").read_text())
    sign_in = {"OIDC_ISSUER": outputs["SignInIssuer"], "OIDC_AUDIENCE": outputs["SignInClientId"],
               **USER_POOL_SIGN_IN} if "SignInIssuer" in outputs else {}
    env = {**base.get("environment_variables", {}),
           **base["stages"].get(stage, {}).get("environment_variables", {}), **sign_in,
           "TABLE_PREFIX": outputs["TablePrefix"], "DATA_BUCKET": outputs["DataBucket"],
           "INGEST_QUEUE": outputs["IngestQueue"], "EXPORT_QUEUE": outputs["ExportQueue"],
           "INGEST_FUNCTION": outputs["IngestFunction"],
           "JWT_SECRET_PARAMETER": outputs["KeysParameter"],
           "IMPORT_BUCKETS": ",".join(import_buckets), "LOG_FORMAT": "json"}
    return {"version": "2.0", "app_name": base["app_name"], "stages": {stage: {
        "api_gateway_stage": stage, "environment_variables": {k: str(v) for k, v in env.items()},
        "autogen_policy": False, "iam_policy_file": f"policy-{stage}.json",
        "lambda_memory_size": 512, "lambda_timeout": 30,
        # An export step reads a page of samples and may stream the final archive's
        # coco.json: Lambda's full 15 minutes, and room for one page plus one upload part.
        "lambda_functions": {**workers, "on_export_message": {
            **workers["on_export_message"], "lambda_timeout": 900, "lambda_memory_size": 1024}}}}}


def iam_policy(outputs: dict, import_buckets=()) -> dict:
    """Only what the code calls: its tables (and their indexes), its bucket, its queue, its
    functions' logs, and read access to the buckets admins may register images from without
    copying. Every resource is this stage's: no two stages share a grant."""
    tables = outputs["TableArns"].split(",")
    # The API function's log group and its handlers' (`-on_upload`...; stage names have no "_",
    # so no other stage's function matches). keep_logs creates the groups: no CreateLogGroup.
    logs = outputs["FunctionLogGroupArn"]
    bucket = f"arn:aws:s3:::{outputs['DataBucket']}"
    imports = [arn for b in import_buckets for arn in (f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*")]
    return {"Version": "2012-10-17", "Statement": [
        *([{"Effect": "Allow", "Resource": imports, "Action": ["s3:GetObject", "s3:ListBucket"]}]
          if imports else []),
        {"Effect": "Allow", "Resource": tables + [f"{t}/index/*" for t in tables], "Action": [
            "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
            "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]},
        {"Effect": "Allow", "Resource": [bucket, f"{bucket}/*"], "Action": [
            "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
            "s3:AbortMultipartUpload"]},
        {"Effect": "Allow", "Resource": outputs["IngestQueueArn"], "Action": [
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]},
        {"Effect": "Allow", "Resource": outputs["ExportQueueArn"], "Action": [
            "sqs:SendMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage",
            "sqs:GetQueueAttributes"]},
        {"Effect": "Allow", "Resource": outputs["KeysParameterArn"], "Action": ["ssm:GetParameter"]},
        # The import route has the ingest worker decode what is not ingested yet.
        {"Effect": "Allow", "Resource": outputs["IngestFunctionArn"], "Action": ["lambda:InvokeFunction"]},
        {"Effect": "Allow", "Resource": [f"{logs}:*", f"{logs}-on_*:*", f"{logs}-ingest_now:*"], "Action": [
            "logs:CreateLogStream", "logs:PutLogEvents"]},
    ]}


def copy_runtime(build: Path) -> None:
    """The runtime code into `build`, without this machine's byte code (precompile makes the
    package's own), which chalice would otherwise zip along with chalicelib/."""
    build.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME:
        target = build / name
        if target.is_dir():
            shutil.rmtree(target)
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, target)


def render_build(stage: str, outputs: dict, build: Path, import_buckets=(),
                 worker_layer: str | None = None) -> Path:
    """Copy the runtime code into `build` with this stage's config; keeps deployment state."""
    copy_runtime(build)
    chalice_dir = build / ".chalice"
    chalice_dir.mkdir(exist_ok=True)
    (chalice_dir / "config.json").write_text(json.dumps(
        stage_config(stage, outputs, import_buckets, worker_layer), indent=2))
    (chalice_dir / f"policy-{stage}.json").write_text(
        json.dumps(iam_policy(outputs, import_buckets), indent=2))
    return build


# --- AWS steps (rehearsed against moto by tests/deploy/) ------------------------------------

def sign_in_urls(site_url: str | None) -> list[str]:
    """Where the user pool may send people back: both pages (a placeholder before the site exists)."""
    return [f"{site_url}/", f"{site_url}/admin.html"] if site_url else ["https://localhost/"]


def deploy_stack(session, stage: str, app: str, browser_origins=("*",), alarm_email: str = "",
                 user_pool: bool | None = None, site_url: str | None = None) -> dict:
    """user_pool None keeps what the stack has (off for a new one): a deploy that forgets the
    option must not take the sign-in away."""
    cfn = session.client("cloudformation")
    name = f"{app}-{stage}"
    previous = stack_parameters(cfn, name)
    pool = (previous or {}).get("UserPool", "false") if user_pool is None else str(user_pool).lower()
    params = [{"ParameterKey": "Stage", "ParameterValue": stage},
              {"ParameterKey": "AppName", "ParameterValue": app},
              {"ParameterKey": "BrowserOrigins", "ParameterValue": ",".join(browser_origins)},
              {"ParameterKey": "AlarmEmail", "ParameterValue": alarm_email},
              {"ParameterKey": "UserPool", "ParameterValue": pool},
              {"ParameterKey": "SignInUrls", "ParameterValue": ",".join(
                  sign_in_urls(site_url if pool == "true" else None))}]
    exists = previous is not None
    try:
        if exists:
            cfn.update_stack(StackName=name, TemplateBody=TEMPLATE.read_text(), Parameters=params)
            cfn.get_waiter("stack_update_complete").wait(StackName=name)
        else:
            cfn.create_stack(StackName=name, TemplateBody=TEMPLATE.read_text(), Parameters=params)
            cfn.get_waiter("stack_create_complete").wait(StackName=name)
    except cfn.exceptions.ClientError as exc:
        if "No updates are to be performed" not in str(exc):
            raise
    return stack_outputs(cfn, name)


def _stack_values(cfn, name: str, kind: str) -> dict | None:
    """The stack's "Parameters" or "Outputs" as a dict; None when there is no such stack."""
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except cfn.exceptions.ClientError:
        return None
    key = kind.removesuffix("s")  # ParameterKey/ParameterValue, OutputKey/OutputValue
    return {v[f"{key}Key"]: v[f"{key}Value"] for v in stack.get(kind, [])}


def stack_parameters(cfn, name: str) -> dict | None:
    return _stack_values(cfn, name, "Parameters")


def stack_outputs(cfn, name: str) -> dict | None:
    return _stack_values(cfn, name, "Outputs")


def key_set(session, outputs: dict) -> list[str]:
    """The stage's token keys, newest first; the set is created on the first deploy only."""
    ssm, name = session.client("ssm"), outputs["KeysParameter"]
    try:
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        value = signing_keys.dump_key_set([signing_keys.new_key()])
        ssm.put_parameter(Name=name, Value=value, Type="SecureString",
                          Description="Token signing keys, newest first (infra/rotate_keys.py)")
    return signing_keys.parse_key_set(value)


def worker_layer_zip(folder: Path) -> Path:
    """requirements-worker.txt installed for Lambda under python/ (where Lambda looks in a
    layer) and zipped into `folder`; made again only when that file changes."""
    digest = hashlib.sha256(WORKER_REQUIREMENTS.read_bytes()).hexdigest()[:16]
    # Named by its byte code's version too, so a layer zipped without it is not reused.
    archive = folder / f"worker-{digest}-{sys.implementation.cache_tag}.zip"
    if archive.exists():
        return archive
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                        *LAMBDA_WHEELS, "--target", f"{scratch}/python", "-r",
                        str(WORKER_REQUIREMENTS)], check=True)
        partial = archive.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as target:
            for path in sorted(Path(scratch).rglob("*")):
                name = path.relative_to(scratch)
                if path.is_file() and name.parts[1] != "bin":  # not the console scripts
                    target.write(path, name.as_posix())
        precompile(partial)
        partial.replace(archive)
    return archive


def publish_worker_layer(session, app: str, stage: str, archive: Path) -> str:
    """The ARN of the layer version holding `archive`: published once, found again by its
    description (which names the requirements' digest) on later deploys."""
    lam, name = session.client("lambda"), f"{app}-{stage}-worker"
    description = f"{WORKER_REQUIREMENTS.name} {archive.stem}"
    for version in lam.list_layer_versions(LayerName=name).get("LayerVersions", []):
        if version.get("Description") == description:
            return version["LayerVersionArn"]
    return lam.publish_layer_version(LayerName=name, Description=description,
                                     Content={"ZipFile": archive.read_bytes()},
                                     CompatibleRuntimes=[f"python{LAMBDA_PYTHON}"])["LayerVersionArn"]


def chalice(region: str, build: Path, *args: str) -> None:
    # chalice makes its own clients: give it the session's region (endpoint and credentials
    # come from the same environment).
    subprocess.run([str(Path(sys.executable).with_name("chalice")), *args], cwd=build, check=True,
                   env={**os.environ, "AWS_DEFAULT_REGION": region})


def strip_runtime_libraries(archive: Path) -> None:
    """Drop from a zip what Lambda's runtime provides (RUNTIME_PROVIDED, dist-info included)."""
    with zipfile.ZipFile(archive) as source:
        entries = source.infolist()
        kept = [e for e in entries if e.filename.split("/")[0].split("-")[0] not in RUNTIME_PROVIDED]
        if len(kept) == len(entries):
            return
        stripped = archive.with_suffix(".stripping")
        with zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as target:
            for entry in kept:
                target.writestr(entry, source.read(entry))
    stripped.replace(archive)


def require_lambda_python() -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != LAMBDA_PYTHON:
        raise SystemExit(f"Deploy with Python {LAMBDA_PYTHON}, the functions' runtime (this is "
                         f"Python {running}): chalice deploys the deploying Python's version, and "
                         f"the package's byte code is compiled by it.")


def _compiled(source: zipfile.ZipFile, names: set, module: str) -> bool:
    """Whether `module` (a .py in the zip) has an unchecked-hash pyc of its current text."""
    pyc = importlib.util.cache_from_source(module)
    if pyc not in names:
        return False
    header = source.read(pyc)[:16]  # PEP 552: magic, flags (0b01: hash, unchecked), hash
    return header == (importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
                      + importlib.util.source_hash(source.read(module)))


def precompile(archive: Path) -> None:
    """Add to a zip the byte code of every module in it (`__pycache__/*.cpython-311.pyc`).

    Lambda unpacks a package into a read-only folder, so without byte code every cold start
    compiles every module it imports from source, and keeps nothing (bench/coldstart.py times
    both: `import app` about 2.5 times slower). Unchecked-hash pycs: Python uses them without
    comparing the source's mtime, which unzipping does not keep. They cannot go stale: chalice
    names the zip by its sources' hash and never edits it in place, and a pyc that no longer
    matches its source's hash is compiled again here."""
    require_lambda_python()
    with zipfile.ZipFile(archive) as source, tempfile.TemporaryDirectory() as scratch:
        names = set(source.namelist())
        if all(_compiled(source, names, n) for n in names if n.endswith(".py")):
            return
        partial = archive.with_suffix(".compiling")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as target:
            for entry in source.infolist():
                if "__pycache__/" in entry.filename:
                    continue  # made again below, from this package's sources
                data = source.read(entry)  # before writestr, which moves entry's offset
                target.writestr(entry, data)
                if entry.filename.endswith(".py"):
                    pyc = zipfile.ZipInfo(importlib.util.cache_from_source(entry.filename),
                                          entry.date_time)
                    pyc.external_attr = entry.external_attr  # readable as its source is
                    target.writestr(pyc, _bytecode(entry.filename, data, Path(scratch)),
                                    zipfile.ZIP_DEFLATED)
    partial.replace(archive)


def _bytecode(module: str, text: bytes, scratch: Path) -> bytes:
    source, compiled = scratch / "module.py", scratch / "module.pyc"
    source.write_bytes(text)
    py_compile.compile(str(source), str(compiled), dfile=module, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return compiled.read_bytes()


def package(region: str, build: Path, stage: str) -> None:
    """`chalice package`, then its zip made ready for `chalice deploy` to upload.

    chalice keeps the zip of the code and its dependencies in .chalice/deployments/, named by a
    hash of requirements.txt and the app's files, and reuses it; `chalice package` makes it
    first, so it can be stripped of botocore (which pynamodb brings along: 16 MB of a 49 MB
    zip, against Lambda's 50 MB upload limit) and given byte code before it is uploaded."""
    with tempfile.TemporaryDirectory() as scratch:
        chalice(region, build, "package", "--stage", stage, scratch)
    for archive in (build / ".chalice" / "deployments").glob("*.zip"):
        strip_runtime_libraries(archive)
        precompile(archive)


def chalice_deploy(session, build: Path, stage: str) -> list[dict]:
    """chalice's record of what it deployed (resource_type, and lambda_arn, rest_api_url...)."""
    package(session.region_name, build, stage)
    chalice(session.region_name, build, "deploy", "--stage", stage)
    deployed = json.loads((build / ".chalice" / "deployed" / f"{stage}.json").read_text())
    return deployed["resources"]


def keep_logs(session, function_names, days: int) -> None:
    """Lambda keeps logs for ever unless told. (chalice's log_retention_in_days names the API
    function's group after its handler, `<app>-<stage>-api_handler`, not after the function.)"""
    logs = session.client("logs")
    for name in function_names:
        group = f"/aws/lambda/{name}"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)


def count_rate_limited(session, function_name: str, namespace: str) -> None:
    """A metric of the API's own 429 answers (`rate_limited`: its access lines' status), for the
    template's alarm. The stage's throttling answers before the function: that is 4XXError."""
    session.client("logs").put_metric_filter(
        logGroupName=f"/aws/lambda/{function_name}", filterName="rate-limited",
        filterPattern="{ $.status = 429 }", metricTransformations=[{
            "metricName": RATE_LIMITED_METRIC, "metricNamespace": namespace, "metricValue": "1"}])


def throttle_api(session, rest_api_id: str, stage: str, rate: float, burst: int) -> None:
    """Every route of the stage: `rate` requests per second, bursts of `burst`; beyond, 429."""
    session.client("apigateway").update_stage(restApiId=rest_api_id, stageName=stage, patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)}])


def answer_in_envelope(session, rest_api_id: str, stage: str) -> None:
    """API Gateway's own answers (unknown route, throttled) in the error envelope; a new
    deployment of the stage makes them live."""
    apigateway = session.client("apigateway")
    gateway_responses.put_on(apigateway, rest_api_id)
    apigateway.create_deployment(restApiId=rest_api_id, stageName=stage,
                                 description="gateway responses")


def content_type(name: str) -> str:
    suffix = Path(name).suffix
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def publish_site(session, bucket: str, distribution_id: str, api_url: str) -> None:
    if not (SITE / "index.html").exists():
        sys.exit(f"{SITE} has no index.html: build the site first (`make frontend`).")
    s3 = session.client("s3")
    for path in sorted(SITE.rglob("*")):
        key = path.relative_to(SITE).as_posix()
        # config.json there is the local stack's (devstack writes it): never publish it.
        if path.is_file() and key != "config.json":
            s3.upload_file(str(path), bucket, key, ExtraArgs={
                "ContentType": content_type(key),
                "CacheControl": IMMUTABLE if key.startswith("assets/") else REVALIDATE})
    s3.put_object(Bucket=bucket, Key="config.json", Body=json.dumps({"apiUrl": api_url}).encode(),
                  ContentType=content_type("config.json"), CacheControl=REVALIDATE)
    cdn.invalidate(session, distribution_id)


def main(argv=None) -> None:
    import boto3

    from chalicelib.auth import mint_token

    parser = argparse.ArgumentParser(description="Deploy one stage of the cloud annotator to AWS.")
    parser.add_argument("stage", choices=["dev", "prod"])
    parser.add_argument("--app", default="cloud-annotator")
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS config)")
    parser.add_argument("--skip-site", action="store_true", help="deploy the API only")
    parser.add_argument("--import-bucket", action="append", default=[], metavar="BUCKET",
                        help="a bucket whose images may be registered without copying (repeatable)")
    parser.add_argument("--browser-origin", action="append", default=[], metavar="ORIGIN",
                        help="an origin whose pages may use presigned data URLs (repeatable; "
                             "default every origin), e.g. the site, https://imjoy.io")
    parser.add_argument("--rate-limit", type=float, default=50,
                        help="API requests per second for the whole stage (default 50)")
    parser.add_argument("--burst-limit", type=int, default=100,
                        help="API requests allowed in a burst (default 100)")
    parser.add_argument("--alarm-email", default="",
                        help="send the stage's alarms (5xx, throttles, failed ingests) here")
    parser.add_argument("--user-pool", choices=["on", "off"], default=None,
                        help="a Cognito user pool as the pages' sign-in (default: as the stage "
                             "has it; off for a new stage)")
    parser.add_argument("--build-dir", type=Path, default=None,
                        help="chalice's project folder and deployment state "
                             "(default infra/.build/STAGE)")
    args = parser.parse_args(argv)
    require_lambda_python()  # before anything is made
    session = boto3.Session(region_name=args.region)
    known_site = cdn.site_url(session, args.app, args.stage)  # None before the first deploy

    def stack(site_url):
        return deploy_stack(session, args.stage, args.app, args.browser_origin or ("*",),
                            args.alarm_email, None if args.user_pool is None else args.user_pool == "on",
                            site_url)
    outputs = stack(known_site)
    keys = key_set(session, outputs)
    site = cdn.ensure_site(session, args.app, args.stage, outputs["SiteBucket"])
    if "SignInClientId" in outputs and site["SiteUrl"] != known_site:
        outputs = stack(site["SiteUrl"])  # the site is new: the user pool may now send people to it
    build = args.build_dir or ROOT / "infra" / ".build" / args.stage
    layer = publish_worker_layer(session, args.app, args.stage, worker_layer_zip(build / "layers"))
    build = render_build(args.stage, outputs, build, args.import_bucket, layer)
    deployed = chalice_deploy(session, build, args.stage)
    api = next(r for r in deployed if r["resource_type"] == "rest_api")
    answer_in_envelope(session, api["rest_api_id"], args.stage)
    throttle_api(session, api["rest_api_id"], args.stage, args.rate_limit, args.burst_limit)
    keep_logs(session, [r["lambda_arn"].rpartition(":")[2] for r in deployed
                        if r["resource_type"] == "lambda_function"], LOG_DAYS)
    count_rate_limited(session, f"{args.app}-{args.stage}", f"{args.app}/{args.stage}")
    api_url = api["rest_api_url"].rstrip("/")
    if not args.skip_site:
        publish_site(session, outputs["SiteBucket"], site["DistributionId"], api_url)
    admin = mint_token("admin", roles=["admin"], ttl_seconds=30 * 24 * 3600, secret=keys[0])
    print(f"\nAPI   {api_url}\nSite  {site['SiteUrl']}/\nAdmin token (30 days): {admin}")


if __name__ == "__main__":
    main()
