"""Ingest: every image becomes browser-ready before an annotator can be handed it.

`ingest_object` runs imaging.prepare_image on one stored object and writes, in the data bucket
under storage.derived_prefix: `display.png` (8-bit, same size), `thumbnail.png` and
`ingest.json` (the metadata, or the reason the file was refused). The original is never
touched. A label mask is read into polygons the same way (`mask.json`). The record is keyed
by the object's ETag, so running it twice costs one HEAD and one GET of the record.

Where it runs: deployed, the S3 upload notification (through an SQS queue to the on_upload
worker function) does the work as soon as a file lands, and the import route (`ingested`)
finds the records done. What is not done yet (an import bucket's objects, label masks, an
upload whose notification is still queued) the import route hands to the ingest_now worker
function (INGEST_FUNCTION) and waits: the API function has no numpy or Pillow. Locally
(chalice local fires no S3 events and invokes no functions; INGEST_FUNCTION unset) the import
route runs the same ingest_objects in its own process. Either way no sample is registered
without it.

`prepare_import` turns an import request into what samples.register stores: file names point
at the browser-ready copies, `media` records each file's original and metadata, and a sample
with an unreadable file gets a `problem` (registered, visible to owners, never dispatched).
A file named `annotation.png` / `annotation.tif(f)` is a label mask: it becomes the sample's
pre-annotation (masks.py, labelled with the task's first label), not an image to show.
"""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import unquote_plus

from botocore.session import get_session

from .. import config, sources, storage
from ..annotation_format import FeatureCollection
from ..auth import Principal
from ..errors import BadRequest, TooLarge
from ..models import Sample, Task
from ..schemas import SampleSpec

# Lambda memory (512 MB, infra/deploy.py) is the bound: the file's bytes are held while
# imaging.py decodes its first page (at most imaging.MAX_PIXELS).
MAX_INGEST_BYTES = 128 * 1024 ** 2
MASK_NAMES = ("annotation.png", "annotation.tif", "annotation.tiff")
# The record beside an object's browser-ready copies, by what the object was read as.
RECORD_NAMES = {False: "ingest.json", True: "mask.json"}


def ingest_object(bucket: str, key: str, mask: bool = False) -> dict:
    """Make one object browser-ready, or read it as a label mask into polygons (idempotent);
    returns its ingest record. Decodes: runs where numpy and Pillow are (the worker functions;
    locally, any process)."""
    record_key = storage.derived_key(bucket, key, RECORD_NAMES[mask])
    record = storage.find_json(record_key)
    if record is not None:
        # Done before (by the upload event or an earlier import): still current if the
        # object was not replaced since.
        current = storage.head(key, bucket)
        if current is not None and current.etag == record.get("etag"):
            return record
    # Never read what we will not decode.
    obj = storage.get(key, bucket, max_bytes=MAX_INGEST_BYTES)
    if obj is None:
        return {"error": _absent(bucket, key, mask)}
    record = {"etag": obj.etag, "source": f"s3://{bucket}/{key}"}
    if obj.data is None:
        record["error"] = (f"the file is {obj.size:,} bytes; at most "
                           f"{MAX_INGEST_BYTES:,} can be made browser-ready: split it into tiles")
    elif mask:
        record.update(_mask_features(obj.data))
    else:
        from .imaging import UnsupportedImage, prepare_image  # numpy/Pillow: see _mask_features
        try:
            prepared = prepare_image(obj.data)
        except UnsupportedImage as exc:
            record["error"] = exc.reason
        else:
            display, thumbnail = (storage.derived_key(bucket, key, name)
                                  for name in ("display.png", "thumbnail.png"))
            storage.put(display, prepared.png, "image/png")
            storage.put(thumbnail, prepared.thumbnail, "image/png")
            record.update(prepared.metadata.to_dict(), display=display, thumbnail=thumbnail)
    storage.put_json(record_key, record, "application/json")
    return record


def _mask_features(data: bytes) -> dict:
    # Imported here, not at the top: numpy and Pillow cost ~60 ms of every cold start, and
    # the API function does not even have them (requirements-worker.txt).
    from .imaging import UnsupportedImage
    from .masks import mask_to_features, read_label_mask
    try:
        return {"annotation": mask_to_features(read_label_mask(data))}
    except UnsupportedImage as exc:
        return {"error": exc.reason}
    except TooLarge as exc:
        return {"error": f"the label mask has too many objects or vertices ({exc.message})"}


def _absent(bucket: str, key: str, mask: bool) -> str:
    return f"no {'label mask' if mask else 'file'} at s3://{bucket}/{key}: upload it first"


def ingest_objects(objects: list[tuple[str, str, bool]]) -> None:
    """ingest_object for each (bucket, key, mask), 8 at a time: the ingest function's work."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda o: ingest_object(*o), objects))


def uploaded_objects(notification: str) -> list[tuple[str, str]]:
    """(bucket, key) of each object an S3 event notification (as an SQS body) reports.
    S3 URL-encodes keys in notifications; its initial s3:TestEvent has no records."""
    records = json.loads(notification).get("Records", [])
    return [(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"])) for r in records
            if r.get("eventName", "").startswith("ObjectCreated")]


# --- the import route's side: reads records, never decodes ---------------------------------

def _recorded(bucket: str, key: str, mask: bool) -> dict | None:
    """The object's current ingest record; None when it has none for its present content."""
    current = storage.get(key, bucket, max_bytes=0)  # a GET, unlike a HEAD, names a missing bucket
    if current is None:
        return {"error": _absent(bucket, key, mask)}
    record = storage.find_json(storage.derived_key(bucket, key, RECORD_NAMES[mask]))
    return record if record is not None and record.get("etag") == current.etag else None


def ingested(objects: list[tuple[str, str, bool]]) -> dict:
    """The ingest record of each (bucket, key, mask); those not ingested yet are ingested first,
    by the ingest function when INGEST_FUNCTION names one (deployed: the API function has no
    numpy or Pillow), else in this process."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        records = dict(zip(objects, pool.map(lambda o: _recorded(*o), objects)))
        missing = [o for o, record in records.items() if record is None]
        if missing and config.INGEST_FUNCTION:
            _invoke(config.INGEST_FUNCTION, {"objects": missing})
            records.update(zip(missing, pool.map(lambda o: _recorded(*o) or {
                "error": "it could not be made browser-ready: import it again"}, missing)))
        elif missing:
            records.update(zip(missing, pool.map(lambda o: ingest_object(*o), missing)))
    return records


_lock = threading.Lock()
_clients: dict = {}


def _invoke(function: str, payload: dict) -> None:
    with _lock:
        if "lambda" not in _clients:
            # botocore, not boto3: boto3 stays off the API's cold start (storage.py).
            _clients["lambda"] = get_session().create_client("lambda", region_name=config.REGION)
    answer = _clients["lambda"].invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    if answer.get("FunctionError"):
        raise RuntimeError(f"{function} failed: {answer['Payload'].read()[:2000]!r}")


@dataclass
class Prepared:
    specs: list[SampleSpec]   # what samples.register stores
    extras: dict[str, dict]   # sample id -> {"media": ..., "problem": ...}


def prepare_import(who: Principal, task: Task, specs: list) -> Prepared:
    """Ingest every file of every new sample (in parallel) and build the registration.

    Samples already registered are passed on untouched (register() skips them or answers 409),
    so resuming a large import does not pay for ingest checks of what is done."""
    registered = {s.sample_id for s in Sample.batch_get([(task.task_id, s.id) for s in specs])}
    # Every reference is checked (a 4xx) before any file is touched.
    work = {(spec.id, name): (*sources.resolve(who, task, ref), name in MASK_NAMES)
            for spec in specs if spec.id not in registered
            for name, ref in spec.files.items() if not ref.startswith("https://")}
    try:
        records = ingested(sorted(set(work.values())))
    except storage.NoSuchBucket as exc:
        # A configured import bucket that was never created: the whole import is wrong.
        raise BadRequest(f"Cannot read from bucket {exc}: it does not exist; ask the "
                         "deployment's operator to create it or fix IMPORT_BUCKETS.",
                         code="invalid_source") from None
    results = {item: records[obj] for item, obj in work.items()}
    label = (task.labels or ["cell"])[0]
    out = Prepared(specs=[], extras={})
    for spec in specs:
        if spec.id in registered:
            out.specs.append(SampleSpec.model_construct(id=spec.id, files=dict(spec.files),
                                                        annotation=spec.annotation))
            continue
        files, media, problems, annotation = {}, {}, [], spec.annotation
        for name, ref in spec.files.items():
            result = results.get((spec.id, name))
            if result is None:                       # an https URL: the browser loads it as is
                files[name] = ref
            elif "error" in result:
                problems.append(f"{name}: {result['error']}")
            elif "annotation" in result:
                annotation = annotation if annotation is not None else _labelled(result, label)
            else:
                files[name] = result["display"]
                media[name] = {k: result[k] for k in ("source", "thumbnail", "width", "height",
                                                      "channels", "dtype", "pages")}
        if not files and not problems:
            problems.append("the sample has no image, only a pre-annotation")
        # A refused sample keeps its original references so owners can see what was sent.
        out.specs.append(SampleSpec.model_construct(
            id=spec.id, files=files if not problems else dict(spec.files), annotation=annotation))
        out.extras[spec.id] = {"media": media, **({"problem": "; ".join(problems)} if problems else {})}
    return out



def _labelled(record: dict, label: str) -> FeatureCollection:
    """A mask's polygons as the task's pre-annotation, in its first label."""
    features = record["annotation"]
    for feature in features["features"]:
        feature["properties"]["label"] = label
    return FeatureCollection.model_validate(features)
