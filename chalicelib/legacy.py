"""The original "Cloud annotation in ImJoy" protocol's words for our things (docs/legacy.md).

Its task objects name some of our fields differently and carry a few this service has no use
for; its annotator sessions are our leases; its target files are our annotation versions.
Everything here translates; the work is done by tasks, leases, samples and ingest, so both
protocols act on one state.
"""
import json
import re
from urllib.parse import unquote

from .errors import BadRequest
from .models import Task
from .annotation_format import FeatureCollection
from .ids import SAMPLE_ID
from .schemas import MAX_BODY_BYTES, TaskCreate, TaskFields, parse
from . import storage

# original name -> ours
RENAMED = {"sampling_method": "sampling", "user_per_sample": "annotations_per_sample",
           "expires_in": "lease_seconds"}
ORIGINAL_NAME = {"annotators": "white_list", **{ours: old for old, ours in RENAMED.items()}}
SAME = ("name", "description", "instructions", "labels", "client_config", "min_completion_time",
        "sample_visibility", "owners", "tags", "input_files", "target_files")
NUMBERS = ("user_per_sample", "expires_in", "min_completion_time")
# Computed by the service: the dashboard sends them back with every update; they are ignored.
READ_ONLY = ("completed_count", "all_count", "available_count", "created_by", "created_at",
             "last_id")
# Original fields without effect here: accepted while they ask for nothing, else the reason.
INERT = {
    "type": ("annotation", "only 'annotation' tasks exist here"),
    "allow_user_upload": (False, "annotators cannot upload samples here; the task's owners "
                                 "upload them (upload-dataset.py)"),
    "dataset_dir": (None, "the service reads no server folder; upload the samples with "
                          "upload-dataset.py"),
    "dataset_id": (None, "the service reads no server dataset; upload the samples with "
                         "upload-dataset.py"),
    "sample_status_file": (None, "a sample is complete when user_per_sample annotators "
                                 "completed it; no status file is needed"),
}
DEFAULT_TARGET = "annotation.json"
SESSION_LEASE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # what secrets.token_urlsafe makes


def task_to_legacy(task: Task, progress: dict | None = None, full: bool = True) -> dict:
    """`full`: with who else works on it (owners and admins only, as tasks.to_json)."""
    out = {"id": task.task_id, "type": "annotation",
           **{f: getattr(task, f) for f in SAME},
           **{old: getattr(task, new) for old, new in RENAMED.items()},
           "task_visibility": "public" if task.annotators is None else "protected",
           "white_list": list(task.annotators or []), "black_list": [],
           "allow_user_upload": False, "created_by": task.created_by,
           "created_at": task.created_at}
    if progress is not None:
        # A list carries counters only: there "available" is what is not yet complete.
        out.update(completed_count=progress["completed"], all_count=progress["total"],
                   available_count=progress.get("available",
                                                progress["total"] - progress["completed"]))
    if not full:
        for name in ("owners", "white_list", "created_by"):
            out.pop(name)
    return out


def task_from_legacy(body: dict, task_id: str, current: Task | None = None):
    """A create (current None: TaskCreate) or whole-object update (TaskFields) in our terms."""
    body = dict(body)
    if body.pop("id", task_id) != task_id:
        raise BadRequest(f"The body's id is not '{task_id}', the task in the URL: to copy a task, "
                         "create a new one.", code="id_mismatch")
    for name in READ_ONLY:
        body.pop(name, None)
    for name, (allowed, reason) in INERT.items():
        if body.pop(name, None) not in (None, "", allowed):
            raise BadRequest(f"{name}: {reason}.", code="unsupported_field")
    for ours, original in ORIGINAL_NAME.items():
        if ours in body:
            raise BadRequest(f"{ours}: unknown field; this protocol calls it {original}.",
                             code="invalid_body")
    for name in NUMBERS:
        if name in body and body[name] is None:
            raise BadRequest(f"{name} must be a whole number.", code="invalid_body")
    fields = {RENAMED.get(k, k): v for k, v in body.items()
              if v is not None and k not in ("task_visibility", "white_list", "black_list")}
    fields.update(_annotators(body, current))
    model = TaskCreate if current is None else TaskFields
    try:
        return parse(model, {"id": task_id, **fields} if current is None else fields, what="task")
    except BadRequest as err:
        err.message = _in_legacy_terms(err.message)
        raise


def _annotators(body: dict, current: Task | None) -> dict:
    """Our `annotators` from task_visibility and its list ({} when the body sets neither).
    The dashboard sends both lists whatever the visibility: the other one is ignored."""
    visibility, white = body.get("task_visibility"), body.get("white_list") or []
    if visibility is None and "white_list" not in body and "black_list" not in body:
        return {}
    if visibility is None:  # lists alone: an existing task keeps its visibility
        protected = bool(white) if current is None else current.annotators is not None
        visibility = "protected" if protected else "public"
    if visibility not in ("public", "protected"):
        raise BadRequest("task_visibility must be 'public' (every signed-in user) or 'protected' "
                         "(only the users in white_list).", code="invalid_body")
    if visibility == "protected":
        return {"annotators": white}
    if body.get("black_list"):
        raise BadRequest("black_list is not supported here: make the task 'protected' and "
                         "list who may annotate in white_list.", code="unsupported_field")
    return {"annotators": None}



def _in_legacy_terms(message: str) -> str:
    return re.sub(r"(?<![\w.])(" + "|".join(ORIGINAL_NAME) + r")(?=[.:])",
                  lambda m: ORIGINAL_NAME[m.group(1)], message)


# --- samples and sessions ------------------------------------------------------------------

def target_name(task: Task) -> str:
    """The one annotation file of every sample (our versions hold one annotation each)."""
    return (task.target_files or [DEFAULT_TARGET])[0]


def session_id(sample_id: str, lease_id: str) -> str:
    # Sample ids never hold '@' and lease ids are URL-safe: the id travels unescaped in paths.
    return f"{sample_id}@{lease_id}"


def parse_session(session: str) -> tuple[str, str]:
    sample_id, _, lease_id = unquote(session).rpartition("@")
    if not (SAMPLE_ID.match(sample_id) and SESSION_LEASE.match(lease_id)):
        raise BadRequest(f"'{session}' is not a session id: use the session_id that GET "
                         "/task/{task_id}/sample returned.", code="invalid_session")
    return sample_id, lease_id


def session_key(task_id: str, sample_id: str, lease_id: str) -> str:
    """Where a session's annotator PUTs its target file; `complete` reads it from there."""
    return storage.annotation_key(task_id, sample_id, f"session-{lease_id}")


def read_annotation(key: str, what: str) -> FeatureCollection | None:
    """The GeoJSON annotation a client PUT at `key` (None if nothing is there), checked with
    the rules of our own submit."""
    raw = storage.read(key, MAX_BODY_BYTES)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"The {what} is not JSON ({exc}): upload a GeoJSON FeatureCollection.",
                         code="invalid_annotation") from None
    try:
        return parse(FeatureCollection, data, what=what)
    except BadRequest as err:
        err.code = "invalid_annotation"
        raise
