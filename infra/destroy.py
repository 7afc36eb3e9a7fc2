"""Remove one deployed stage: `python infra/destroy.py dev [--delete-data]`.

Undoes infra/deploy.py in reverse: the API, its functions, roles and queue subscription
(`chalice delete`, from the build folder's deployment state), the worker layer, the site's CloudFront
distribution and objects, then the stack. The template retains the tables, the data bucket and
the sign-in user pool (when the stage has one), and the token keys go with them: all of it stays
unless --delete-data is given. `prod` is refused unless --allow-prod is given too.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra import cdn  # noqa: E402
from infra.deploy import stack_outputs  # noqa: E402


def empty_bucket(s3, bucket: str) -> None:
    """Every version and delete marker too: a versioned bucket is not empty without them."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})


def chalice_delete(session, build: Path, stage: str) -> bool:
    if not (build / ".chalice" / "deployed" / f"{stage}.json").exists():
        return False
    subprocess.run([str(Path(sys.executable).with_name("chalice")), "delete", "--stage", stage],
                   cwd=build, check=True, env={**os.environ, "AWS_DEFAULT_REGION": session.region_name})
    return True


def remove_layer(session, name: str) -> None:
    """Every version of the stage's worker layer (deploy.publish_worker_layer)."""
    lam = session.client("lambda")
    for version in lam.list_layer_versions(LayerName=name).get("LayerVersions", []):
        lam.delete_layer_version(LayerName=name, VersionNumber=version["Version"])


def retained(session, app: str, stage: str) -> dict:
    """What the stack leaves behind, named as infra/template.yaml names it (so it can be found
    after the stack is gone)."""
    account = session.client("sts").get_caller_identity()["Account"]
    prefix = f"{app}-{stage}-"
    tables = [t for page in session.client("dynamodb").get_paginator("list_tables").paginate()
              for t in page["TableNames"] if t.startswith(prefix)]
    pools = [p["Id"] for page in session.client("cognito-idp").get_paginator("list_user_pools")
             .paginate(MaxResults=60) for p in page["UserPools"] if p["Name"] == f"{app}-{stage}"]
    return {"tables": tables, "bucket": f"{prefix}data-{account}",
            "keys": f"/{app}/{stage}/jwt-keys", "user_pools": pools}


def delete_data(session, kept: dict) -> None:
    s3 = session.client("s3")
    try:
        empty_bucket(s3, kept["bucket"])
        s3.delete_bucket(Bucket=kept["bucket"])
    except s3.exceptions.NoSuchBucket:
        pass
    for table in kept["tables"]:
        session.client("dynamodb").delete_table(TableName=table)
    ssm = session.client("ssm")
    try:
        ssm.delete_parameter(Name=kept["keys"])
    except ssm.exceptions.ParameterNotFound:
        pass
    idp = session.client("cognito-idp")
    for pool in kept["user_pools"]:  # its domain went with the stack
        idp.delete_user_pool(UserPoolId=pool)


def main(argv=None) -> None:
    import boto3

    parser = argparse.ArgumentParser(description="Remove one stage of the cloud annotator.")
    parser.add_argument("stage")
    parser.add_argument("--app", default="cloud-annotator")
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS config)")
    parser.add_argument("--build-dir", type=Path, default=None,
                        help="the folder deploy.py used (default infra/.build/STAGE)")
    parser.add_argument("--delete-data", action="store_true",
                        help="also delete the tables, the data bucket, the token keys and "
                             "the sign-in user pool (its accounts)")
    parser.add_argument("--allow-prod", action="store_true", help="needed to remove prod")
    args = parser.parse_args(argv)
    if args.stage == "prod" and not args.allow_prod:
        parser.error("refusing to remove prod: add --allow-prod if that is what you mean")

    session = boto3.Session(region_name=args.region)
    cfn, name = session.client("cloudformation"), f"{args.app}-{args.stage}"
    outputs = stack_outputs(cfn, name)
    build = args.build_dir or ROOT / "infra" / ".build" / args.stage
    if not chalice_delete(session, build, args.stage):
        print(f"No chalice deployment state in {build}: no API or function removed.")
    remove_layer(session, f"{args.app}-{args.stage}-worker")
    cdn.remove_site(session, args.app, args.stage)
    if outputs is not None:
        empty_bucket(session.client("s3"), outputs["SiteBucket"])
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name)
    kept = retained(session, args.app, args.stage)
    if args.delete_data:
        delete_data(session, kept)
        print(f"Removed {name} and its data.")
    else:
        print(f"Removed {name}. Kept: tables {', '.join(kept['tables']) or '(none)'}, bucket "
              f"{kept['bucket']}, keys {kept['keys']}"
              + "".join(f", user pool {pool}" for pool in kept["user_pools"])
              + " (--delete-data removes them).")


if __name__ == "__main__":
    main()
