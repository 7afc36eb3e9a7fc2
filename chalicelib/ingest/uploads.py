"""Uploads go straight from the admin's machine to S3, through presigned PUT URLs.

The API never carries image bytes (API Gateway caps bodies at 10 MB and Lambda time costs
money). For each file the caller announces its size and SHA-256; an object already at its key
with the same size and checksum is reported as "exists" and not signed again, which is what
makes a rerun of an interrupted upload resume instead of starting over. The checksum travels
as signed `x-amz-meta-sha256` metadata so the next run can compare without downloading.

Keys are storage.upload_key's: one folder per sample, per task.
"""
from concurrent.futures import ThreadPoolExecutor

from .. import storage
from ..schemas import UploadFile, UploadsBody


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
