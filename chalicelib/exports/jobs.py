"""Export jobs: the options a caller asked for (schemas.ExportOptions), the job record, and the queue.

A job record is a JSON object in the data bucket at `exports/<task_id>/<export_id>/job.json`,
next to everything the worker writes for it, so deleting a task's `exports/` prefix (tasks.py)
or the bucket's lifecycle rule (infra/template.yaml) removes a job with its files. Only the
route (creating it) and the worker (one step at a time, in order) write it.
"""
import json
import secrets
import threading

from botocore.session import get_session

from .. import clock, config, storage
from ..errors import BadRequest, NotFound
from ..models import Task
from ..schemas import ExportOptions, parse

LISTED = 20  # exports shown by GET /tasks/{id}/exports, newest first


def parse_options(task: Task, data: dict) -> ExportOptions:
    unknown = sorted(set(data) - set(ExportOptions.model_fields))
    if unknown:
        raise BadRequest(f"Unknown export option {', '.join(unknown)}: the options are "
                         f"{', '.join(ExportOptions.model_fields)}.", code="invalid_option")
    options = parse(ExportOptions, data)
    missing = [label for label in options.labels or [] if label not in task.labels]
    if missing:
        raise BadRequest(f"labels {', '.join(missing)} are not labels of this task; its labels "
                         f"are {', '.join(map(str, task.labels))}.", code="invalid_option")
    return options


def _record_key(task_id: str, export_id: str) -> str:
    return storage.export_key(task_id, export_id, "job.json")


def create(task: Task, options: ExportOptions, by: str, progress: dict) -> dict:
    """Store a queued job and queue its first step."""
    t = clock.now_exact()
    # Sortable by creation time, so listing newest first needs no record reads.
    export_id = f"{int(t * 1000):013d}-{secrets.token_hex(3)}"
    job = {"id": export_id, "task_id": task.task_id, "status": "queued",
           "options": options.model_dump(), "created_by": by, "created_at": t,
           "updated_at": t, "finished_at": None, "error": None, "size": None,
           "progress": {"done": 0, "total": progress["total"]}, "counts": {},
           "progress_at_start": progress, "agreement": None, "digest": None,
           "key": storage.export_key(task.task_id, export_id, f"{task.task_id}-{options.format}.zip"),
           "state": {"step": 0, "attempts": 0}}
    save(job)
    enqueue(job, 0)
    return job


def save(job: dict) -> None:
    job["updated_at"] = clock.now_exact()
    storage.put_json(_record_key(job["task_id"], job["id"]), job, "application/json")


def load(task_id: str, export_id: str) -> dict:
    job = storage.find_json(_record_key(task_id, export_id))
    if job is None:
        raise NotFound(f"Task '{task_id}' has no export '{export_id}': list them with "
                       f"GET /tasks/{task_id}/exports.", code="export_not_found")
    return job


def recent(task_id: str) -> list[dict]:
    ids = storage.child_names(storage.export_prefix(task_id))
    out = []
    for export_id in sorted(ids, reverse=True)[:LISTED]:
        try:
            out.append(to_json(load(task_id, export_id)))
        except NotFound:  # a job being deleted or expiring right now
            continue
    return out


def to_json(job: dict) -> dict:
    """What callers see: no worker state; a fresh download URL for a finished export."""
    out = {k: v for k, v in job.items() if k not in ("state", "key")}
    if job["status"] == "done":
        out["url"] = storage.presign_get(job["key"])
        out["file_name"] = job["key"].rsplit("/", 1)[1]
    return out


# --- the queue -----------------------------------------------------------------------------

_lock = threading.Lock()
_queue: dict = {}


def _sqs():
    with _lock:
        if "client" not in _queue:
            # botocore, not boto3: boto3 stays off the API's cold start (storage.py).
            client = get_session().create_client("sqs", region_name=config.REGION)
            _queue["client"] = client
            _queue["url"] = client.get_queue_url(QueueName=config.EXPORT_QUEUE)["QueueUrl"]
        return _queue["client"], _queue["url"]


def enqueue(job: dict, step: int) -> None:
    client, url = _sqs()
    client.send_message(QueueUrl=url, MessageBody=json.dumps(
        {"task_id": job["task_id"], "export_id": job["id"], "step": step}))


def queue_url() -> str:
    return _sqs()[1]
