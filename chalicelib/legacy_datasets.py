"""The original upload and download scripts on our samples and versions.

Upload: presigned PUTs for a sample's input and target files under the task's own
`uploads/<task_id>/<sample_id>/` (signed without a Content-Type: the script sends none), then
`refresh` registers the sample through the same ingest as our imports; the uploaded target is
its version 0 (pre-annotation). Download: every file, every version in time order (`v<n>`
is our version number) and a status record built from the version records and live leases.
"""
from . import clock, legacy, leases, samples, sources, storage
from .auth import Principal
from .errors import BadRequest, Conflict, NotFound
from .models import Sample, Task, Version, sample_key
from .ingest import imports
from .schemas import SampleSpec, SamplesBody, parse
from .storage import upload_key


def _input_names(task: Task) -> list[str]:
    if not task.input_files:
        raise BadRequest(f"Task '{task.task_id}' names no input_files: set them (e.g. "
                         "[\"dapi.png\"]) in the task, then upload.", code="no_input_files")
    return list(task.input_files)


def _spec(sample_id: str, files: dict, annotation=None) -> SampleSpec:
    return parse(SampleSpec, {"id": sample_id, "files": files, "annotation": annotation},
                 what="sample")


def _registered(task: Task, sample_id: str) -> bool:
    return Sample.count(task.task_id, Sample.sample_id == sample_id, consistent_read=True) > 0


def upload_urls(task: Task, sample_id: str, exist_ok: bool) -> dict:
    names = [*_input_names(task), legacy.target_name(task)]
    spec = _spec(sample_id, {n: upload_key(task.task_id, sample_id, n) for n in names})
    if not exist_ok and _registered(task, sample_id):
        raise Conflict(f"Sample '{sample_id}' exists already: add ?exist_ok=1 to upload again "
                       "(the registered sample keeps its files).", code="sample_exists")
    urls = {n: storage.presign_put(key) for n, key in spec.files.items()}
    target = names[-1]
    return {"input_files": {n: urls[n] for n in names[:-1]}, "target_files": {target: urls[target]}}


def refresh(who: Principal, task: Task, sample_id: str) -> dict:
    """Register an uploaded sample (nothing changes if it is registered already). A sample with
    a missing or unreadable file is refused and not registered, so a fixed upload can refresh."""
    files = {n: upload_key(task.task_id, sample_id, n) for n in _input_names(task)}
    _spec(sample_id, files)  # a bad id is a 400 before anything is read
    if _registered(task, sample_id):
        return {"sample_id": sample_id, "created": False}
    target = legacy.target_name(task)
    annotation = legacy.read_annotation(upload_key(task.task_id, sample_id, target),
                                        what=f"{target} of sample '{sample_id}'")
    prepared = imports.prepare_import(who, task, [_spec(sample_id, files, annotation)])
    problem = prepared.extras.get(sample_id, {}).get("problem")
    if problem:
        raise BadRequest(f"Sample '{sample_id}' was not registered: {problem}.",
                         code="unreadable_file")
    result = samples.register(task, SamplesBody.model_construct(samples=prepared.specs),
                              exist_ok=True, extras=prepared.extras)
    return {"sample_id": sample_id, "created": bool(result["created"])}


# --- download ------------------------------------------------------------------------------

def download(task: Task, sample_id: str, target_version: str | None) -> dict:
    sample = leases.get_sample(task.task_id, sample_id)
    versions = list(Version.query(sample_key(task.task_id, sample_id), consistent_read=True))
    chosen = _select(versions, target_version or "latest")
    return {"input_files": _originals(sample),
            "target_files": {legacy.target_name(task): {f"v{int(v.version)}":
                                                         storage.presign_get(v.s3_key)
                                                         for v in chosen}},
            "status": status_record(task, sample, versions)}


def _select(versions: list, wanted: str) -> list:
    if wanted == "all":
        return versions
    if wanted == "latest":
        return versions[-1:]
    chosen = [v for v in versions if f"v{int(v.version)}" == wanted]
    if not chosen:
        raise NotFound(f"target_version must be 'all', 'latest' or one of this sample's versions "
                       f"({', '.join(f'v{int(v.version)}' for v in versions) or 'none yet'}).",
                       code="version_not_found")
    return chosen


def _originals(sample: Sample) -> dict:
    """The files as uploaded (ingest keeps the original beside its browser-ready copy)."""
    media = sample.media or {}
    out = {}
    for name, ref in leases.as_dict(sample.files).items():
        source = media.get(name, {}).get("source")
        if source:
            bucket, key = sources.parse_s3_uri(source)
            out[name] = storage.presign_get(key, bucket)
        else:  # registered by reference (an https URL, or a key without ingest)
            out[name] = storage.file_url(ref)
    return out


def status_record(task: Task, sample: Sample, versions: list) -> dict:
    """The original per-sample status: one action per stored annotation version (who, when,
    completed or saved) and per live session, and whether the sample is complete."""
    t, sid = clock.now(), sample.sample_id
    actions = [{"session_id": f"{sid}@v{int(v.version)}", "target_version": f"v{int(v.version)}",
                "task_id": task.task_id, "sample_id": sid, "user_id": v.by, "user_email": None,
                "started_at": None, "expires_at": None, "saved_at": int(v.at),
                "completed": v.kind == "submitted",
                "completed_at": int(v.at) if v.kind == "submitted" else None, "metadata": {}}
               for v in versions if v.kind != "pre"]
    live = leases.live_leases(sample, t)
    actions += [{"session_id": legacy.session_id(sid, lease.lease_id), "target_version": None,
                 "task_id": task.task_id, "sample_id": sid, "user_id": user, "user_email": None,
                 "started_at": lease.started_at or None, "expires_at": lease.expires_at,
                 "saved_at": None, "completed": False, "completed_at": None, "metadata": {}}
                for user, lease in leases.slot_holders(task, sample).items() if user in live]
    users = {}
    for action in actions:
        entry = users.setdefault(action["user_id"], {"completed": False, "versions": []})
        entry["completed"] |= action["completed"]
        if action["target_version"]:
            entry["versions"].append(action["target_version"])
    complete = leases.status(task, sample, t) == "complete"
    return {"users": users, "actions": actions, "completed": complete,
            "completed_at": _completed_at(task, sample, versions) if complete else None}


def _completed_at(task: Task, sample: Sample, versions: list) -> int | None:
    """When the submission that made the sample complete was stored."""
    submitters = []
    for v in versions:
        if v.kind == "submitted" and v.by not in submitters:
            submitters.append(v.by)
            if len(submitters) >= leases.needed(task, sample):
                return int(v.at)
    return None
