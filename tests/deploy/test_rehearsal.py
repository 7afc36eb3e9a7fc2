"""`make deploy` rehearsed end to end against emulated AWS, with no AWS account.

One moto server (tests/deploy/emulator.py, which names the three moto gaps it fills) plays
CloudFormation, DynamoDB, S3, SQS, SSM, IAM, STS, Lambda, API Gateway and CloudFront. The real
infra/deploy.py runs against it twice, as `make deploy STAGE=dev` runs it (chalice packages
Linux wheels from PyPI); the package it deployed is then run outside this repository's
environment; infra/destroy.py removes the stage last (the tests run in file order).

What moto does not build, checked by reading infra/template.yaml instead:
- its CloudFormation applies only BucketEncryption of an AWS::S3::Bucket: versioning, lifecycle,
  CORS, the public access block and the upload notification exist only in the template;
- it has no AWS::SQS::QueuePolicy (S3's right to notify the ingest queue);
- it has no AWS::CloudWatch::Alarm, and no AWS::Cognito::* at all: the optional user pool
  (`--user-pool on`, off by default) cannot be created here, so the rehearsal deploys without it
  and checks the pool, its app client and their wiring into the stage's environment by reading;
- it never runs a function (its Lambda needs Docker): tests/deploy/lambda_runtime.py does.
"""
import base64
import hashlib
import http.server
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import boto3
import numpy as np
import pytest
import yaml
from PIL import Image

from chalicelib import models, signing_keys
from chalicelib.auth import mint_token
from devstack.processes import free_ports, spawn, stop_group, wait_http
from infra import cdn, deploy
from tests.oidc_provider import AUDIENCE, Provider

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
APP, STAGE = "cloud-annotator", "dev"
STACK = f"{APP}-{STAGE}"
REGION = "us-east-1"
# What the app reads from its environment: none of the test session's values may leak into
# the deploy (tests/unit/conftest.py sets some for the whole session).
# What Lambda's Python runtime provides besides the standard library.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py",
                           "urllib3")
APP_SETTINGS = ("TABLE_PREFIX", "DATA_BUCKET", "INGEST_QUEUE", "IMPORT_BUCKETS", "PRESIGN_SECONDS",
                "S3_PUBLIC_ENDPOINT_URL", "S3_ADDRESSING_STYLE")


class CfnLoader(yaml.SafeLoader):
    """Reads the template with every intrinsic kept as its plain value, `!Ref X` as "${X}"."""


CfnLoader.add_multi_constructor("!", lambda loader, tag, node: (
    f"${{{node.value}}}" if tag == "Ref" else
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else
    loader.construct_mapping(node)))


@dataclass
class Rehearsal:
    endpoint: str
    env: dict
    build: Path
    outputs: dict
    runs: list          # CompletedProcess of each deploy
    before_second: dict  # inventory after the first deploy

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")

    def keys(self):
        value = self.client("ssm").get_parameter(Name=self.outputs["KeysParameter"],
                                                 WithDecryption=True)["Parameter"]["Value"]
        return signing_keys.parse_key_set(value)

    def admin_token(self):
        return re.search(r"Admin token \(30 days\): (\S+)", self.runs[-1].stdout).group(1)

    def run(self, script, *args, check=True):
        result = subprocess.run([sys.executable, f"infra/{script}", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True)
        if check:
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
        return result


def inventory(r: Rehearsal) -> dict:
    """Every resource the deploy made, by identity: a no-op redeploy leaves it equal."""
    lam, iam, cf = r.client("lambda"), r.client("iam"), r.client("cloudfront")
    return {
        "stack": sorted((s["LogicalResourceId"], s["PhysicalResourceId"]) for s in r.client(
            "cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]),
        "functions": sorted(f["FunctionArn"] for f in lam.list_functions()["Functions"]),
        "roles": sorted(x["Arn"] for x in iam.list_roles()["Roles"]),
        "mappings": sorted(m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]),
        "apis": sorted(a["id"] for a in r.client("apigateway").get_rest_apis()["items"]),
        "distributions": sorted(d["Id"] for d in cf.list_distributions()["DistributionList"].get("Items", [])),
        "access_controls": sorted(
            o["Id"] for o in cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", [])),
        "parameters": sorted((p["Name"], p["Version"]) for p in r.client("ssm").describe_parameters()["Parameters"]),
        "tables": sorted(r.client("dynamodb").list_tables()["TableNames"]),
        "buckets": sorted(b["Name"] for b in r.client("s3").list_buckets()["Buckets"]),
        "queues": sorted(r.client("sqs").list_queues().get("QueueUrls", [])),
        "layers": layer_versions(r),
    }


def layer_versions(r: Rehearsal) -> list[str]:
    lam = r.client("lambda")
    return sorted(v["LayerVersionArn"] for layer in lam.list_layers()["Layers"]
                  for v in lam.list_layer_versions(LayerName=layer["LayerName"])["LayerVersions"])


class reuse_packages:
    """chalice names the zip of a project's dependencies by a hash of requirements.txt and
    reuses it when the name matches; keeping those zips between runs saves the pip downloads
    (about a minute here) until requirements.txt changes."""

    def __init__(self, cache: Path, build: Path):
        # chalice's packages, and the worker layer (named by requirements-worker.txt's digest).
        self.pairs = [(cache, build / ".chalice" / "deployments"), (cache / "layers", build / "layers")]
        for kept, folder in self.pairs:
            kept.mkdir(exist_ok=True)
            shutil.copytree(kept, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("layers"))

    def save(self):
        """Keep only the packages the deploy just used (chalice rewrites its with the latest app)."""
        for kept, folder in self.pairs:
            packages = sorted(folder.glob("*.zip"), key=lambda p: p.stat().st_mtime)
            for stale in [*kept.glob("*.zip"), *packages[:-1]]:
                stale.unlink()
            shutil.copy2(packages[-1], kept)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("rehearsal")
    port, = free_ports(1)
    endpoint = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "JWT_")) and k not in APP_SETTINGS}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="rehearsal",
               AWS_SECRET_ACCESS_KEY="rehearsal", AWS_DEFAULT_REGION=REGION,
               PYTHONUNBUFFERED="1")
    moto = spawn("emulator", [sys.executable, "-m", "tests.deploy.emulator", "--port", str(port),
                              "--region", REGION], env, ROOT, root / "logs")
    try:
        wait_http(f"{endpoint}/_devstack/health", moto, timeout=120)
        r = Rehearsal(endpoint, env, root / "build", {}, [], {})
        cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
        packages = reuse_packages(cache.mkdir("deploy-packages") if cache else root / "packages",
                                  r.build)
        r.runs.append(r.run("deploy.py", STAGE, "--build-dir", str(r.build)))
        packages.save()
        r.outputs = {o["OutputKey"]: o["OutputValue"] for o in r.client("cloudformation")
                     .describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
        r.before_second = inventory(r)
        r.runs.append(r.run("deploy.py", STAGE, "--build-dir", str(r.build)))
        yield r
    finally:
        stop_group(moto, 10)


# --- what the deploy created ----------------------------------------------------------------

def test_tables_have_the_models_keys_and_indexes(rehearsal):
    dynamodb = rehearsal.client("dynamodb")
    for model in models.ALL_MODELS:
        name = rehearsal.outputs["TablePrefix"] + model.Meta.table_name.removeprefix(
            models.config.TABLE_PREFIX)
        table = dynamodb.describe_table(TableName=name)["Table"]
        schema = model._get_schema()
        assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == \
            {(k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]}
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {i["IndexName"]: {(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]}
                for i in table.get("GlobalSecondaryIndexes", [])} == \
            {i["index_name"]: {(k["AttributeName"], k["KeyType"]) for k in i["key_schema"]}
             for i in schema["global_secondary_indexes"]}


def test_data_bucket_settings(rehearsal):
    bucket = rehearsal.outputs["DataBucket"]
    assert bucket == f"{STACK}-data-123456789012"
    rule = rehearsal.client("s3").get_bucket_encryption(Bucket=bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # The rest moto's CloudFormation does not apply: read from the template.
    resources = yaml.load(deploy.TEMPLATE.read_text(), Loader=CfnLoader)["Resources"]
    props = resources["DataBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    cors, = props["CorsConfiguration"]["CorsRules"]
    assert set(cors["AllowedMethods"]) == {"GET", "HEAD", "PUT"} and "ETag" in cors["ExposedHeaders"]
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-exports"]["Prefix"] == "exports/" and rules["expire-exports"]["ExpirationInDays"] == 7
    lifecycle = rules["expire-old-versions"]
    assert lifecycle["Status"] == "Enabled" and lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 2
    notification, = props["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    assert resources["IngestQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0][
        "Principal"] == {"Service": "s3.amazonaws.com"}
    retained = {name for name, r in resources.items() if r.get("DeletionPolicy") == "Retain"}
    assert retained == {"TasksTable", "SamplesTable", "MembersTable", "VersionsTable",
                        "InvitesTable", "DataBucket", "SignInUserPool"}


def test_key_set_is_made_once_and_kept_out_of_every_file_and_the_environment(rehearsal):
    parameter = rehearsal.client("ssm").get_parameter(Name=rehearsal.outputs["KeysParameter"])["Parameter"]
    assert parameter["Type"] == "SecureString" and parameter["Version"] == 1  # two deploys, one set
    keys = rehearsal.keys()
    assert len(keys) == 1 and len(keys[0]) >= 48
    for function in rehearsal.client("lambda").list_functions()["Functions"]:
        env = function["Environment"]["Variables"]
        assert env["JWT_SECRET_PARAMETER"] == f"/{APP}/{STAGE}/jwt-keys" and "JWT_SECRET" not in env
        assert not any(keys[0] in v for v in env.values())
    written = [p for p in rehearsal.build.rglob("*") if p.is_file()]
    assert len(written) > 20
    leaked = [p for p in written if keys[0].encode() in p.read_bytes()]
    assert not leaked
    # Nor in what the deploy prints (it prints a token signed with the key, not the key).
    assert all(keys[0] not in run.stdout + run.stderr for run in rehearsal.runs)


def test_functions_roles_and_policy_name_only_this_stage(rehearsal):
    lam, iam, out = rehearsal.client("lambda"), rehearsal.client("iam"), rehearsal.outputs
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert {n: (f["Handler"], f["Runtime"]) for n, f in functions.items()} == {
        STACK: ("app.app", "python3.11"), f"{STACK}-on_upload": ("chalicelib.routes.admin.on_upload", "python3.11"),
        f"{STACK}-ingest_now": ("chalicelib.routes.admin.ingest_now", "python3.11"),
        f"{STACK}-on_export_message": ("chalicelib.routes.export.on_export_message", "python3.11")}
    # An export step holds a page of samples and an 8 MiB part, for up to 15 minutes.
    assert {n: f["MemorySize"] for n, f in functions.items()} == {
        STACK: 512, f"{STACK}-on_upload": 512, f"{STACK}-ingest_now": 512,
        f"{STACK}-on_export_message": 1024}
    expected = deploy.iam_policy(out)
    tables = out["TableArns"].split(",")
    stage_resources = {*tables, *(f"{t}/index/*" for t in tables),
                       f"arn:aws:s3:::{out['DataBucket']}", f"arn:aws:s3:::{out['DataBucket']}/*",
                       out["IngestQueueArn"], out["ExportQueueArn"], out["KeysParameterArn"],
                       out["IngestFunctionArn"],
                       f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/lambda/{STACK}:*",
                       f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/lambda/{STACK}-on_*:*",
                       f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/lambda/{STACK}-ingest_now:*"}
    for function in functions.values():
        role = function["Role"].rpartition("/")[2]
        assert role.startswith(f"{STACK}-")  # its own role (chalice: <app>-<stage>-<function>)
        policies = iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert len(policies) == 1
        document = iam.get_role_policy(RoleName=role, PolicyName=policies[0])["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == expected
        named = {res for s in document["Statement"]
                 for res in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
        assert named == stage_resources
        assert all(STACK in res or f"/{APP}/{STAGE}/" in res for res in named)  # no other stage's
    # numpy and Pillow (the worker layer) only where images are decoded or rendered.
    layer, = layer_versions(rehearsal)
    assert {n: [x["Arn"] for x in f.get("Layers", [])] for n, f in functions.items()} == {
        STACK: [], f"{STACK}-on_upload": [layer], f"{STACK}-ingest_now": [layer],
        f"{STACK}-on_export_message": [layer]}
    assert f"{STACK}-ingest_now" == functions[STACK]["Environment"]["Variables"]["INGEST_FUNCTION"]
    assert out["IngestFunctionArn"] == functions[f"{STACK}-ingest_now"]["FunctionArn"]
    mappings = {m["EventSourceArn"]: m["FunctionArn"]
                for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    assert mappings == {out["IngestQueueArn"]: functions[f"{STACK}-on_upload"]["FunctionArn"],
                        out["ExportQueueArn"]: functions[f"{STACK}-on_export_message"]["FunctionArn"]}


def test_rest_api_routes_reach_the_function(rehearsal):
    apigw = rehearsal.client("apigateway")
    api, = apigw.get_rest_apis()["items"]
    assert api["name"] == APP
    assert f"https://{api['id']}.execute-api.{REGION}.amazonaws.com/{STAGE}" in rehearsal.runs[-1].stdout
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"], limit=500)["items"]}
    claim = resources["/tasks/{task_id}/claim"]
    integration = apigw.get_integration(restApiId=api["id"], resourceId=claim["id"], httpMethod="POST")
    assert integration["type"].upper() == "AWS_PROXY"
    assert f"function:{STACK}/invocations" in integration["uri"]
    assert {"/health", "/tasks", "/tasks/{task_id}/samples/{sample_id}/submit",
            "/tasks/{task_id}/progress", "/tasks/{task_id}/uploads"} <= set(resources)
    settings = apigw.get_stage(restApiId=api["id"], stageName=STAGE)["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (50, 100)
    # What API Gateway answers itself (an unknown route, say) is in the error envelope.
    unknown = apigw.get_gateway_response(restApiId=api["id"], responseType="MISSING_AUTHENTICATION_TOKEN")
    body = json.loads(unknown["responseTemplates"]["application/json"])
    assert unknown["statusCode"] == "404" and body["error"]["code"] == "no_such_route"


def test_logs_are_kept_a_month_and_alarms_watch_what_was_deployed(rehearsal):
    logs = rehearsal.client("logs")
    for function in (STACK, f"{STACK}-on_upload"):
        group, = [g for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
                  if g["logGroupName"] == f"/aws/lambda/{function}"]
        assert group["retentionInDays"] == 30
    topic = f"arn:aws:sns:{REGION}:123456789012:{STACK}-alarms"
    assert topic in [t["TopicArn"] for t in rehearsal.client("sns").list_topics()["Topics"]]
    # moto's CloudFormation has no AWS::CloudWatch::Alarm: the template's alarms must name what
    # chalice and the stack actually deployed.
    resources = yaml.load(deploy.TEMPLATE.read_text(), Loader=CfnLoader)["Resources"]
    alarms = {r["Properties"]["MetricName"]: {d["Name"]: d["Value"].replace("${AppName}", APP)
                                              .replace("${Stage}", STAGE) if isinstance(d["Value"], str) else d["Value"]
                                              for d in r["Properties"].get("Dimensions", [])}
              for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"}
    api, = rehearsal.client("apigateway").get_rest_apis()["items"]
    assert alarms["5XXError"] == alarms["4XXError"] == {"ApiName": api["name"], "Stage": STAGE}
    # The API's own 429s: a metric filter on its log group feeds the alarm's metric.
    rate_limited, = [r["Properties"] for r in resources.values()
                     if r["Properties"].get("MetricName") == deploy.RATE_LIMITED_METRIC]
    # moto keeps each put of a filter (AWS replaces one of the same name): two deploys, two
    # copies; they must be one filter.
    filters = logs.describe_metric_filters(logGroupName=f"/aws/lambda/{STACK}")["metricFilters"]
    metric_filter, = {json.dumps(f, sort_keys=True) for f in filters}
    metric_filter = json.loads(metric_filter)
    assert metric_filter["filterName"] == "rate-limited"
    transformation, = metric_filter["metricTransformations"]
    assert metric_filter["filterPattern"] == "{ $.status = 429 }"
    assert (transformation["metricNamespace"], transformation["metricName"]) == (
        rate_limited["Namespace"].replace("${AppName}", APP).replace("${Stage}", STAGE), "RateLimited")
    rehearsal.client("lambda").get_function(FunctionName=alarms["Throttles"]["FunctionName"])
    assert alarms["ApproximateNumberOfMessagesVisible"] == {"QueueName": "IngestDeadLetters.QueueName"}


def test_user_pool_is_off_by_default_and_read_from_the_template(rehearsal):
    """moto has no Cognito: the pool is checked by reading the template (see the docstring)."""
    stack, = rehearsal.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["UserPool"] == "false"
    assert "SignInIssuer" not in rehearsal.outputs
    for function in rehearsal.client("lambda").list_functions()["Functions"]:
        assert not any(k.startswith("OIDC_") for k in function["Environment"]["Variables"])
    template = yaml.load(deploy.TEMPLATE.read_text(), Loader=CfnLoader)
    resources = template["Resources"]
    cognito = {name: r for name, r in resources.items() if r["Type"].startswith("AWS::Cognito::")}
    assert {r["Type"] for r in cognito.values()} == {
        "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolDomain",
        "AWS::Cognito::UserPoolGroup"}
    assert all(r["Condition"] == "CreateUserPool" for r in cognito.values())
    assert template["Parameters"]["UserPool"]["Default"] == "false"
    client = resources["SignInClient"]["Properties"]
    # A public client for the pages' code flow with PKCE: no secret, no implicit flow.
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlows"] == ["code"]
    assert {"openid", "email"} <= set(client["AllowedOAuthScopes"])
    assert client["CallbackURLs"] == client["LogoutURLs"] == "${SignInUrls}"
    assert resources["SignInAdmins"]["Properties"]["GroupName"] == deploy.USER_POOL_SIGN_IN["OIDC_ADMIN_GROUPS"]
    assert resources["SignInUserPool"]["DeletionPolicy"] == "Retain"  # accounts are data
    outputs = template["Outputs"]
    assert outputs["SignInIssuer"]["Condition"] == outputs["SignInClientId"]["Condition"] == "CreateUserPool"
    assert outputs["SignInIssuer"]["Value"] == \
        "https://cognito-idp.${AWS::Region}.amazonaws.com/${SignInUserPool}"


def test_site_is_uploaded_with_types_and_cache_headers_behind_its_distribution(rehearsal):
    s3, bucket = rehearsal.client("s3"), rehearsal.outputs["SiteBucket"]
    built = {p.relative_to(deploy.SITE).as_posix() for p in deploy.SITE.rglob("*") if p.is_file()}
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert stored == built | {"config.json"}
    for key in stored:
        head = s3.head_object(Bucket=bucket, Key=key)
        kind = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                ".json": "application/json"}[Path(key).suffix]
        assert head["ContentType"].startswith(kind), key
        assert head["CacheControl"] == (deploy.IMMUTABLE if key.startswith("assets/") else "no-cache"), key
    api_url = re.search(r"^API\s+(\S+)$", rehearsal.runs[-1].stdout, re.M).group(1)
    assert json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read()) == {"apiUrl": api_url}

    cf = rehearsal.client("cloudfront")
    summary, = cf.list_distributions()["DistributionList"]["Items"]
    assert summary["Comment"] == cdn.site_name(APP, STAGE)
    assert f"Site  https://{summary['DomainName']}/" in rehearsal.runs[-1].stdout
    config = cf.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
    origin, = config["Origins"]["Items"]
    assert origin["DomainName"] == f"{bucket}.s3.{REGION}.amazonaws.com"
    access, = cf.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert (access["Name"], access["SigningBehavior"]) == (cdn.site_name(APP, STAGE), "always")
    # moto keeps no origin's OriginAccessControlId: check what infra/cdn.py sends instead.
    sent, = cdn.distribution_config("n", origin["DomainName"], access["Id"])["Origins"]["Items"]
    assert sent["OriginAccessControlId"] == access["Id"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    statement, = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"] == summary["ARN"]
    assert statement["Resource"] == f"arn:aws:s3:::{bucket}/*"
    # One invalidation per deploy, so browsers see each new config.json and page.
    assert cf.list_invalidations(DistributionId=summary["Id"])["InvalidationList"]["Quantity"] == 2


def test_second_deploy_changes_nothing(rehearsal):
    assert inventory(rehearsal) == rehearsal.before_second
    second = rehearsal.runs[1].stdout
    assert not re.search(r"Creating (IAM role|lambda function|Rest API)", second), second
    assert "Updating lambda function" in second


# --- the deployed package, run as Lambda runs it ----------------------------------------------

class Function:
    """One function's container: lambda_runtime.py in a venv holding only boto3 and botocore."""

    def __init__(self, python, package, env, handler, layers=()):
        self.handler, self.logs = handler, []
        self.proc = subprocess.Popen([str(python), "-I", str(Path(__file__).with_name("lambda_runtime.py")),
                                      str(package), *map(str, layers)], cwd=package, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def invoke(self, event):
        self.proc.stdin.write(json.dumps({"handler": self.handler, "event": event}) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert "error" not in answer, answer["error"]
        self.logs.extend(answer["logs"])
        return answer["result"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def proxy_event(method, resource, params=None, body=None, token=None):
    """An API Gateway (REST, Lambda proxy) event, as the deployed API sends it."""
    path = resource.format(**(params or {}))
    headers = {"host": "api.example", "content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": params, "stageVariables": None,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "stage": STAGE,
                               "path": f"/{STAGE}{path}", "requestId": str(uuid.uuid4()),
                               "identity": {"sourceIp": "203.0.113.7"}},
            "body": None if body is None else json.dumps(body), "isBase64Encoded": False}


@pytest.fixture(scope="module")
def runtime(rehearsal, tmp_path_factory):
    """The zip chalice deployed, unpacked next to a fresh venv that has only boto3."""
    root = tmp_path_factory.mktemp("runtime")
    lam = rehearsal.client("lambda")
    deployed = lam.get_function_configuration(FunctionName=STACK)["CodeSha256"]
    # The zip chalice built, and moto's Lambda holds (a cached older one may lie beside it).
    package_zip, = [z for z in (rehearsal.build / ".chalice" / "deployments").glob("*.zip")
                    if base64.b64encode(hashlib.sha256(z.read_bytes()).digest()).decode() == deployed]
    # The API's package: under 15 MB zipped (cold start), without the runtime's botocore and
    # without numpy and Pillow, which only the worker functions get (their layer).
    assert package_zip.stat().st_size < 15 * 1024 ** 2
    with zipfile.ZipFile(package_zip) as archive:
        tops = {n.split("/")[0] for n in archive.namelist()}
        assert not [n for n in tops if n.startswith(("botocore", "boto3", "numpy", "PIL", "pillow"))]
        assert {"app.py", "chalicelib", "pydantic", "pynamodb"} <= tops
        assert len([n for n in archive.namelist() if n.endswith(".py")]) > 300
        missing = without_bytecode(archive)
        assert not missing, f"{len(missing)} modules without byte code: {missing[:5]}"
        archive.extractall(root / "task")
    # A venv with nothing installed, which sees only what Lambda's runtime adds to Python:
    # boto3 and its dependencies (linked from this venv, through a .pth file).
    venv, libs = root / "venv", root / "runtime-libs"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site, = venv.glob("lib/python*/site-packages")
    assert not any(site.iterdir())
    libs.mkdir()
    ours = Path(boto3.__file__).parents[1]
    for name in LAMBDA_RUNTIME_PACKAGES:
        (libs / name).symlink_to(ours / name)
    (site / "lambda-runtime.pth").write_text(f"{libs}\n")
    python = venv / "bin" / "python"
    runtime = Runtime(python, root / "task", rehearsal, root)
    yield runtime
    for container in runtime.containers:
        container.close()


def without_bytecode(archive: zipfile.ZipFile) -> list[str]:
    """The modules in a zip without unchecked-hash byte code of their text for the runtime's
    Python (valid whatever mtimes unzipping gives). Lambda's /var/task and /opt are read-only:
    such a module is compiled from source at every cold start."""
    names = set(archive.namelist())
    tag = "cpython-" + deploy.LAMBDA_PYTHON.replace(".", "")
    missing = []
    for module in sorted(n for n in names if n.endswith(".py")):
        folder, _, name = module.rpartition("/")
        pyc = f"{folder}/__pycache__/{name[:-3]}.{tag}.pyc".lstrip("/")
        header = (importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")  # PEP 552: flags 0b01
                  + importlib.util.source_hash(archive.read(module)))
        if pyc not in names or archive.read(pyc)[:16] != header:
            missing.append(module)
    return missing


@dataclass
class Runtime:
    python: Path
    package: Path
    rehearsal: Rehearsal
    root: Path
    containers: list = field(default_factory=list)

    def layer(self, arn: str) -> Path:
        """A layer the function names, unpacked (Lambda's /opt): the zip the deploy built
        whose digest moto's Lambda holds for that version."""
        unpacked = self.root / "opt" / hashlib.sha256(arn.encode()).hexdigest()[:12]
        if not unpacked.exists():
            name, version = arn.split(":")[6:8]  # (moto has no GetLayerVersionByArn)
            held = self.rehearsal.client("lambda").get_layer_version(
                LayerName=name, VersionNumber=int(version))["Content"]["CodeSha256"]
            archive, = [z for z in (self.rehearsal.build / "layers").glob("*.zip")
                        if base64.b64encode(hashlib.sha256(z.read_bytes()).digest()).decode() == held]
            with zipfile.ZipFile(archive) as layer_zip:
                missing = without_bytecode(layer_zip)
                assert not missing, f"{len(missing)} modules without byte code: {missing[:5]}"
                layer_zip.extractall(unpacked)
        return unpacked

    def container(self, name, **settings):
        """A cold container of the named function, with its deployed environment (plus
        `settings`, as if .chalice/config.json's stage had them)."""
        config = self.rehearsal.client("lambda").get_function_configuration(FunctionName=name)
        env = {**config["Environment"]["Variables"], **settings, "AWS_LAMBDA_FUNCTION_NAME": name,
               "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
               "AWS_ENDPOINT_URL": self.rehearsal.endpoint, "AWS_ACCESS_KEY_ID": "rehearsal",
               "AWS_SECRET_ACCESS_KEY": "rehearsal", "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1"}  # /var/task is read-only
        layers = [self.layer(x["Arn"]) for x in config.get("Layers", [])]
        self.containers.append(Function(self.python, self.package, env, config["Handler"], layers))
        return self.containers[-1]


def _png(height, width):
    buffer = io.BytesIO()
    Image.fromarray((np.arange(height * width) % 256).astype(np.uint8).reshape(height, width)).save(
        buffer, format="PNG")
    return buffer.getvalue()


def caller(function):
    """call(method, resource, params, body, token, expect) -> the JSON answer; .logs: the lines."""
    def call(method, resource, params=None, body=None, token=None, expect=200):
        answer = function.invoke(proxy_event(method, resource, params, body, token))
        assert answer["statusCode"] == expect, answer
        return json.loads(answer["body"]) if answer["body"] else None
    return call


def test_deployed_package_serves_the_annotator_loop_and_ingests_uploads(rehearsal, runtime):
    api, ingest = runtime.container(STACK), runtime.container(f"{STACK}-on_upload")
    call = caller(api)

    admin = rehearsal.admin_token()
    annotator = mint_token("ann-1", secret=rehearsal.keys()[0])
    task = {"task_id": "rehearsal"}
    assert call("GET", "/health") == {"status": "ok"}
    call("POST", "/tasks", body={"id": "rehearsal", "name": "Rehearsal"}, token=admin, expect=201)
    # Who may not: an annotator cannot create tasks; a token signed with another key is refused.
    assert call("POST", "/tasks", body={"id": "x", "name": "x"}, token=annotator,
                expect=403)["error"]["code"]
    forged = mint_token("admin", roles=["admin"], secret=signing_keys.new_key())
    assert call("GET", "/tasks", token=forged, expect=401)["error"]["code"] == "invalid_token"

    image = _png(24, 32)
    plan, = call("POST", "/tasks/{task_id}/uploads", task, token=admin, body={"files": [
        {"sample_id": "s1", "name": "image.png", "size": len(image),
         "sha256": hashlib.sha256(image).hexdigest()}]})["uploads"]
    bucket = rehearsal.outputs["DataBucket"]
    assert plan["status"] == "upload" and bucket in plan["url"]
    s3 = rehearsal.client("s3")
    s3.put_object(Bucket=bucket, Key=plan["key"], Body=image,
                  Metadata={"sha256": plan["headers"]["x-amz-meta-sha256"]})

    # The queue consumer, with what S3 sends through SQS (keys URL-encoded).
    notification = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": bucket}, "object": {"key": plan["key"]}}}]}
    ingest.invoke({"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": json.dumps(notification),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": rehearsal.outputs["IngestQueueArn"], "awsRegion": REGION}]})
    record = json.loads(s3.get_object(Bucket=bucket, Key=f"derived/{bucket}/{plan['key']}/ingest.json")
                        ["Body"].read())
    assert (record["width"], record["height"]) == (32, 24)  # decoded by the package's Pillow/numpy

    call("POST", "/tasks/{task_id}/imports", task, token=admin, expect=201,
         body={"samples": [{"id": "s1", "files": {"image.png": plan["key"]}}]})
    claimed = call("POST", "/tasks/{task_id}/claim", task, token=annotator)
    assert claimed["sample"]["id"] == "s1"
    assert bucket in claimed["sample"]["files"]["image.png"]
    polygon = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "label": "cell"}, "geometry": {"type": "Polygon", "coordinates": [[[1, 1], [9, 1], [9, 9], [1, 1]]]}}]}
    submitted = call("POST", "/tasks/{task_id}/samples/{sample_id}/submit",
                     {**task, "sample_id": "s1"}, token=annotator,
                     body={"lease_id": claimed["lease"]["id"], "annotation": polygon,
                           "submission_id": uuid.uuid4().hex})
    assert submitted["progress"]["completed"] == 1
    progress = call("GET", "/tasks/{task_id}/progress", task, token=annotator)
    assert (progress["total"], progress["completed"], progress["by_annotator"]) == \
        (1, 1, {"ann-1": {"submitted": 1}})
    assert call("POST", "/tasks/{task_id}/claim", task, token=annotator, expect=204) is None

    # The export: the route queues its first step; the export function, fed the queue's
    # messages as SQS events, builds the archive with the package's numpy and Pillow.
    started = call("POST", "/tasks/{task_id}/exports", task, token=admin, expect=202,
                   body={"format": "masks"})
    exporter, sqs = runtime.container(f"{STACK}-on_export_message"), rehearsal.client("sqs")
    queue = sqs.get_queue_url(QueueName=rehearsal.outputs["ExportQueue"])["QueueUrl"]
    for _ in range(10):  # a step per message; each queues the next
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1).get("Messages", [])
        if not messages:
            break
        exporter.invoke({"Records": [{
            "messageId": messages[0]["MessageId"], "receiptHandle": messages[0]["ReceiptHandle"],
            "body": messages[0]["Body"], "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": rehearsal.outputs["ExportQueueArn"], "awsRegion": REGION}]})
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
    job = call("GET", "/tasks/{task_id}/exports/{export_id}",
               {**task, "export_id": started["export_id"]}, token=admin)
    assert job["status"] == "done", job
    archive = zipfile.ZipFile(io.BytesIO(s3.get_object(
        Bucket=bucket, Key=f"exports/rehearsal/{job['id']}/{job['file_name']}")["Body"].read()))
    assert any(n.startswith("s1/masks/") and n.endswith("_instances.png") for n in archive.namelist())

    # Deployed, every log line is JSON naming the request; none carries a token or a body.
    lines = [json.loads(line) for line in api.logs]
    claims = [x for x in lines if x.get("route") == "/tasks/{task_id}/claim"]
    assert [(x["user"], x["task"], x["status"]) for x in claims] == \
        [("ann-1", "rehearsal", 200), ("ann-1", "rehearsal", 204)]
    assert all(x["request_id"] for x in lines)
    assert not any(annotator in line or admin in line or "coordinates" in line for line in api.logs)


class invoke_endpoint:
    """Lambda's Invoke API for the API function's calls (moto's Lambda runs functions only in
    Docker): each invocation runs the named function in its own container of this runtime."""

    def __init__(self, runtime):
        invocations = self.invocations = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                name = unquote(self.path.split("/functions/", 1)[1].split("/")[0]).rpartition(":")[2]
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                invocations.append((name, event))
                body = json.dumps(runtime.container(name).invoke(event)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


def test_deployed_api_has_images_and_masks_decoded_by_the_ingest_function(rehearsal, runtime):
    """The API function has no numpy or Pillow: an import of objects nobody ingested yet (a
    label mask here; nothing notified the queue) is decoded by the ingest_now function."""
    bucket, s3 = rehearsal.outputs["DataBucket"], rehearsal.client("s3")
    mask = np.zeros((24, 32), np.uint16)
    mask[2:8, 3:9], mask[10:20, 12:30] = 1, 2
    for name, pixels in (("image.png", None), ("annotation.png", mask)):
        buffer = io.BytesIO()
        if pixels is None:
            buffer.write(_png(24, 32))
        else:
            Image.fromarray(pixels).save(buffer, format="PNG")
        s3.put_object(Bucket=bucket, Key=f"uploads/masks/s1/{name}", Body=buffer.getvalue())
    with invoke_endpoint(runtime) as lam:
        call = caller(runtime.container(STACK, AWS_ENDPOINT_URL_LAMBDA=lam.url))
        admin = rehearsal.admin_token()
        call("POST", "/tasks", body={"id": "masks", "name": "Masks", "labels": ["nucleus"]},
             token=admin, expect=201)
        done = call("POST", "/tasks/{task_id}/imports", {"task_id": "masks"}, token=admin, expect=201,
                    body={"samples": [{"id": "s1", "files": {
                        "image.png": "uploads/masks/s1/image.png",
                        "annotation.png": "uploads/masks/s1/annotation.png"}}]})
        assert done["problems"] == {}, done
        assert [name for name, _ in lam.invocations] == [f"{STACK}-ingest_now"]
        sample = call("GET", "/tasks/{task_id}/samples/{sample_id}/view",
                      {"task_id": "masks", "sample_id": "s1"}, token=admin)
    assert (sample["media"]["image.png"]["width"], sample["media"]["image.png"]["height"]) == (32, 24)
    features = sample["annotation"]["features"]
    assert len(features) == 2 and {f["properties"]["label"] for f in features} == {"nucleus"}


def test_deployed_package_accepts_identity_provider_tokens(rehearsal, runtime):
    """RS256 needs `cryptography` in the package, built for Lambda's Linux."""
    provider = Provider()
    provider.add_key("k1")
    try:
        call = caller(runtime.container(STACK, OIDC_ISSUER=provider.issuer, OIDC_AUDIENCE=AUDIENCE,
                                        OIDC_ADMIN_GROUPS="lab-admins"))
        admin = provider.token(sub="u-1", groups=["lab-admins"])
        assert call("GET", "/tasks", token=admin)["tasks"][0]["id"] == "rehearsal"
        assert call("POST", "/tasks", token=provider.token(sub="u-2"), body={"id": "y", "name": "y"},
                    expect=403)["error"]["code"]
        assert call("GET", "/tasks", token=provider.token(audience="other"), expect=401)
    finally:
        provider.stop()


def test_rotated_keys_reach_the_deployed_function(rehearsal, runtime):
    deployed_admin, first = rehearsal.admin_token(), rehearsal.keys()[0]
    rehearsal.run("rotate_keys.py", STAGE)
    newest, older = rehearsal.keys()
    assert older == first and newest != first
    call = caller(runtime.container(STACK))
    # During the rotation both keys verify; new tokens are signed with the new one.
    for token in (deployed_admin, mint_token("admin", roles=["admin"], secret=newest)):
        assert call("GET", "/tasks", token=token)["tasks"][0]["id"] == "rehearsal"
    rehearsal.run("rotate_keys.py", STAGE, "--retire")
    assert rehearsal.keys() == [newest]
    call = caller(runtime.container(STACK))
    assert call("GET", "/tasks", token=deployed_admin, expect=401)["error"]["code"] == "invalid_token"
    assert call("GET", "/tasks", token=mint_token("admin", roles=["admin"], secret=newest))["tasks"]


# --- removal (last: it takes the stage down) -------------------------------------------------

def test_destroy_refuses_prod_then_removes_the_stage_keeping_data_unless_asked(rehearsal):
    refused = rehearsal.run("destroy.py", "prod", check=False)
    assert refused.returncode == 2 and "--allow-prod" in refused.stderr

    # The user pool a stage deployed with --user-pool on keeps (moto's CloudFormation cannot
    # make it: made here as the stack would have left it).
    pool = rehearsal.client("cognito-idp").create_user_pool(PoolName=STACK)["UserPool"]["Id"]
    kept = rehearsal.run("destroy.py", STAGE, "--build-dir", str(rehearsal.build))
    left = inventory_after_removal(rehearsal)
    assert left["functions"] == left["apis"] == left["distributions"] == left["mappings"] == []
    assert left["layers"] == []
    assert left["access_controls"] == []
    assert left["stacks"] == [] and rehearsal.outputs["SiteBucket"] not in left["buckets"]
    # Submissions (idempotency records of the last minutes) are not retained; the rest are.
    assert left["tables"] == [t for t in rehearsal.before_second["tables"] if not t.endswith("-submissions")]
    assert rehearsal.outputs["DataBucket"] in left["buckets"]
    assert left["parameters"] == [rehearsal.outputs["KeysParameter"]]
    assert "--delete-data" in kept.stdout and f"user pool {pool}" in kept.stdout

    rehearsal.run("destroy.py", STAGE, "--build-dir", str(rehearsal.build), "--delete-data")
    left = inventory_after_removal(rehearsal)
    assert left["tables"] == left["buckets"] == left["parameters"] == []
    assert rehearsal.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] == []


def inventory_after_removal(r: Rehearsal) -> dict:
    lam, cf = r.client("lambda"), r.client("cloudfront")
    stacks = r.client("cloudformation").list_stacks()["StackSummaries"]
    return {
        "stacks": [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "mappings": [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]],
        "apis": [a["id"] for a in r.client("apigateway").get_rest_apis()["items"]],
        "distributions": [d["Id"] for d in cf.list_distributions()["DistributionList"].get("Items", [])],
        "access_controls": cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", []),
        "tables": sorted(r.client("dynamodb").list_tables()["TableNames"]),
        "buckets": sorted(b["Name"] for b in r.client("s3").list_buckets()["Buckets"]),
        "parameters": [p["Name"] for p in r.client("ssm").describe_parameters()["Parameters"]],
        "layers": layer_versions(r),
    }
