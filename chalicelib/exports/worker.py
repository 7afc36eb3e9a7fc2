"""The export worker: one queue message = one step of one export.

Steps 0, 1, ... each read a page of samples (in sample-id order, from where the previous step
stopped), add their files to the archive and park what a later step needs in S3 under the
job's `work/` prefix: the page's central-directory records, its per-sample summaries and its
COCO records. The last step streams export.json and coco.json from those fragments, appends
the central directory and completes the multipart upload. A step keeps at most one page plus
one multipart part (archive.PART_BYTES) in memory, so memory does not grow with the task and
each invocation stays far below Lambda's 15 minutes.

Every step is safe to repeat: it starts from the state the job record held before it, and
writes the same bytes under the same keys and part numbers. A step that raises is retried by
the queue (the job counts attempts); after MAX_ATTEMPTS the export is `failed` with the reason.
It is `done` only when it saw at least as many samples as the task had when it was asked for.
"""
import hashlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist

from .. import clock, config, sources, storage
from ..errors import NotFound
from ..leases import as_dict, status as sample_status
from ..models import Sample, Task, Version, sample_key
from ..tasks import to_json as task_json
from . import archive, formats, jobs

log = logging.getLogger("cloud-annotator.export")
MAX_ATTEMPTS = 3
LOWEST_KEPT = 25      # samples with the lowest agreement kept for the dashboard
THREADS = 4         # S3/DynamoDB reads overlap; more threads only raise peak memory
CHUNK = 4 * THREADS  # samples decoded at once within a page


def handle(message: dict, redelivered: bool = False) -> None:
    try:
        job = jobs.load(message["task_id"], message["export_id"])
    except NotFound:
        return  # deleted with its task: nothing to do
    state, step = job["state"], int(message["step"])
    if job["status"] in ("done", "failed") or step != state["step"]:
        if redelivered and step == state["step"] - 1 and job["status"] == "running":
            # This step finished but the process died before queueing the next one.
            jobs.enqueue(job, state["step"])
        return
    try:
        task = Task.get(job["task_id"], consistent_read=True)
    except DoesNotExist:
        return
    try:
        (_finish if state.get("exhausted") else _page)(job, task)
    except Exception as exc:  # noqa: BLE001 -- counted, then retried by the queue or failed
        log.exception("export %s step %s failed", job["id"], step)
        job = jobs.load(job["task_id"], job["id"])
        job["state"]["attempts"] = job["state"].get("attempts", 0) + 1
        if job["state"]["attempts"] < MAX_ATTEMPTS:
            jobs.save(job)
            raise
        _fail(job, f"step {step} failed {MAX_ATTEMPTS} times; last error: "
                   f"{exc.__class__.__name__}: {exc}")


def _fail(job: dict, reason: str) -> None:
    upload_id = job["state"].get("upload_id")
    if upload_id:
        try:
            storage.abort_multipart(job["key"], upload_id)
        except ClientError:
            pass  # the lifecycle rule aborts it later
    job.update(status="failed", error=reason, finished_at=clock.now())
    jobs.save(job)


def _work(job: dict, name: str) -> str:
    return storage.export_key(job["task_id"], job["id"], "work/" + name)


_put, _get = storage.put, storage.get_bytes


def _start(job: dict, task: Task) -> dict:
    upload_id = storage.start_multipart(job["key"], "application/zip")
    return {**job["state"], "upload_id": upload_id, "parts": [], "offset": 0,
            "pending": None, "entries": 0, "central_size": 0, "after": None,
            "labels": list(task.labels), "next_annotation": 1, "digests": [],
            "counts": {"samples_seen": 0, "samples_exported": 0, "annotations_exported": 0,
                       "annotations_skipped": 0, "not_selected": 0, "problems": 0},
            "agreement": {"samples": 0, "f1_sum": 0.0, "iou_sum": 0.0, "iou_samples": 0,
                          "lowest": []}}


def _sink(job: dict, state: dict) -> archive.PartSink:
    pending = _get(state["pending"]) if state["pending"] else b""
    return archive.PartSink(job["key"], state["upload_id"], state["parts"], pending)


# --- a page of samples ---------------------------------------------------------------------

def _page(job: dict, task: Task) -> None:
    state = job["state"] if "upload_id" in job["state"] else _start(job, task)
    options, step = job["options"], state["step"]
    want = formats.parts(options["format"])
    condition = Sample.sample_id > state["after"] if state["after"] else None
    samples = list(Sample.query(task.task_id, condition, limit=config.EXPORT_PAGE_SAMPLES,
                                consistent_read=True))
    t, counts, listed, chosen = clock.now(), state["counts"], [], []
    for sample in samples:
        if sample.problem:
            counts["problems"] += 1
            listed.append({"id": sample.sample_id, "status": "problem", "problem": sample.problem})
            continue
        counts["samples_seen"] += 1
        status = sample_status(task, sample, t)
        if options["status"] == "completed" and status != "complete":
            counts["not_selected"] += 1
            continue
        chosen.append((sample, status))

    sink = _sink(job, state)
    writer = archive.Writer(state["offset"], archive.dos_time(job["created_at"]), sink)
    images, annotations, digest = [], [], hashlib.sha256()
    semantic, began, reading = len(task.labels) > 1, time.monotonic(), 0.0
    with ThreadPoolExecutor(THREADS) as pool:
        # A few samples at a time, so only those are held in memory, decoded.
        for first in range(0, len(chosen), CHUNK):
            started = time.monotonic()
            loaded = list(pool.map(lambda s: _load(task, s[0], s[1], options, want),
                                   chosen[first:first + CHUNK]))
            reading += time.monotonic() - started
            label_index = _label_index(loaded, state["labels"], options["labels"])
            built = pool.map(lambda item, index=label_index: formats.build(
                item, options["format"], options["labels"], index, semantic), loaded)
            for item, result in zip(loaded, built):
                for name, data, compress in result.files:
                    writer.add(name, data, compress)
                for record in result.coco_annotations:
                    record["id"] = state["next_annotation"]
                    state["next_annotation"] += 1
                    annotations.append(json.dumps(record, separators=(",", ":")))
                if result.coco_image:
                    images.append(json.dumps(result.coco_image, separators=(",", ":")))
                listed.append(result.summary)
                _count(state, result.summary)
                digest.update(json.dumps([item.sample_id, item.status, [
                    (v["version"], v["by"], v["kind"]) for v in item.chosen]]).encode())
    log.info("export %s step %d: %d samples read, %d exported; %.1f s reading storage, "
             "%.1f s in all", job["id"], step, len(samples), len(chosen), reading,
             time.monotonic() - began)
    pending = _work(job, f"pending/{step}")
    _put(pending, bytes(sink.buffer))
    _put(_work(job, f"pages/{step}.cd"), bytes(writer.out.central))
    _put(_work(job, f"pages/{step}.samples"), ",".join(json.dumps(s) for s in listed).encode())
    if formats.COCO in want:
        _put(_work(job, f"pages/{step}.images"), ",".join(images).encode())
        _put(_work(job, f"pages/{step}.annotations"), ",".join(annotations).encode())
    state.update(parts=sink.parts, offset=writer.offset, pending=pending,
                 entries=state["entries"] + writer.out.count,
                 central_size=state["central_size"] + len(writer.out.central),
                 after=samples[-1].sample_id if samples else state["after"],
                 exhausted=len(samples) < config.EXPORT_PAGE_SAMPLES, step=step + 1, attempts=0)
    state["digests"].append(digest.hexdigest())
    job.update(state=state, status="running", counts=counts,
               progress={"done": counts["samples_seen"], "total": job["progress"]["total"]})
    jobs.save(job)
    jobs.enqueue(job, step + 1)


def _label_index(loaded: list, labels: list, wanted: list | None) -> dict:
    """Label -> number: the task's labels, then others in the order met (`labels` grows)."""
    for item in loaded:
        for annotation in item.annotations.values():
            for feature in annotation.get("features", []) if isinstance(annotation, dict) else ():
                label = (feature.get("properties") or {}).get("label")
                if isinstance(label, str) and label not in labels and \
                        (wanted is None or label in wanted):
                    labels.append(label)
    return {label: i for i, label in enumerate(labels, start=1)}


def _count(state: dict, summary: dict) -> None:
    counts = state["counts"]
    counts["samples_exported"] += 1
    counts["annotations_exported"] += len(summary["exported"])
    counts["annotations_skipped"] += sum(1 for s in summary.get("skipped", []) if "version" in s)
    figure = summary.get("agreement")
    if figure is None:
        return
    acc = state["agreement"]
    acc["samples"] += 1
    acc["f1_sum"] += figure["f1"]
    if figure["mean_iou"] is not None:
        acc["iou_sum"] += figure["mean_iou"]
        acc["iou_samples"] += 1
    acc["lowest"] = sorted(acc["lowest"] + [[figure["f1"], figure["mean_iou"], summary["id"]]],
                           key=lambda x: (x[0], x[1] if x[1] is not None else -1))[:LOWEST_KEPT]


def _load(task: Task, sample: Sample, status: str, options: dict, want: set) -> formats.Loaded:
    """Everything a sample's export needs from DynamoDB and S3 (runs in a worker thread)."""
    versions = [{"version": int(v.version), "kind": v.kind, "by": v.by, "at": int(v.at),
                 "features": int(v.features), "key": v.s3_key}
                for v in Version.query(sample_key(task.task_id, sample.sample_id),
                                       consistent_read=True)]
    chosen = formats.select_versions(versions, options["versions"])
    annotations, stored = {}, {}
    for v in chosen:
        try:
            stored[v["version"]] = _get(v["key"])
            annotations[v["version"]] = json.loads(stored[v["version"]])
        except (ClientError, ValueError) as exc:
            annotations[v["version"]] = f"the stored annotation could not be read ({exc})"
    # Like signing, an export copies only the task's own files (rows may predate the key check).
    refs = {n: r for n, r in as_dict(sample.files).items()
            if r.startswith("https://") or sources.of_task(task, r)}
    media = sample.media or {}
    image_name = next((n for n in sorted(refs) if n in media), min(refs, default=None))
    files, size, problem = {}, None, None
    if formats.GEOJSON in want and options["images"]:
        for name, ref in refs.items():
            files[name] = f"{ref} is a URL, not a stored file: not copied" \
                if ref.startswith("https://") else _get(ref)
    if not (formats.MASKS in want or formats.COCO in want or formats.compared(chosen)):
        pass  # GeoJSON only, nothing to compare: the image size is not needed
    elif image_name in media and media[image_name].get("height"):
        size = (int(media[image_name]["height"]), int(media[image_name]["width"]))
    elif image_name and not refs[image_name].startswith("https://"):
        data = files.get(image_name)
        try:
            size = formats.image_size(data if isinstance(data, bytes) else _get(refs[image_name]))
        except (OSError, ValueError, ClientError) as exc:
            problem = f"the image size is unknown ({exc})"
    else:
        problem = "the image size is unknown (an https URL, never read by the service)"
    return formats.Loaded(sample.sample_id, status, int(sample.order), versions, chosen,
                          annotations, image_name, size, files, problem, stored)


# --- the last step -------------------------------------------------------------------------

def _fragments(job: dict, pages: int, kind: str, opening: bytes, closing: bytes):
    yield opening
    first = True
    for step in range(pages):
        text = _get(_work(job, f"pages/{step}.{kind}"))
        if text:
            yield text if first else b"," + text
            first = False
    yield closing


def _agreement(acc: dict) -> dict | None:
    if not acc["samples"]:
        return None
    return {"samples": acc["samples"], "f1": acc["f1_sum"] / acc["samples"],
            "mean_iou": acc["iou_sum"] / acc["iou_samples"] if acc["iou_samples"] else None,
            "lowest": [{"sample_id": sid, "f1": f1, "mean_iou": iou}
                       for f1, iou, sid in acc["lowest"]]}


def _finish(job: dict, task: Task) -> None:
    state, options = job["state"], job["options"]
    counts, expected = state["counts"], job["progress_at_start"]["total"]
    if counts["samples_seen"] < expected:
        _fail(job, f"the task had {expected} samples when the export was asked for but only "
                   f"{counts['samples_seen']} were found: ask for the export again")
        return
    pages, labels = state["step"], state["labels"]
    digest = hashlib.sha256(json.dumps([options, labels, state["digests"]]).encode()).hexdigest()
    agreement = _agreement(state["agreement"])
    head = {"task": task_json(task), "export": {"id": job["id"], "created_at": job["created_at"],
                                                 "options": options, "digest": digest},
            "progress_at_start": job["progress_at_start"], "counts": counts,
            "labels": {label: i for i, label in enumerate(labels, start=1)},
            "mask_values": {"instances": "feature k of the annotation (1-based); 0 background",
                            "semantic": "the label's number in `labels`; 0 background"},
            "agreement": agreement}
    if not storage.exists(job["key"]):  # else: completed by an attempt that died before recording it
        _assemble(job, task, head)
    storage.delete_prefix(_work(job, ""))
    archive_object = storage.head(job["key"])
    if archive_object is None:  # completed above or by an earlier attempt: S3 lost it
        raise RuntimeError(f"the archive {job['key']} is missing after completing it")
    size = archive_object.size
    state.update(step=pages + 1)
    job.update(status="done", size=size, finished_at=clock.now(), digest=digest,
               agreement=agreement, counts={**counts, "files": state["entries"] + _last_step_files(options)})
    jobs.save(job)


def _last_step_files(options: dict) -> int:
    """Files the last step adds: export.json, and coco.json when COCO was asked for."""
    return 1 + (formats.COCO in formats.parts(options["format"]))


def _assemble(job: dict, task: Task, head: dict) -> None:
    """export.json and coco.json from the pages' fragments, the central directory, done."""
    state, options, pages, labels = job["state"], job["options"], job["state"]["step"], job["state"]["labels"]
    sink = _sink(job, state)
    writer = archive.Writer(state["offset"], archive.dos_time(job["created_at"]), sink)
    opening = json.dumps(head, indent=1)[:-2].encode() + b',\n "samples": ['
    writer.stream("export.json", _fragments(job, pages, "samples", opening, b"]\n}\n"))
    if formats.COCO in formats.parts(options["format"]):
        categories = [{"id": i, "name": label, "supercategory": ""}
                      for i, label in enumerate(labels, start=1)]
        info = {"description": f"{task.task_id}: {task.name}", "export_id": job["id"],
                "coordinates": "image pixels, x = column, y = row from the top"}
        opening = (json.dumps({"info": info, "categories": categories})[:-1] + ',"images":[').encode()
        images = _fragments(job, pages, "images", opening, b"],")
        annotations = _fragments(job, pages, "annotations", b'"annotations":[', b"]}")
        writer.stream("coco.json", (piece for part in (images, annotations) for piece in part))
    central_at = writer.offset
    for step in range(pages):
        sink.write(_get(_work(job, f"pages/{step}.cd")))
    sink.write(bytes(writer.out.central))
    entries = state["entries"] + writer.out.count
    central_size = state["central_size"] + len(writer.out.central)
    sink.write(archive.end_records(entries, central_size, central_at))
    sink.complete()
