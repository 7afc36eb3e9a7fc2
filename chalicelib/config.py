"""Deployment settings, read from the environment.

The local backend differs from AWS only here: `AWS_ENDPOINT_URL` (honoured natively by
botocore, hence by boto3 and PynamoDB) points every client at moto, and
`S3_ADDRESSING_STYLE=path` makes presigned URLs that a browser can reach on 127.0.0.1.
Values are read at import time: chalice applies the stage's variables before importing app.py.
"""
import os

TABLE_PREFIX = os.environ.get("TABLE_PREFIX", "cloud-annotator-")
DATA_BUCKET = os.environ.get("DATA_BUCKET", "cloud-annotator-data")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
# Where browsers reach S3; defaults to where the service reaches it.
S3_PUBLIC_ENDPOINT_URL = os.environ.get("S3_PUBLIC_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
S3_ADDRESSING_STYLE = os.environ.get("S3_ADDRESSING_STYLE", "auto")
# Presigned URLs are short-lived and signed at read time, never stored.
PRESIGN_SECONDS = int(os.environ.get("PRESIGN_SECONDS", "900"))
# SQS queue the data bucket notifies of uploads (`uploads/` prefix); its consumer runs ingest.
INGEST_QUEUE = os.environ.get("INGEST_QUEUE", "cloud-annotator-ingest")
# The worker function the import route has decode what is not ingested yet (chalicelib/ingest/
# imports.py); unset (locally), the route decodes in its own process.
INGEST_FUNCTION = os.environ.get("INGEST_FUNCTION", "")
# SQS queue of export steps (chalicelib/exports); its consumer builds exports page by page.
EXPORT_QUEUE = os.environ.get("EXPORT_QUEUE", "cloud-annotator-export")
# Samples an export step reads at once: bounds a step's memory and time.
EXPORT_PAGE_SAMPLES = int(os.environ.get("EXPORT_PAGE_SAMPLES", "100"))
# Buckets (comma-separated) whose objects admins may register without copying (sources.py).
IMPORT_BUCKETS = tuple(b.strip() for b in os.environ.get("IMPORT_BUCKETS", "").split(",") if b.strip())

# Token keys: JWT_SECRET or JWT_SECRET_PARAMETER, read per request by signing_keys.py.
