"""Deploy one stage to AWS in one command: `make deploy STAGE=dev` (or `python infra/deploy.py dev`).

1. CloudFormation stack from infra/template.yaml: tables, buckets, ingest queue, site CDN.
2. The JWT secret: an SSM SecureString, created once per stage, never in the repository.
3. `chalice deploy` of the API (and the ingest consumer) from a build folder whose
   .chalice/config.json carries this stage's names and a least-privilege IAM policy.
   The build folder (infra/.build/<stage>, git-ignored) keeps chalice's deployment state.
4. The annotator site: built with Vite, uploaded with a config.json naming the API.

Needs AWS credentials in the environment (any of the usual ways boto3 finds them).
"""
import argparse
import json
import mimetypes
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
RUNTIME = ["app.py", "chalicelib", "requirements.txt"]


def stage_config(stage: str, outputs: dict, jwt_secret: str, import_buckets=()) -> dict:
    """The .chalice/config.json the Lambda is deployed with. Every value a string."""
    base = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = {**base.get("environment_variables", {}),
           **base["stages"].get(stage, {}).get("environment_variables", {}),
           "TABLE_PREFIX": outputs["TablePrefix"], "DATA_BUCKET": outputs["DataBucket"],
           "INGEST_QUEUE": outputs["IngestQueue"], "EXPORT_QUEUE": outputs["ExportQueue"],
           "JWT_SECRET": jwt_secret,
           "IMPORT_BUCKETS": ",".join(import_buckets)}
    return {"version": "2.0", "app_name": base["app_name"], "stages": {stage: {
        "api_gateway_stage": stage, "environment_variables": {k: str(v) for k, v in env.items()},
        "autogen_policy": False, "iam_policy_file": f"policy-{stage}.json",
        "lambda_memory_size": 512, "lambda_timeout": 30,
        # An export step reads a page of samples and may stream the final archive's
        # coco.json: Lambda's full 15 minutes, and room for one page plus one upload part.
        "lambda_functions": {"on_export_message": {"lambda_timeout": 900,
                                                   "lambda_memory_size": 1024}}}}}


def iam_policy(outputs: dict, import_buckets=()) -> dict:
    """Only what the code calls: its tables (and their indexes), its bucket, its queue, logs,
    and read access to the buckets admins may register images from without copying."""
    tables = outputs["TableArns"].split(",")
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
        {"Effect": "Allow", "Resource": "arn:aws:logs:*:*:*", "Action": [
            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]},
    ]}


def render_build(stage: str, outputs: dict, jwt_secret: str, build: Path,
                 import_buckets=()) -> Path:
    """Copy the runtime code into `build` with this stage's config; keeps deployment state."""
    build.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME:
        target = build / name
        if target.is_dir():
            shutil.rmtree(target)
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, target)
    chalice_dir = build / ".chalice"
    chalice_dir.mkdir(exist_ok=True)
    (chalice_dir / "config.json").write_text(json.dumps(
        stage_config(stage, outputs, jwt_secret, import_buckets), indent=2))
    (chalice_dir / f"policy-{stage}.json").write_text(
        json.dumps(iam_policy(outputs, import_buckets), indent=2))
    return build


# --- AWS steps (not run by the test suite: there is no AWS account there) ----------------

def deploy_stack(session, stage: str, app: str, browser_origins=("*",)) -> dict:
    cfn = session.client("cloudformation")
    name = f"{app}-{stage}"
    params = [{"ParameterKey": "Stage", "ParameterValue": stage},
              {"ParameterKey": "AppName", "ParameterValue": app},
              {"ParameterKey": "BrowserOrigins", "ParameterValue": ",".join(browser_origins)}]
    try:
        cfn.describe_stacks(StackName=name)
        exists = True
    except cfn.exceptions.ClientError:
        exists = False
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
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def jwt_secret(session, stage: str, app: str) -> str:
    ssm, name = session.client("ssm"), f"/{app}/{stage}/jwt-secret"
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        value = secrets.token_urlsafe(48)
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
        return value


def chalice_deploy(build: Path, stage: str) -> str:
    subprocess.run([sys.executable, "-m", "chalice", "deploy", "--stage", stage], cwd=build, check=True)
    deployed = json.loads((build / ".chalice" / "deployed" / f"{stage}.json").read_text())
    return next(r["rest_api_url"] for r in deployed["resources"] if "rest_api_url" in r).rstrip("/")


def publish_site(session, outputs: dict, api_url: str) -> None:
    frontend = ROOT / "frontend"
    subprocess.run("npm ci && npm run build", shell=True, cwd=frontend, check=True)
    dist = frontend / "dist"
    (dist / "config.json").write_text(json.dumps({"apiUrl": api_url}))
    s3 = session.client("s3")
    for path in dist.rglob("*"):
        if path.is_file():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            s3.upload_file(str(path), outputs["SiteBucket"], path.relative_to(dist).as_posix(),
                           ExtraArgs={"ContentType": kind})
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["DistributionId"], InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": secrets.token_hex(8)})


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
    args = parser.parse_args(argv)
    session = boto3.Session(region_name=args.region)
    outputs = deploy_stack(session, args.stage, args.app, args.browser_origin or ("*",))
    secret = jwt_secret(session, args.stage, args.app)
    build = render_build(args.stage, outputs, secret, ROOT / "infra" / ".build" / args.stage,
                         args.import_bucket)
    api_url = chalice_deploy(build, args.stage)
    if not args.skip_site:
        publish_site(session, outputs, api_url)
    admin = mint_token("admin", roles=["admin"], ttl_seconds=30 * 24 * 3600, secret=secret)
    print(f"\nAPI   {api_url}\nSite  {outputs['SiteUrl']}/\nAdmin token (30 days): {admin}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
