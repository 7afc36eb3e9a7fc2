"""S3: the only module that talks to it, and the owner of every key layout.

Every key the service writes is made by one function below (`upload_key`, `derived_key`,
`annotation_key`, `export_key`, ...), so a layout is changed in one place and the tenancy rules
(sources.py) read keys with the same functions that make them. Data-bucket layout:

    uploads/<task_id>/<sample_id>/<file>           what owners upload (presigned PUTs)
    derived/<bucket>/<key>/{display,thumbnail}.png browser-ready copies of an image (ingest)
    derived/<bucket>/<key>/ingest.json             its ingest record
    annotations/<task_id>/<sample_id>/<name>.json  every version, pre-annotation, legacy session
    exports/<task_id>/<export_id>/...              an export's job record, work files, archive

URLs are signed when a caller reads, never stored. Settings (config) are read when a function
runs, never as a default argument at import. Clients are created lazily (cold start)
and once per process under a lock: botocore clients are thread-safe, their creation is not.
botocore directly, not boto3: boto3 would add its transfer manager (s3transfer) to every
cold start, and nothing here uses it.
"""
import json
import threading
from dataclasses import dataclass, field

from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import get_session

from . import config
from .errors import TooLarge

_lock = threading.Lock()
_clients: dict[str, object] = {}


# --- key layouts ---------------------------------------------------------------------------

def upload_prefix(task_id: str) -> str:
    return f"uploads/{task_id}/"


def upload_key(task_id: str, sample_id: str, name: str) -> str:
    """One folder per sample, as in the original system's layout, and per task so owners of one
    task cannot overwrite another's."""
    return f"{upload_prefix(task_id)}{sample_id}/{name}"


def derived_under(bucket: str, prefix: str) -> str:
    """Where the browser-ready copies of every object under s3://bucket/prefix are."""
    return f"derived/{bucket}/{prefix}"


def derived_prefix(bucket: str, key: str) -> str:
    """The browser-ready copies of s3://bucket/key (written to the data bucket)."""
    return derived_under(bucket, key + "/")


def derived_key(bucket: str, key: str, name: str) -> str:
    return derived_prefix(bucket, key) + name


def derived_source(key: str) -> tuple[str, str] | None:
    """(bucket, source key) a derived key was made from; None for any other key."""
    if not key.startswith("derived/"):
        return None
    bucket, _, rest = key.removeprefix("derived/").partition("/")
    return bucket, rest.rsplit("/", 1)[0]


def annotation_prefix(task_id: str) -> str:
    return f"annotations/{task_id}/"


def annotation_key(task_id: str, sample_id: str, name: str) -> str:
    """An annotation object: `name` is unique per version (a uuid), per content (pre-annotations)
    or per legacy session."""
    return f"{annotation_prefix(task_id)}{sample_id}/{name}.json"


def export_prefix(task_id: str, export_id: str = "") -> str:
    return f"exports/{task_id}/" + (f"{export_id}/" if export_id else "")


def export_key(task_id: str, export_id: str, name: str) -> str:
    return export_prefix(task_id, export_id) + name


def task_prefixes(task_id: str) -> tuple[str, ...]:
    """The data-bucket prefixes that hold a task's own files (what it may sign and must delete
    with it; exports are deleted too but never signed through sources)."""
    upload = upload_prefix(task_id)
    return upload, derived_under(config.DATA_BUCKET, upload), annotation_prefix(task_id)


# --- clients -------------------------------------------------------------------------------

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


def _s3():
    """The client the service itself uses (endpoint from AWS_ENDPOINT_URL when set)."""
    return _client("service")


class NoSuchBucket(Exception):
    """A bucket named in the configuration or a request does not exist."""


def _no_such_bucket(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "NoSuchBucket"


def missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def ensure_bucket(bucket: str | None = None) -> None:
    bucket = bucket or config.DATA_BUCKET
    try:
        _s3().head_bucket(Bucket=bucket)
    except ClientError:
        kwargs = {} if config.REGION == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": config.REGION}}
        _s3().create_bucket(Bucket=bucket, **kwargs)


# --- objects -------------------------------------------------------------------------------

@dataclass
class Stored:
    """An object as read: `data` is None when it was larger than the reader accepts."""
    etag: str
    size: int
    data: bytes | None
    metadata: dict = field(default_factory=dict)


def get(key: str, bucket: str | None = None, max_bytes: int | None = None) -> Stored | None:
    """An object (of the data bucket unless `bucket` is named), None when there is none; over
    `max_bytes` its body is never read."""
    bucket = bucket or config.DATA_BUCKET
    try:
        obj = _s3().get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if missing(exc):
            return None
        if _no_such_bucket(exc):
            raise NoSuchBucket(bucket) from None
        raise
    if max_bytes is not None and obj["ContentLength"] > max_bytes:
        obj["Body"].close()
        return Stored(obj["ETag"], obj["ContentLength"], None, obj.get("Metadata", {}))
    return Stored(obj["ETag"], obj["ContentLength"], obj["Body"].read(), obj.get("Metadata", {}))


def get_bytes(key: str) -> bytes:
    """A data-bucket object that must exist (botocore's ClientError otherwise)."""
    return _s3().get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read()


def head(key: str, bucket: str | None = None) -> Stored | None:
    """An object's ETag, size and metadata without its body; None when there is none."""
    try:
        obj = _s3().head_object(Bucket=bucket or config.DATA_BUCKET, Key=key)
    except ClientError as exc:
        if missing(exc):
            return None
        raise
    return Stored(obj["ETag"], obj["ContentLength"], None, obj.get("Metadata", {}))


def exists(key: str) -> bool:
    return head(key) is not None


def put(key: str, data: bytes, content_type: str | None = None) -> None:
    _s3().put_object(Bucket=config.DATA_BUCKET, Key=key, Body=data,
                     **({"ContentType": content_type} if content_type else {}))


def put_json(key: str, value, content_type: str = "application/geo+json") -> None:
    put(key, json.dumps(value, separators=(",", ":")).encode(), content_type)


def get_json(key: str):
    return json.loads(get_bytes(key))


def find_json(key: str):
    """A JSON object's value, None when there is no such object."""
    stored = get(key)
    return None if stored is None else json.loads(stored.data or b"null")


def read(key: str, max_bytes: int) -> bytes | None:
    """An object's bytes, None when there is none; a TooLarge instead of reading a huge one."""
    stored = get(key, max_bytes=max_bytes)
    if stored is None:
        return None
    if stored.data is None:
        raise TooLarge(f"The file is {stored.size:,} bytes; at most {max_bytes:,} are "
                       "accepted.", code="file_too_large")
    return stored.data


def list_page(bucket: str, prefix: str, start_after: str, max_keys: int) -> tuple[list[dict], bool]:
    """One page of the objects under a prefix, after a key: (objects, whether more follow)."""
    try:
        page = _s3().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=max_keys,
                                     StartAfter=start_after)
    except ClientError as exc:
        if _no_such_bucket(exc):
            raise NoSuchBucket(bucket) from None
        raise
    return page.get("Contents", []), bool(page.get("IsTruncated"))


def child_names(prefix: str) -> list[str]:
    """The names of the "folders" directly under a data-bucket prefix."""
    pages = _s3().get_paginator("list_objects_v2").paginate(
        Bucket=config.DATA_BUCKET, Prefix=prefix, Delimiter="/")
    return [p["Prefix"][len(prefix):].rstrip("/") for page in pages
            for p in page.get("CommonPrefixes", [])]


def delete_prefix(prefix: str) -> None:
    pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=config.DATA_BUCKET, Prefix=prefix)
    for page in pages:
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            _s3().delete_objects(Bucket=config.DATA_BUCKET, Delete={"Objects": keys, "Quiet": True})


# --- multipart uploads (export archives) ---------------------------------------------------

def start_multipart(key: str, content_type: str) -> str:
    return _s3().create_multipart_upload(Bucket=config.DATA_BUCKET, Key=key,
                                         ContentType=content_type)["UploadId"]


def upload_part(key: str, upload_id: str, number: int, data: bytes) -> str:
    """Sends one part; returns its ETag."""
    return _s3().upload_part(Bucket=config.DATA_BUCKET, Key=key, UploadId=upload_id,
                             PartNumber=number, Body=data)["ETag"]


def complete_multipart(key: str, upload_id: str, parts: list[dict]) -> None:
    _s3().complete_multipart_upload(Bucket=config.DATA_BUCKET, Key=key, UploadId=upload_id,
                                    MultipartUpload={"Parts": parts})


def abort_multipart(key: str, upload_id: str) -> None:
    _s3().abort_multipart_upload(Bucket=config.DATA_BUCKET, Key=key, UploadId=upload_id)


# --- URLs for browsers ---------------------------------------------------------------------

def presign_get(key: str, bucket: str | None = None) -> str:
    return _client("public").generate_presigned_url(
        "get_object", Params={"Bucket": bucket or config.DATA_BUCKET, "Key": key},
        ExpiresIn=config.PRESIGN_SECONDS)


def presign_put(key: str, metadata: dict[str, str] | None = None) -> str:
    """An upload URL; the uploader must send each metadata item as an x-amz-meta-* header.
    Without metadata only the host is signed: any Content-Type (or none) is accepted."""
    params = {"Bucket": config.DATA_BUCKET, "Key": key, **({"Metadata": metadata} if metadata else {})}
    return _client("public").generate_presigned_url("put_object", Params=params,
                                                    ExpiresIn=config.PRESIGN_SECONDS)


def file_url(ref: str) -> str:
    """A sample file is either a key in the data bucket or a plain https URL (passed through)."""
    return ref if ref.startswith("https://") else presign_get(ref)
