"""Deployment settings, read from the environment when used, never at import.

The local backend differs from AWS only here: `AWS_ENDPOINT_URL` (honoured natively by
botocore, hence by boto3 and PynamoDB) points every client at moto, and
`S3_ADDRESSING_STYLE=path` makes presigned URLs that a browser can reach on 127.0.0.1.
`config.DATA_BUCKET` and the others are read from the environment once, when the first of them
is used (a module __getattr__), not at import: a test may set the environment after importing
chalicelib. Later changes to the environment are not seen (chalice's test client applies a
stage's variables while it runs): `reload()` reads them again.
"""
import functools
import os


def _import_buckets() -> tuple[str, ...]:
    return tuple(b.strip() for b in os.environ.get("IMPORT_BUCKETS", "").split(",") if b.strip())


READERS = {
    "TABLE_PREFIX": lambda: os.environ.get("TABLE_PREFIX", "cloud-annotator-"),
    "DATA_BUCKET": lambda: os.environ.get("DATA_BUCKET", "cloud-annotator-data"),
    "REGION": lambda: os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    # Where browsers reach S3; defaults to where the service reaches it.
    "S3_PUBLIC_ENDPOINT_URL": lambda: (os.environ.get("S3_PUBLIC_ENDPOINT_URL")
                                       or os.environ.get("AWS_ENDPOINT_URL")),
    "S3_ADDRESSING_STYLE": lambda: os.environ.get("S3_ADDRESSING_STYLE", "auto"),
    # Presigned URLs are short-lived and signed at read time, never stored.
    "PRESIGN_SECONDS": lambda: int(os.environ.get("PRESIGN_SECONDS", "900")),
    # SQS queue the data bucket notifies of uploads (`uploads/` prefix); its consumer runs ingest.
    "INGEST_QUEUE": lambda: os.environ.get("INGEST_QUEUE", "cloud-annotator-ingest"),
    # The worker function the import route has decode what is not ingested yet (chalicelib/
    # ingest/imports.py); unset (locally), the route decodes in its own process.
    "INGEST_FUNCTION": lambda: os.environ.get("INGEST_FUNCTION", ""),
    # SQS queue of export steps (chalicelib/exports); its consumer builds exports page by page.
    "EXPORT_QUEUE": lambda: os.environ.get("EXPORT_QUEUE", "cloud-annotator-export"),
    # Samples an export step reads at once: bounds a step's memory and time.
    "EXPORT_PAGE_SAMPLES": lambda: int(os.environ.get("EXPORT_PAGE_SAMPLES", "100")),
    # Buckets (comma-separated) whose objects admins may register without copying (sources.py).
    "IMPORT_BUCKETS": _import_buckets,
}
# Token keys: JWT_SECRET or JWT_SECRET_PARAMETER, read per request by signing_keys.py.

# For type checkers: the settings' types (the values come from __getattr__).
TABLE_PREFIX: str
DATA_BUCKET: str
REGION: str
S3_PUBLIC_ENDPOINT_URL: str | None
S3_ADDRESSING_STYLE: str
PRESIGN_SECONDS: int
INGEST_QUEUE: str
INGEST_FUNCTION: str
EXPORT_QUEUE: str
EXPORT_PAGE_SAMPLES: int
IMPORT_BUCKETS: tuple[str, ...]


@functools.cache
def _settings() -> dict:
    return {name: read() for name, read in READERS.items()}


def reload() -> None:
    """Read the environment again, forgetting values read or set before (a test's setattr)."""
    _settings.cache_clear()
    for name in READERS:
        globals().pop(name, None)


def __getattr__(name: str):
    if name not in READERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _settings()[name]
