"""A read-only look at one sample for its owners: signed image URLs, thumbnails, metadata and
the latest annotation (or a chosen version). Takes no lease and changes nothing, so the
dashboard can open any sample, even one an annotator is working on."""
from pynamodb.exceptions import DoesNotExist

from . import clock, sources, storage
from .errors import NotFound
from .leases import as_dict, status
from .models import Sample, Task, Version, sample_key
from .samples import signed_files


def owner_view(task: Task, sample_id: str, version: int | None) -> dict:
    try:
        sample = Sample.get(task.task_id, sample_id)
    except DoesNotExist:
        raise NotFound(f"Task '{task.task_id}' has no sample '{sample_id}'.",
                       code="sample_not_found") from None
    media = sample.media or {}
    return {
        "id": sample.sample_id,
        "status": status(task, sample, clock.now()),
        "problem": sample.problem,
        # A refused sample's files may be missing or unreadable: nothing to sign.
        "files": {} if sample.problem else signed_files(task, sample),
        "thumbnails": {n: storage.presign_get(sources.signable(task, m["thumbnail"]))
                       for n, m in media.items()},
        "media": media,
        **_annotation(task, sample, version),
    }


def _annotation(task: Task, sample: Sample, version: int | None) -> dict:
    if version is None:
        heads = as_dict(sample.heads)
        head = heads.get("any") or heads.get("pre")
        key, number = (head["key"], int(head["v"])) if head else (None, None)
    else:
        try:
            record = Version.get(sample_key(task.task_id, sample.sample_id), version)
        except DoesNotExist:
            raise NotFound(f"Sample '{sample.sample_id}' has no version {version}.",
                           code="version_not_found") from None
        key, number = record.s3_key, version
    return {"version": number, "annotation": storage.get_json(key) if key else None}
