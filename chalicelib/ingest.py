"""Ingest: every image becomes browser-ready before an annotator can be handed it.

`ingest_object` runs imaging.prepare_image on one stored object and writes, in the data bucket
under `derived/<bucket>/<key>/`: `display.png` (8-bit, same size), `thumbnail.png` and
`ingest.json` (the metadata, or the reason the file was refused). The original is never
touched. The record is keyed by the object's ETag, so running it twice costs one HEAD and one
GET of the record: deployed, the S3 upload notification (through an SQS queue to
routes.admin.on_upload) does the work as soon as a file lands and the import route finds it
done; locally (chalice local fires no S3 events) the import route does it itself. Either way
no sample is registered without it.

`prepare_import` turns an import request into what samples.register stores: file names point
at the browser-ready copies, `media` records each file's original and metadata, and a sample
with an unreadable file gets a `problem` (registered, visible to owners, never dispatched).
A file named `annotation.png` / `annotation.tif(f)` is a label mask: it becomes the sample's
pre-annotation (masks.py), not an image to show.
"""
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from . import config, sources, storage
from .annotation_format import FeatureCollection
from .auth import Principal
from .errors import BadRequest, TooLarge
from .models import Sample, Task
from .schemas import SampleSpec

# Lambda memory (512 MB, infra/deploy.py) is the bound: the file's bytes are held while
# imaging.py decodes its first page (at most imaging.MAX_PIXELS).
MAX_INGEST_BYTES = 128 * 1024 ** 2
MASK_NAMES = ("annotation.png", "annotation.tif", "annotation.tiff")


def derived_prefix(bucket: str, key: str) -> str:
    return f"derived/{bucket}/{key}/"


def ingest_object(bucket: str, key: str) -> dict:
    """Make one object browser-ready (idempotent); returns its ingest record."""
    prefix = derived_prefix(bucket, key)
    record = _read_record(prefix)
    if record is not None:
        # Done before (by the upload event or an earlier import): still current if the
        # object was not replaced since.
        try:
            if storage.s3().head_object(Bucket=bucket, Key=key)["ETag"] == record.get("etag"):
                return record
        except ClientError as exc:
            if not _missing(exc):
                raise
    try:
        obj = storage.s3().get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _missing(exc):
            return {"error": f"no file at s3://{bucket}/{key}: upload it first"}
        raise
    record = {"etag": obj["ETag"], "source": f"s3://{bucket}/{key}"}
    if obj["ContentLength"] > MAX_INGEST_BYTES:
        obj["Body"].close()  # never read what we will not decode
        record["error"] = (f"the file is {obj['ContentLength']:,} bytes; at most "
                           f"{MAX_INGEST_BYTES:,} can be made browser-ready: split it into tiles")
    else:
        from .imaging import UnsupportedImage, prepare_image  # numpy/Pillow: see _mask_annotation
        try:
            prepared = prepare_image(obj["Body"].read())
        except UnsupportedImage as exc:
            record["error"] = exc.reason
        else:
            _put(prefix + "display.png", prepared.png, "image/png")
            _put(prefix + "thumbnail.png", prepared.thumbnail, "image/png")
            record.update(prepared.metadata.to_dict(), display=prefix + "display.png",
                          thumbnail=prefix + "thumbnail.png")
    _put(prefix + "ingest.json", json.dumps(record).encode(), "application/json")
    return record


def uploaded_objects(notification: str) -> list[tuple[str, str]]:
    """(bucket, key) of each object an S3 event notification (as an SQS body) reports.
    S3 URL-encodes keys in notifications; its initial s3:TestEvent has no records."""
    records = json.loads(notification).get("Records", [])
    return [(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"])) for r in records
            if r.get("eventName", "").startswith("ObjectCreated")]


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
    work = {(spec.id, name): (name, *sources.resolve(who, task, ref))
            for spec in specs if spec.id not in registered
            for name, ref in spec.files.items() if not ref.startswith("https://")}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(zip(work, pool.map(lambda w: _ingest_file(task, *w), work.values())))
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
                annotation = annotation if annotation is not None else result["annotation"]
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


def _ingest_file(task: Task, name: str, bucket: str, key: str) -> dict:
    try:
        if name in MASK_NAMES:
            return _mask_annotation(task, bucket, key)
        return ingest_object(bucket, key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            # A configured import bucket that was never created: the whole import is wrong.
            raise BadRequest(f"Cannot read s3://{bucket}/{key}: the bucket does not exist; ask "
                             "the deployment's operator to create it or fix IMPORT_BUCKETS.",
                             code="invalid_source") from None
        raise


def _mask_annotation(task: Task, bucket: str, key: str) -> dict:
    # Imported here, not at the top: numpy and Pillow cost ~60 ms of every API cold start,
    # and only requests that decode an image need them.
    from .imaging import UnsupportedImage
    from .masks import mask_to_features, read_label_mask
    try:
        data = storage.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _missing(exc):
            return {"error": f"no label mask at s3://{bucket}/{key}: upload it first"}
        raise
    try:
        features = mask_to_features(read_label_mask(data), label=(task.labels or ["cell"])[0])
        return {"annotation": FeatureCollection.model_validate(features)}
    except UnsupportedImage as exc:
        return {"error": exc.reason}
    except TooLarge as exc:
        return {"error": f"the label mask has too many objects or vertices ({exc.message})"}


def _read_record(prefix: str) -> dict | None:
    try:
        body = storage.s3().get_object(Bucket=config.DATA_BUCKET, Key=prefix + "ingest.json")["Body"]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return json.loads(body.read())


def _put(key: str, data: bytes, content_type: str) -> None:
    storage.s3().put_object(Bucket=config.DATA_BUCKET, Key=key, Body=data, ContentType=content_type)


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
