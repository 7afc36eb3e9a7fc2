"""Where sample files may come from, and listing an S3 prefix for an import.

A file reference in an import is either an upload key (`uploads/<task_id>/...`, in the data
bucket, see uploads.py), `s3://<bucket>/<key>` in a bucket the deployment names in
IMPORT_BUCKETS (registered without copying the original; only its browser-ready copy is
written, to the data bucket), or an https URL (passed through). Anything else is a 400: the
API must not become a way to read arbitrary buckets with the service's role.
"""
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from . import config, storage
from .errors import BadRequest, Forbidden

MAX_LIST = 1000


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise BadRequest(f"'{uri}' is not an s3://bucket/prefix URI.", code="invalid_source")
    return parsed.netloc, parsed.path.lstrip("/")


def _allowed(bucket: str) -> None:
    if bucket not in config.IMPORT_BUCKETS:
        names = ", ".join(config.IMPORT_BUCKETS) or "none are configured"
        raise Forbidden(f"Bucket '{bucket}' is not open for imports (IMPORT_BUCKETS: {names}); "
                        "ask the deployment's operator to add it.", code="bucket_not_allowed")


def resolve(task_id: str, ref: str) -> tuple[str, str]:
    """(bucket, key) of a non-URL file reference, or a 4xx saying what is allowed."""
    if ref.startswith("s3://"):
        bucket, key = parse_s3_uri(ref)
        _allowed(bucket)
        return bucket, key
    if ref.startswith(f"uploads/{task_id}/") and ".." not in ref.split("/"):
        return config.DATA_BUCKET, ref
    raise BadRequest(f"'{ref}' is not a file of this task: use the keys POST /tasks/{task_id}/"
                     "uploads returned, s3://<import bucket>/<key> or an https:// URL.",
                     code="invalid_file_ref")


def list_prefix(uri: str, cursor: str | None) -> dict:
    """One page of the objects under an s3:// prefix of an import bucket."""
    bucket, prefix = parse_s3_uri(uri)
    _allowed(bucket)
    # The cursor is the last key of the previous page (StartAfter): any string is a valid
    # cursor, so a caller cannot make S3 fail on a malformed continuation token.
    kwargs = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": MAX_LIST, "StartAfter": cursor or ""}
    try:
        page = storage.s3().list_objects_v2(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise BadRequest(f"Cannot list {uri}: the bucket does not exist.",
                             code="invalid_source") from None
        raise
    contents = page.get("Contents", [])
    return {"objects": [{"uri": f"s3://{bucket}/{o['Key']}", "key": o["Key"], "size": o["Size"]}
                        for o in contents if not o["Key"].endswith("/")],
            "cursor": contents[-1]["Key"] if page.get("IsTruncated") and contents else None}
