"""Samples: registration (with optional pre-annotation as version 0), listing, detail."""
import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from pynamodb.exceptions import TransactWriteError

from . import storage
from .errors import BadRequest, Conflict
from . import clock
from .leases import as_dict, dispatch_key, status
from .models import Sample, Task, Version, sample_key, transaction
from .validation import SamplesBody

TX_ITEMS = 100  # DynamoDB's limit of items per transaction


def register(task: Task, body: SamplesBody, exist_ok: bool, extras: dict | None = None) -> dict:
    """Registers the samples not yet there; the task's total moves in the same transactions.
    `extras` (sample id -> attributes, from ingest.py) adds media and problem to new samples;
    a sample with a problem is kept for its owners to see but is not work: not in the total."""
    ids = [s.id for s in body.samples]
    existing = {s.sample_id for s in Sample.batch_get([(task.task_id, i) for i in ids])}
    if existing and not exist_ok:
        raise Conflict(f"{len(existing)} of these samples exist already "
                       f"({', '.join(sorted(existing)[:10])}): send ?exist_ok=1 to skip them.",
                       code="sample_exists")
    new = [s for s in body.samples if s.id not in existing]
    if new:
        first = _reserve_order(task, len(new))
        pre_keys = _store_pre_annotations(task, new)
        t = int(time.time())
        chunk, size = [], 1
        for i, spec in enumerate(new):
            items = 2 if spec.id in pre_keys else 1
            if size + items > TX_ITEMS:
                _write_chunk(task, chunk, pre_keys, t, extras or {})
                chunk, size = [], 1
            chunk.append((first + i, spec))
            size += items
        _write_chunk(task, chunk, pre_keys, t, extras or {})
    return {"created": len(new), "existing": sorted(existing)}


def _reserve_order(task: Task, n: int) -> int:
    task.update(actions=[Task.next_order.add(n)], condition=Task.task_id.exists())
    return int(task.next_order) - n


def _store_pre_annotations(task: Task, specs) -> dict[str, str]:
    with_pre = [s for s in specs if s.annotation is not None]

    def put(spec):
        key = f"annotations/{task.task_id}/{spec.id}/pre-{uuid.uuid4().hex}.json"
        storage.put_json(key, spec.annotation.model_dump(mode="json"))
        return spec.id, key
    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(put, with_pre))


def _write_chunk(task: Task, chunk, pre_keys: dict, t: int, extras: dict) -> None:
    try:
        with transaction() as tx:
            for order, spec in chunk:
                pre = pre_keys.get(spec.id)
                sample = Sample(task.task_id, spec.id, order=order, files=spec.files, created_at=t,
                                heads={"pre": {"v": 0, "key": pre}} if pre else {},
                                **extras.get(spec.id, {}))
                sample.dispatch_key = dispatch_key(task, sample, t)
                tx.save(sample, condition=Sample.sample_id.does_not_exist())
                if pre:
                    tx.save(Version(sample_key(task.task_id, spec.id), 0, kind="pre", by="import",
                                    at=t, s3_key=pre,
                                    features=len(spec.annotation.features)))
            work = sum(1 for _, spec in chunk if not extras.get(spec.id, {}).get("problem"))
            tx.update(task, actions=[Task.total.add(work)], condition=Task.task_id.exists())
    except TransactWriteError as exc:
        raise Conflict("Some of these samples were registered by another request at the same "
                       "time: repeat with ?exist_ok=1.", code="sample_exists") from exc


# --- reading -------------------------------------------------------------------------------

STATUSES = ("available", "in_progress", "complete", "problem")
DEFAULT_PAGE, MAX_PAGE = 100, 1000  # samples per page of GET /tasks/{task_id}/samples


def _decode_cursor(cursor: str | None):
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise BadRequest("The cursor is not one this API returned: start again without it.",
                         code="invalid_cursor") from None


def _encode_cursor(key) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def to_json(task: Task, sample: Sample, t: int | None = None) -> dict:
    return {"id": sample.sample_id, "status": status(task, sample, t or clock.now()), "order": int(sample.order),
            "files": as_dict(sample.files),
            "submitted": int(sample.done), "version": int(sample.nver),
            **({"media": sample.media} if sample.media else {}),
            **({"problem": sample.problem} if sample.problem else {})}


def list_page(task: Task, status_filter: str | None, limit: int, cursor: str | None) -> dict:
    if status_filter and status_filter not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}.", code="invalid_status")
    t, out, last = clock.now(), [], _decode_cursor(cursor)
    while len(out) < limit:
        page = Sample.query(task.task_id, limit=limit - len(out), last_evaluated_key=last)
        for sample in page:
            item = to_json(task, sample, t)
            if not status_filter or item["status"] == status_filter:
                out.append(item)
        last = page.last_evaluated_key
        if not last:
            break
    return {"samples": out, "cursor": _encode_cursor(last)}


def detail(task: Task, sample: Sample) -> dict:
    versions = [{"version": int(v.version), "by": v.by, "at": int(v.at), "kind": v.kind,
                 "features": int(v.features)}
                for v in Version.query(sample_key(task.task_id, sample.sample_id))]
    return {**to_json(task, sample), "versions": versions}


def signed_files(sample: Sample) -> dict[str, str]:
    return {name: storage.file_url(ref) for name, ref in as_dict(sample.files).items()}
