"""Samples: registration (with optional pre-annotation as version 0), listing, detail."""
import base64
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from pynamodb.exceptions import TransactWriteError

from . import clock, sources, storage
from .errors import BadRequest, Conflict, NotFound, Unavailable
from .leases import as_dict, dispatch_key, status
from .models import Sample, Task, Version, sample_key, transaction
from .ids import SAMPLE_ID
from .schemas import SamplesBody

TX_ITEMS = 100  # DynamoDB's limit of items per transaction


def register(task: Task, body: SamplesBody, exist_ok: bool, extras: dict | None = None) -> dict:
    """Registers the samples not yet there; the task's total moves in the same transactions.
    `extras` (sample id -> attributes, from ingest.py) adds media and problem to new samples;
    a sample with a problem is kept for its owners to see but is not work: not in the total.

    Idempotent: a sample already stored with the same files and pre-annotation (say, by an
    earlier attempt of this request whose answer was lost) is listed as existing, never a
    conflict; only other files under an existing id are (409 unless exist_ok). A request larger
    than one transaction lands in parts; if one part fails for good, the answer says exactly
    which samples were stored."""
    extras = extras or {}
    digests = {s.id: _digest(s) for s in body.samples}
    stored = {s.sample_id: s for s in Sample.batch_get([(task.task_id, i) for i in digests])}
    different = sorted(i for i, s in stored.items() if s.spec != digests[i])
    if different and not exist_ok:
        raise Conflict(f"{len(different)} of these samples exist already with other files "
                       f"({', '.join(different[:10])}): send ?exist_ok=1 to skip them.",
                       code="sample_exists")
    new = [s for s in body.samples if s.id not in stored]
    if new:
        first = _reserve_order(task, len(new))
        pre_keys = _store_pre_annotations(task, new, digests)
        t = clock.now()
        chunks, chunk, size = [], [], 1
        for i, spec in enumerate(new):
            items = 2 if spec.id in pre_keys else 1
            if size + items > TX_ITEMS:
                chunks.append(chunk)
                chunk, size = [], 1
            chunk.append((first + i, spec))
            size += items
        chunks.append(chunk)
        done: list[str] = []
        for chunk in chunks:
            _write_chunk(task, chunk, pre_keys, digests, t, extras, done)
            done += [spec.id for _, spec in chunk]
    return {"created": len(new), "existing": sorted(stored)}


def _digest(spec) -> str:
    """What a sample was registered with: files and pre-annotation."""
    annotation = spec.annotation.model_dump(mode="json") if spec.annotation is not None else None
    return hashlib.sha256(json.dumps({"files": dict(spec.files), "annotation": annotation},
                                     sort_keys=True).encode()).hexdigest()


def _reserve_order(task: Task, n: int) -> int:
    task.update(actions=[Task.next_order.add(n)], condition=Task.task_id.exists())
    return int(task.next_order) - n


def _store_pre_annotations(task: Task, specs, digests: dict) -> dict[str, str]:
    with_pre = [s for s in specs if s.annotation is not None]

    def put(spec):
        # Named by content: a retried registration rewrites the same object, leaves no orphan.
        key = storage.annotation_key(task.task_id, spec.id, f"pre-{digests[spec.id][:32]}")
        storage.put_json(key, spec.annotation.model_dump(mode="json"))
        return spec.id, key
    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(put, with_pre))


def _write_chunk(task: Task, chunk, pre_keys: dict, digests: dict, t: int, extras: dict,
                 done: list[str]) -> None:
    tx = transaction()
    try:
        with tx:
            for order, spec in chunk:
                pre = pre_keys.get(spec.id)
                sample = Sample(task.task_id, spec.id, order=order, files=spec.files, created_at=t,
                                spec=digests[spec.id],
                                heads={"pre": {"v": 0, "key": pre}} if pre else {},
                                **extras.get(spec.id, {}))
                sample.dispatch_key = dispatch_key(task, sample, t)
                tx.save(sample, condition=Sample.sample_id.does_not_exist(), name=spec.id)
                if pre:
                    tx.save(Version(sample_key(task.task_id, spec.id), 0, kind="pre", by="import",
                                    at=t, s3_key=pre, features=len(spec.annotation.features)),
                            name=f"{spec.id}@v0")
            work = sum(1 for _, spec in chunk if not extras.get(spec.id, {}).get("problem"))
            tx.update(task, actions=[Task.total.add(work)], condition=Task.task_id.exists(),
                      name="task")
    except TransactWriteError as exc:
        failed = tx.failed(exc)
        if "task" in failed:
            raise NotFound(f"Task '{task.task_id}' was deleted.", code="task_not_found") from exc
        if not failed:  # throttled, or the answer was lost: the same request converges
            raise Unavailable("The database is busy; repeat the same request.") from exc
        stored = f"{len(done)} were stored ({', '.join(done[:10])}{', ...' if len(done) > 10 else ''})" \
            if done else "none was stored"
        raise Conflict(f"Another request registered {', '.join(sorted(failed)[:10])} at the same "
                       f"time with other files; of this request's new samples {stored}. Repeat "
                       "with ?exist_ok=1 to register the rest.", code="sample_exists") from exc


# --- reading -------------------------------------------------------------------------------

STATUSES = ("available", "in_progress", "complete", "problem")
DEFAULT_PAGE, MAX_PAGE = 100, 1000  # samples per page of GET /tasks/{task_id}/samples


def _decode_cursor(task: Task, cursor: str | None):
    """The key a listing stopped at, exactly as this API wrote it, or a 400: a cursor is never
    handed to DynamoDB unchecked (a malformed one would fail there, and read as 'busy')."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        sample_id = key["sample_id"]["S"]
        valid = set(key) == {"task_id", "sample_id"} and key["task_id"] == {"S": task.task_id} \
            and set(key["sample_id"]) == {"S"} and isinstance(sample_id, str) and \
            SAMPLE_ID.match(sample_id)
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise BadRequest("The cursor is not one this API returned: start again without it.",
                         code="invalid_cursor")
    return key


def _encode_cursor(key) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def to_json(task: Task, sample: Sample, t: int | None = None) -> dict:
    return {"id": sample.sample_id, "status": status(task, sample, t or clock.now()), "order": int(sample.order),
            "files": as_dict(sample.files),
            "submitted": int(sample.done), "version": int(sample.latest_version),
            **({"media": sample.media} if sample.media else {}),
            **({"problem": sample.problem} if sample.problem else {})}


def list_page(task: Task, status_filter: str | None, limit: int, cursor: str | None) -> dict:
    if status_filter and status_filter not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}.", code="invalid_status")
    t, out, last = clock.now(), [], _decode_cursor(task, cursor)
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


def all_ids(task: Task) -> list[str]:
    """Every sample id of the task, finished ones included (reads ids only)."""
    return [s.sample_id for s in Sample.query(task.task_id, attributes_to_get=["sample_id"])]


def detail(task: Task, sample: Sample, only: str | None = None) -> dict:
    """`only`: name just this user's versions (an annotator sees whose are theirs, not who
    else worked on the sample)."""
    versions = [{"version": int(v.version), "by": v.by if only in (None, v.by) else None,
                 "at": int(v.at), "kind": v.kind,
                 "features": int(v.features)}
                for v in Version.query(sample_key(task.task_id, sample.sample_id))]
    return {**to_json(task, sample), "versions": versions}


def signed_files(task: Task, sample: Sample) -> dict[str, str]:
    """Browser URLs of the sample's files; a key outside the task is refused (sources.py)."""
    return {name: storage.file_url(sources.signable(task, ref))
            for name, ref in as_dict(sample.files).items()}
