"""The original annotator plugin's loop on our leases: a session is one lease.

A claim answers GET URLs for the images and for the annotation to start from, and a PUT URL
for the session's target file. A PUT is not yet an annotation: `complete` reads the file,
checks it like our own submit and submits it through leases.submit, with a submission id
derived from the session so that a repeated `complete` counts nothing twice. An invalid file
changes nothing: the lease stays with its annotator, who may upload again and complete.
Opening another named sample leaves the current session: what it saved becomes a draft.
"""
from . import legacy, leases, samples, storage, tasks
from .auth import Principal
from .errors import ApiError, BadRequest, NotFound
from .models import Task


def claim(task: Task, who: Principal, sample_id: str | None = None) -> dict:
    """The caller's session: their live one again, the next sample, or the named one."""
    if sample_id is not None:
        tasks.require_named_claims(task, "use Get Sample (sample_visibility 'protected').")
        current = leases.held(task, who.sub)
        if current and current.sample.sample_id != sample_id:
            leases.check_openable(task, who.sub, sample_id)  # keep the current one if not
            _leave(task, who.sub, current)
    lease = leases.claim(task, who.sub, sample_id)
    if lease is None:
        raise NotFound(f"No sample of task '{task.task_id}' is left for you: every one is "
                       "complete, yours already, or being annotated.", code="no_sample_left")
    sample_id = lease.sample.sample_id
    name = legacy.target_name(task)
    upload = legacy.session_key(task.task_id, sample_id, lease.lease_id)
    # Start from what this session saved, else from what a native claim would start from.
    start = upload if storage.exists(upload) else \
        (leases.start_head(task, lease.sample, who.sub) or {}).get("key")
    return {"session_id": legacy.session_id(sample_id, lease.lease_id), "sample_id": sample_id,
            "input_files": samples.signed_files(task, lease.sample),
            "target_files": {name: storage.presign_put(upload)},
            "placeholder_files": {name: storage.presign_get(start)} if start else {},
            "expires_at": lease.expires_at}


def _leave(task: Task, user: str, lease: leases.Lease) -> None:
    """The plugin shows one sample at a time: the session it leaves can never be completed.
    What it saved becomes a draft version (the original recorded an uncompleted version),
    and the sample goes back to the pool."""
    sample_id = lease.sample.sample_id
    try:
        saved = legacy.read_annotation(legacy.session_key(task.task_id, sample_id, lease.lease_id),
                                       what="saved annotation")
    except ApiError:
        saved = None  # an invalid save is not worth keeping
    if saved is not None:
        leases.draft(task, user, sample_id, lease.lease_id, saved.model_dump(mode="json"))
    leases.release(task, user, sample_id, lease.lease_id)


def complete(task: Task, who: Principal, session: str) -> dict:
    sample_id, lease_id = legacy.parse_session(session)
    name = legacy.target_name(task)
    annotation = legacy.read_annotation(legacy.session_key(task.task_id, sample_id, lease_id),
                                        what=f"{name} of session {session}")
    if annotation is None:
        raise BadRequest(f"Nothing was uploaded for session {session}: PUT {name} to its target "
                         "URL, then complete.", code="nothing_uploaded")
    version = leases.submit(task, who.sub, sample_id, lease_id, annotation.model_dump(mode="json"),
                            submission_id=f"legacy-{lease_id}").version
    return {"session_id": session, "sample_id": sample_id, "target_version": f"v{version}",
            "completed": True}
