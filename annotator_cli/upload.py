"""`samples add`: upload local files straight to S3 and import the samples, or import ones
already in S3 / on the web.

Streaming and resumable by design:
- samples go in batches (BATCH samples): hash, ask the API for presigned PUTs, upload, import;
  only one batch's file names are in flight and no file is ever read whole into memory
  (hashing and uploading both stream from disk);
- the API answers "exists" for a file already stored with the same size and SHA-256, and the
  import skips sample ids that exist, so an interrupted run is resumed by running it again.
"""
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from .client import ApiError, Client
from .layout import SampleSource

BATCH = 100            # samples per import request (the API's limit)
PLAN_FILES = 1000      # files per uploads request (the API's limit)
CHUNK = 1024 * 1024
PUT_ATTEMPTS = 4


@dataclass
class Stats:
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    files_skipped: int = 0
    samples_created: int = 0
    samples_existing: int = 0
    problems: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Progress:
    """Callbacks the CLI draws with; all optional so the client works headless."""
    bytes_sent: Callable[[int], None] = lambda n: None
    file_done: Callable[[int, bool], None] = lambda size, uploaded: None
    samples_done: Callable[[int], None] = lambda n: None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Reader:
    """A file handle requests streams from, reporting bytes as they leave."""

    def __init__(self, fh, size: int, report: Callable[[int], None]):
        self.fh, self.size, self.report = fh, size, report

    def __len__(self):
        return self.size

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(CHUNK if n is None or n < 0 else n)
        self.report(len(data))
        return data


def add_samples(client: Client, task_id: str, samples: list[SampleSource], jobs: int = 8,
                progress: Progress | None = None) -> Stats:
    progress = progress or Progress()
    stats, started = Stats(), time.monotonic()
    http = requests.Session()
    # One pooled connection per upload thread (requests' default pool keeps 10).
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=jobs)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    # Importing a batch (server-side ingest) overlaps uploading the next one; at most one
    # import is in flight, so a failure stops the run one batch later at the latest.
    with ThreadPoolExecutor(max_workers=jobs) as pool, ThreadPoolExecutor(max_workers=1) as importer:
        pending = None
        for start in range(0, len(samples), BATCH):
            batch = samples[start:start + BATCH]
            keys = _upload_batch(client, task_id, batch, pool, http, progress, stats)
            if pending is not None:
                pending.result()
            pending = importer.submit(_import_batch, client, task_id, batch, keys, stats, progress)
        if pending is not None:
            pending.result()
    stats.seconds = time.monotonic() - started
    return stats


def _upload_batch(client, task_id, batch, pool, http, progress, stats) -> dict:
    """Upload the local files of a batch; returns (sample id, name) -> key for every file."""
    local = [(s.id, name, path) for s in batch for name, path in s.files.items()
             if isinstance(path, Path)]
    sums = list(pool.map(lambda f: sha256_file(f[2]), local))
    wanted = [{"sample_id": sid, "name": name, "size": path.stat().st_size, "sha256": digest}
              for (sid, name, path), digest in zip(local, sums)]
    paths = {(sid, name): path for sid, name, path in local}
    keys = {}
    for i in range(0, len(wanted), PLAN_FILES):
        plan = client.plan_uploads(task_id, wanted[i:i + PLAN_FILES])
        for entry in plan:
            keys[(entry["sample_id"], entry["name"])] = entry["key"]
        for entry in (e for e in plan if e["status"] == "exists"):
            size = paths[(entry["sample_id"], entry["name"])].stat().st_size
            stats.files_skipped += 1
            progress.file_done(size, False)
        todo = [e for e in plan if e["status"] == "upload"]
        for size in pool.map(lambda e: _put(http, e, paths[(e["sample_id"], e["name"])], progress), todo):
            stats.files_uploaded += 1
            stats.bytes_uploaded += size
            progress.file_done(size, True)
    return keys


def _put(http: requests.Session, entry: dict, path: Path, progress: Progress) -> int:
    size = path.stat().st_size
    for attempt in range(1, PUT_ATTEMPTS + 1):
        sent = [0]

        def report(n, sent=sent):
            sent[0] += n
            progress.bytes_sent(n)
        try:
            with path.open("rb") as fh:
                response = http.put(entry["url"], data=_Reader(fh, size, report), timeout=300,
                                    headers={**entry["headers"], "Content-Length": str(size)})
            if response.ok:
                return size
            # A 4xx (expired or wrong signature) will not cure itself by retrying.
            error, final = f"HTTP {response.status_code}: {response.text[:200]}", response.status_code < 500
        except requests.RequestException as exc:
            error, final = f"{exc.__class__.__name__}: {exc}", False
        progress.bytes_sent(-sent[0])  # a retry sends it all again
        if final or attempt == PUT_ATTEMPTS:
            break
        time.sleep(0.5 * 2 ** attempt)
    raise ApiError(0, "upload_failed", f"Uploading {path} failed ({error}); run the same "
                   "command again to resume.")


def _import_batch(client, task_id, batch, keys, stats, progress) -> None:
    specs = []
    for sample in batch:
        files = {name: keys[(sample.id, name)] if isinstance(ref, Path) else ref
                 for name, ref in sample.files.items()}
        specs.append({"id": sample.id, "files": files, "annotation": sample.load_annotation()})
    result = client.import_samples(task_id, specs)
    stats.samples_created += result["created"]
    stats.samples_existing += len(result["existing"])
    stats.problems.update(result.get("problems", {}))
    progress.samples_done(len(batch))
