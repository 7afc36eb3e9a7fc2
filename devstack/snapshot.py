"""Save and restore moto's DynamoDB tables and S3 buckets in a folder, through boto3.

Layout under the data dir:
  manifest.json                  what the last complete snapshot holds (written last)
  dynamodb/<table>.json          describe_table (the parts create_table needs), TTL, items
  s3/<bucket>/index.json         CORS rules and {key: {etag, blob, content_type, metadata}}
  s3/<bucket>/blobs/<etag>       object bytes, named by ETag

Blobs are content-addressed so an unchanged image is never written again, a changed
object never overwrites the bytes the current index still points to, and a crash
mid-snapshot leaves the previous index valid. Every file is written to a temp name and
renamed. DynamoDB items keep their wire types (binary values as base64).
"""
import base64
import json
import os
import re
import shutil
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .wire import INTERNAL_AGENT

FORMAT_VERSION = 1


def client(service, endpoint_url, region):
    return boto3.client(
        service, endpoint_url=endpoint_url, region_name=region,
        aws_access_key_id="devstack", aws_secret_access_key="devstack",
        config=Config(user_agent_extra=INTERNAL_AGENT, retries={"max_attempts": 2},
                      s3={"addressing_style": "path"}))


def write_atomic(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path, doc):
    write_atomic(path, json.dumps(doc, indent=1, sort_keys=True).encode())


def read_json(path):
    return json.loads(path.read_bytes())


# -- DynamoDB -----------------------------------------------------------------------

def _encode_value(value):
    """boto3 returns bytes for B/BS; JSON needs text."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "M":
        return {"M": {k: _encode_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_encode_value(v) for v in inner]}
    return value


def _decode_value(value):
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "M":
        return {"M": {k: _decode_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_decode_value(v) for v in inner]}
    return value


def _table_definition(description):
    """The create_table arguments that reproduce a described table."""
    definition = {
        "TableName": description["TableName"],
        "KeySchema": description["KeySchema"],
        "AttributeDefinitions": description["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if description.get(kind):
            definition[kind] = [{"IndexName": index["IndexName"],
                                 "KeySchema": index["KeySchema"],
                                 "Projection": index["Projection"]}
                                for index in description[kind]]
    return definition


def dump_table(ddb, name):
    description = ddb.describe_table(TableName=name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=name):
        items.extend({k: _encode_value(v) for k, v in item.items()} for item in page["Items"])
    return {"definition": _table_definition(description),
            "ttl_attribute": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
            "items": items}


def restore_table(ddb, doc):
    definition = doc["definition"]
    name = definition["TableName"]
    ddb.create_table(**definition)
    if doc["ttl_attribute"]:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": doc["ttl_attribute"]})
    items = [{k: _decode_value(v) for k, v in item.items()} for item in doc["items"]]
    for start in range(0, len(items), 25):  # BatchWriteItem's limit
        requests = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        while requests:
            answer = ddb.batch_write_item(RequestItems={name: requests})
            requests = answer.get("UnprocessedItems", {}).get(name, [])


# -- S3 -----------------------------------------------------------------------------

def _blob_name(etag):
    return re.sub(r"[^0-9A-Za-z-]", "", etag)


def _bucket_cors(s3, bucket):
    try:
        return s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchCORSConfiguration":
            return None
        raise


def dump_bucket(s3, bucket, folder):
    """Write the bucket's index, fetching only objects whose ETag is not stored yet."""
    index_path = folder / "index.json"
    previous = read_json(index_path)["objects"] if index_path.exists() else {}
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for summary in page.get("Contents", []):
            key, etag = summary["Key"], summary["ETag"]
            if previous.get(key, {}).get("etag") == etag:
                objects[key] = previous[key]
                continue
            blob = _blob_name(etag)
            answer = s3.get_object(Bucket=bucket, Key=key)
            blob_path = folder / "blobs" / blob
            if not blob_path.exists():
                write_atomic(blob_path, answer["Body"].read())
            objects[key] = {"etag": etag, "blob": blob,
                            "content_type": answer.get("ContentType"),
                            "metadata": answer.get("Metadata", {})}
    write_json(index_path, {"cors": _bucket_cors(s3, bucket), "objects": objects})
    # Only now that the new index is in place may blobs it no longer names go.
    referenced = {entry["blob"] for entry in objects.values()}
    for blob_path in (folder / "blobs").glob("*"):
        if blob_path.name not in referenced:
            blob_path.unlink()


def restore_bucket(s3, bucket, folder):
    s3.create_bucket(Bucket=bucket)
    index = read_json(folder / "index.json")
    if index["cors"]:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": index["cors"]})
    for key, entry in index["objects"].items():
        extra = {"ContentType": entry["content_type"]} if entry["content_type"] else {}
        s3.put_object(Bucket=bucket, Key=key, Metadata=entry["metadata"],
                      Body=(folder / "blobs" / entry["blob"]).read_bytes(), **extra)


# -- whole snapshots -------------------------------------------------------------------

def save(endpoint_url, region, data_dir, changed_tables=None):
    """Snapshot everything; with `changed_tables` (names), tables not among them that already
    have a file are left as they are (their items did not change)."""
    data_dir = Path(data_dir)
    ddb, s3 = client("dynamodb", endpoint_url, region), client("s3", endpoint_url, region)
    tables = [name for page in ddb.get_paginator("list_tables").paginate()
              for name in page["TableNames"]]
    buckets = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    for name in tables:
        path = data_dir / "dynamodb" / f"{name}.json"
        if changed_tables is None or name in changed_tables or not path.exists():
            write_json(path, dump_table(ddb, name))
    for bucket in buckets:
        dump_bucket(s3, bucket, data_dir / "s3" / bucket)
    write_json(data_dir / "manifest.json", {"format": FORMAT_VERSION, "saved_at": time.time(),
                                            "region": region, "tables": tables, "buckets": buckets})
    _prune(data_dir, tables, buckets)


def _prune(data_dir, tables, buckets):
    """Drop what the manifest no longer lists (deleted tables/buckets)."""
    for path in (data_dir / "dynamodb").glob("*.json"):
        if path.stem not in tables:
            path.unlink()
    for folder in (data_dir / "s3").glob("*"):
        if folder.name not in buckets:
            shutil.rmtree(folder)


def restore(endpoint_url, region, data_dir):
    """Recreate what the manifest lists; a missing manifest means a fresh start."""
    data_dir = Path(data_dir)
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.exists():
        return {"tables": [], "buckets": []}
    manifest = read_json(manifest_path)
    ddb, s3 = client("dynamodb", endpoint_url, region), client("s3", endpoint_url, region)
    for name in manifest["tables"]:
        restore_table(ddb, read_json(data_dir / "dynamodb" / f"{name}.json"))
    for bucket in manifest["buckets"]:
        restore_bucket(s3, bucket, data_dir / "s3" / bucket)
    return manifest
