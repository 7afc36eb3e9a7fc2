"""Getting an export onto disk: ask for it, wait while the service builds it, download it
(resumable with HTTP Range), unpack it, and remember what was unpacked.

`dest/.annotate-export.json` records the options, the export's content digest and an
unfinished download. Running the same export again resumes an interrupted download, and when
the service reports the same digest (nothing changed since) downloads nothing.
"""
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

STATE_FILE = ".annotate-export.json"
# No fixed deadline (a big task takes as long as it takes): give up only when the export
# has not moved at all for this long.
STALL_SECONDS = 600
CHUNK = 1 << 20


class ExportFailed(Exception):
    pass


@dataclass
class Result:
    export: dict                         # the export record as the API reports it
    dest: Path
    written: list[Path] = field(default_factory=list)
    unchanged: bool = False              # same content as already unpacked: nothing fetched
    downloaded: int = 0                  # bytes fetched by this call
    resumed_from: int = 0                # bytes of an earlier interrupted download reused


def _load_state(dest: Path) -> dict:
    try:
        return json.loads((dest / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _save_state(dest: Path, state: dict) -> None:
    (dest / STATE_FILE).write_text(json.dumps(state, indent=1))


def fetch(client, task_id: str, options: dict, dest, on_build=None, on_download=None,
          poll: float = 1.0) -> Result:
    """on_build(done, total) while the service works; on_download(done, total) in bytes."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    state = _load_state(dest)
    partial = state.get("partial")
    job = None
    if partial and partial.get("task_id") == task_id and partial.get("options") == options:
        try:
            job = client.get_export(task_id, partial["export_id"])
        except Exception:  # noqa: BLE001 -- expired or deleted: build a new one
            job = None
        if job is not None and job["status"] != "done":
            job = None
    if job is None:
        export_id = client.start_export(task_id, options)["export_id"]
        job = wait(client, task_id, export_id, on_build, poll)
    elif on_build:
        on_build(job["progress"]["total"], job["progress"]["total"])
    result = Result(export=job, dest=dest)
    if state.get("task_id") == task_id and state.get("options") == options and \
            state.get("digest") == job["digest"] and \
            all((dest / name).exists() for name in state.get("files", [])[:1000]):
        result.unchanged = True
        return result
    archive = dest / f".{job['id']}.zip.part"
    state["partial"] = {"task_id": task_id, "options": options, "export_id": job["id"]}
    _save_state(dest, state)
    result.resumed_from = archive.stat().st_size if archive.exists() else 0
    result.downloaded = _download(client, task_id, job, archive, on_download)
    result.written = _unpack(archive, dest)
    archive.unlink()
    _save_state(dest, {"task_id": task_id, "options": options, "export_id": job["id"],
                       "digest": job["digest"],
                       "files": [str(p.relative_to(dest)) for p in result.written]})
    return result


def wait(client, task_id: str, export_id: str, on_build=None, poll: float = 1.0) -> dict:
    last, moved = None, time.monotonic()
    while True:
        job = client.get_export(task_id, export_id)
        if on_build:
            on_build(job["progress"]["done"], job["progress"]["total"])
        if job["status"] == "done":
            return job
        if job["status"] == "failed":
            raise ExportFailed(f"export {export_id} failed: {job['error']}")
        seen = (job["status"], job["progress"]["done"], job.get("updated_at"))
        if seen != last:
            last, moved = seen, time.monotonic()
        elif time.monotonic() - moved > STALL_SECONDS:
            raise ExportFailed(f"export {export_id} has not moved for {STALL_SECONDS} s "
                               f"(status {job['status']}): is the export worker running?")
        time.sleep(poll)


def _download(client, task_id: str, job: dict, archive: Path, on_download) -> int:
    """Append to what an earlier attempt fetched (Range); returns the bytes fetched now."""
    fetched, total = 0, job["size"]
    for attempt in range(5):
        have = archive.stat().st_size if archive.exists() else 0
        if have == total:
            return fetched
        if have > total:
            archive.unlink()
            have = 0
        if on_download:
            on_download(have, total)
        url = client.get_export(task_id, job["id"])["url"]   # signed now: never stale
        try:
            with requests.get(url, headers={"Range": f"bytes={have}-"} if have else {},
                              stream=True, timeout=client.timeout) as answer:
                answer.raise_for_status()
                mode = "ab" if answer.status_code == 206 else "wb"
                have = have if mode == "ab" else 0
                with archive.open(mode) as out:
                    for chunk in answer.iter_content(CHUNK):
                        out.write(chunk)
                        fetched += len(chunk)
                        have += len(chunk)
                        if on_download:
                            on_download(have, total)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
            time.sleep(2 ** attempt * 0.2)   # resume from what arrived
    if archive.stat().st_size != total:
        raise ExportFailed(f"the download stopped at {archive.stat().st_size:,} of {total:,} "
                           "bytes: run the same command again to resume")
    return fetched


def _unpack(archive: Path, dest: Path) -> list[Path]:
    written = []
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if root not in target.parents:
                raise ExportFailed(f"the archive names a file outside {dest}: {info.filename}")
            zf.extract(info, dest)
            written.append(dest / info.filename)
    return written
