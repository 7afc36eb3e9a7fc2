"""Uploads go straight from the admin's machine to S3, through presigned PUT URLs.

The API never carries image bytes (API Gateway caps bodies at 10 MB and Lambda time costs
money). For each file the caller announces its size and SHA-256; an object already at its key
with the same size and checksum is reported as "exists" and not signed again, which is what
makes a rerun of an interrupted upload resume instead of starting over. The checksum travels
as signed `x-amz-meta-sha256` metadata so the next run can compare without downloading.

Keys are storage.upload_key's: one folder per sample, per task.
"""
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from pydantic import Field, StringConstraints

from .. import storage
from ..validation import FileName, SampleId, Strict

MAX_FILES_PER_REQUEST = 1000
# A single presigned PUT may carry up to 5 GB; beyond that S3 needs multipart.
MAX_FILE_BYTES = 5 * 1024 ** 3

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class UploadFile(Strict):
    sample_id: SampleId
    name: FileName
    size: Annotated[int, Field(ge=1, le=MAX_FILE_BYTES)]
    sha256: Sha256


class UploadsBody(Strict):
    files: Annotated[list[UploadFile], Field(min_length=1, max_length=MAX_FILES_PER_REQUEST)]


def plan(task_id: str, body: UploadsBody) -> list[dict]:
    """One entry per file: "exists" (same size and checksum already stored) or a PUT to do."""
    def one(f: UploadFile) -> dict:
        key = storage.upload_key(task_id, f.sample_id, f.name)
        entry = {"sample_id": f.sample_id, "name": f.name, "key": key}
        if _stored_checksum(key, f.size) == f.sha256:
            return {**entry, "status": "exists"}
        headers = {"x-amz-meta-sha256": f.sha256}
        url = storage.presign_put(key, metadata={"sha256": f.sha256})
        return {**entry, "status": "upload", "url": url, "headers": headers}
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, body.files))


def _stored_checksum(key: str, size: int) -> str | None:
    stored = storage.head(key)
    if stored is None or stored.size != size:
        return None
    return stored.metadata.get("sha256")
