"""S3: annotation objects and presigned URLs for the browser.

URLs are signed when a caller reads, never stored. Clients are created lazily (cold start)
and once per process under a lock: botocore clients are thread-safe, their creation is not.
botocore directly, not boto3: boto3 would add its transfer manager (s3transfer) to every
cold start, and nothing here uses it.
"""
import json
import threading

from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import get_session

from . import config
from .errors import TooLarge

_lock = threading.Lock()
_clients: dict[str, object] = {}


def _client(kind: str):
    with _lock:
        if kind not in _clients:
            s3 = {"addressing_style": config.S3_ADDRESSING_STYLE}
            cfg = Config(signature_version="s3v4", s3=s3, retries={"max_attempts": 3})
            endpoint = config.S3_PUBLIC_ENDPOINT_URL if kind == "public" else None
            _clients[kind] = get_session().create_client(
                "s3", region_name=config.REGION, config=cfg,
                **({"endpoint_url": endpoint} if endpoint else {}))
        return _clients[kind]


def s3():
    """The client the service itself uses (endpoint from AWS_ENDPOINT_URL when set)."""
    return _client("service")


def ensure_bucket(bucket: str = config.DATA_BUCKET) -> None:
    try:
        s3().head_bucket(Bucket=bucket)
    except s3().exceptions.ClientError:
        kwargs = {} if config.REGION == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": config.REGION}}
        s3().create_bucket(Bucket=bucket, **kwargs)


def put_json(key: str, value) -> None:
    s3().put_object(Bucket=config.DATA_BUCKET, Key=key, ContentType="application/geo+json",
                    Body=json.dumps(value, separators=(",", ":")).encode())


def get_json(key: str):
    body = s3().get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read()
    return json.loads(body)


def read(key: str, max_bytes: int) -> bytes | None:
    """An object's bytes, None when there is none; a TooLarge instead of reading a huge one."""
    try:
        obj = s3().get_object(Bucket=config.DATA_BUCKET, Key=key)
    except ClientError as exc:
        if missing(exc):
            return None
        raise
    if obj["ContentLength"] > max_bytes:
        obj["Body"].close()
        raise TooLarge(f"The file is {obj['ContentLength']:,} bytes; at most {max_bytes:,} are "
                       "accepted.", code="file_too_large")
    return obj["Body"].read()


def exists(key: str) -> bool:
    try:
        s3().head_object(Bucket=config.DATA_BUCKET, Key=key)
        return True
    except ClientError as exc:
        if missing(exc):
            return False
        raise


def missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def presign_get(key: str, bucket: str = config.DATA_BUCKET) -> str:
    return _client("public").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=config.PRESIGN_SECONDS)


def presign_put(key: str, metadata: dict[str, str] | None = None) -> str:
    """An upload URL; the uploader must send each metadata item as an x-amz-meta-* header.
    Without metadata only the host is signed: any Content-Type (or none) is accepted."""
    params = {"Bucket": config.DATA_BUCKET, "Key": key, **({"Metadata": metadata} if metadata else {})}
    return _client("public").generate_presigned_url("put_object", Params=params,
                                                    ExpiresIn=config.PRESIGN_SECONDS)


def file_url(ref: str) -> str:
    """A sample file is either a key in the data bucket or a plain https URL (passed through)."""
    return ref if ref.startswith("https://") else presign_get(ref)


def delete_prefix(prefix: str) -> None:
    pages = s3().get_paginator("list_objects_v2").paginate(Bucket=config.DATA_BUCKET, Prefix=prefix)
    for page in pages:
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3().delete_objects(Bucket=config.DATA_BUCKET, Delete={"Objects": keys, "Quiet": True})
