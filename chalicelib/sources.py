"""Where sample files may come from, and listing an S3 prefix for an import.

A file reference in an import is either an upload key (storage.upload_key, in the data
bucket, see ingest/uploads.py), `s3://<bucket>/<key>` in a bucket the deployment names in
IMPORT_BUCKETS (registered without copying the original; only its browser-ready copy is
written, to the data bucket), or an https URL (passed through). Anything else is a 400: the
API must not become a way to read arbitrary buckets with the service's role.

Tenancy: a task's files live under its own prefixes (storage.task_prefixes: its uploads, their
browser-ready copies, its annotations). Import buckets are shared by every task, so an owner may list and import
only under the s3:// prefixes an admin granted to the task (`sources`); admins may use any
configured import bucket. Every key is checked when a sample is registered and again when a
URL is signed, so a row written before these checks can never leak another task's object.

These are access rules, not ingest: every claim, sample view and export signs or copies keys
through `signable`/`of_task`, so they stay beside the other domain modules and the annotator
loop never loads the ingest package for them.
"""
from urllib.parse import urlparse

from . import config, storage
from .auth import Principal
from .errors import BadRequest, Forbidden
from .models import Task

MAX_LIST = 1000
MAX_CURSOR_BYTES = 1024


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise BadRequest(f"'{uri}' is not an s3://bucket/prefix URI.", code="invalid_source")
    return parsed.netloc, parsed.path.lstrip("/")


def _allowed(who: Principal, task: Task, bucket: str, key: str) -> None:
    if bucket not in config.IMPORT_BUCKETS:
        names = ", ".join(config.IMPORT_BUCKETS) or "none are configured"
        raise Forbidden(f"Bucket '{bucket}' is not open for imports (IMPORT_BUCKETS: {names}); "
                        "ask the deployment's operator to add it.", code="bucket_not_allowed")
    if not who.is_admin and not _granted(task, bucket, key):
        granted = ", ".join(task.sources or []) or "none"
        raise Forbidden(f"s3://{bucket}/{key} is outside the prefixes granted to task "
                        f"'{task.task_id}' (granted: {granted}); ask an admin to grant it.",
                        code="source_not_granted")


def _granted(task: Task, bucket: str, key: str) -> bool:
    uri = f"s3://{bucket}/{key}"
    return any(uri.startswith(p if p.endswith("/") else p + "/") or uri == p.rstrip("/")
               for p in task.sources or [])


def _key_of_task(task: Task, key: str, imported_anywhere: bool) -> bool:
    if ".." in key.split("/"):
        return False
    if key.startswith(storage.task_prefixes(task.task_id)):
        return True
    source = storage.derived_source(key)  # a browser-ready copy of an imported object
    if source and source[0] in config.IMPORT_BUCKETS:
        return imported_anywhere or _granted(task, *source)
    return False


def _foreign(task: Task, ref: str) -> Forbidden:
    return Forbidden(f"'{ref}' is not a file of task '{task.task_id}': register keys under "
                     f"{storage.upload_prefix(task.task_id)} (POST /tasks/{task.task_id}/uploads gives them), "
                     "an import the task was granted, or an https:// URL.", code="foreign_file")


def check_registrable(task: Task, refs) -> None:
    """Registration: every key named must be the task's own (403 otherwise)."""
    for ref in refs:
        if not ref.startswith("https://") and not _key_of_task(task, ref, imported_anywhere=False):
            raise _foreign(task, ref)


def of_task(task: Task, key: str) -> bool:
    """Whether a stored data-bucket key may be read for this task (signable's rule)."""
    return _key_of_task(task, key, imported_anywhere=True)


def signable(task: Task, ref: str) -> str:
    """Signing: the key again (rows may predate the check). Import copies are accepted from any
    import bucket here, because only an import, which checked the grant, writes those keys."""
    if not ref.startswith("https://") and not of_task(task, ref):
        raise _foreign(task, ref)
    return ref


def resolve(who: Principal, task: Task, ref: str) -> tuple[str, str]:
    """(bucket, key) of a non-URL file reference, or a 4xx saying what is allowed."""
    if ref.startswith("s3://"):
        bucket, key = parse_s3_uri(ref)
        _allowed(who, task, bucket, key)
        return bucket, key
    if ref.startswith(storage.upload_prefix(task.task_id)) and ".." not in ref.split("/"):
        return config.DATA_BUCKET, ref
    raise BadRequest(f"'{ref}' is not a file of this task: use the keys POST /tasks/{task.task_id}/"
                     "uploads returned, s3://<import bucket>/<key> or an https:// URL.",
                     code="invalid_file_ref")


def list_prefix(who: Principal, task: Task, uri: str, cursor: str | None) -> dict:
    """One page of the objects under an s3:// prefix of an import bucket."""
    bucket, prefix = parse_s3_uri(uri)
    _allowed(who, task, bucket, prefix)
    if cursor is not None and (len(cursor.encode()) > MAX_CURSOR_BYTES or
                               any(ord(c) < 32 for c in cursor)):
        raise BadRequest("The cursor is not one this API returned: start again without it.",
                         code="invalid_cursor")
    # The cursor is the last key of the previous page (StartAfter): any string is a valid
    # cursor, so a caller cannot make S3 fail on a malformed continuation token.
    try:
        contents, more = storage.list_page(bucket, prefix, cursor or "", MAX_LIST)
    except storage.NoSuchBucket:
        raise BadRequest(f"Cannot list {uri}: the bucket does not exist.",
                         code="invalid_source") from None
    return {"objects": [{"uri": f"s3://{bucket}/{o['Key']}", "key": o["Key"], "size": o["Size"]}
                        for o in contents if not o["Key"].endswith("/")],
            "cursor": contents[-1]["Key"] if more and contents else None}
