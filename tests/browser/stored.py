"""What the API stored for a sample.

The API has no route yet that returns a stored version's content to an admin, so the tests read the
objects it wrote to the data bucket (one per version under annotations/<task>/<sample>/) and the
version list from the API, which must agree.
"""
import json

import boto3
from botocore.config import Config


def stored_annotations(stack, task_id: str, sample_id: str) -> list[dict]:
    s3 = boto3.client("s3", endpoint_url=stack.moto_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local",
                      config=Config(s3={"addressing_style": "path"}))
    bucket = stack.env["DATA_BUCKET"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"annotations/{task_id}/{sample_id}/")
    return [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
            for o in listed.get("Contents", [])]
