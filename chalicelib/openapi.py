"""The OpenAPI 3.1 description of the native API: served at GET /openapi.json, kept in
docs/openapi.json.

Request bodies are the pydantic models the routes validate with (and ids the types they are
created with), so a changed field or limit shows up here by itself; answer shapes are written
once, below. Every route app.py registers needs an entry in OPERATIONS
(tests/unit/test_openapi_routes.py fails otherwise); after a change,
`python -m chalicelib.openapi --write` rewrites docs/openapi.json. The document is built on the
first request, never at import: cold starts do not pay for it.
"""
import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, TypeAdapter

from . import samples
from .ids import SampleId, TaskId
from .schemas import (MAX_BODY_BYTES, DraftBody, ExportOptions, ImportBody, InviteBody, LeaseBody,
                      SamplesBody, SubmitBody, TaskCreate, TaskFields, UploadsBody)

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
REF = "#/components/schemas/{model}"

# --- who may call ---------------------------------------------------------------------------

ANYONE = "anyone, no token"
SIGNED_IN = "any signed-in user"
ADMIN = "admins"
MAY_SEE = ("whoever the task is open to: its annotators (any signed-in user when it names none), "
           "owners, admins")
OWNER = "the task's owners and admins"
BROWSER = f"{OWNER}; on tasks with sample_visibility public, whoever the task is open to"
HOLDER = "the holder of the lease"

# --- answer shapes --------------------------------------------------------------------------

STR, INT, COUNT = {"type": "string"}, {"type": "integer"}, {"type": "integer", "minimum": 0}
OBJECT = {"type": "object"}


def ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def mapping(values: dict) -> dict:
    return {"type": "object", "additionalProperties": values}


def shape(required: dict, optional: dict | None = None) -> dict:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


ERROR = {"type": "object", "required": ["error"], "additionalProperties": False,
         "properties": {"error": shape({"code": STR, "message": STR})}}
FILES = mapping(STR)  # file name -> data-bucket key, or (signed) URL
STATUS = {"enum": list(samples.STATUSES)}


def _task_fields() -> dict:
    """A task as answered: the fields an admin sets (as TaskFields validates them), never null
    but `annotators` (null: open to every signed-in user), plus who created it and when."""
    fields = TaskFields.model_json_schema(ref_template=REF)["properties"]

    def stored(name, schema):
        schema = {k: v for k, v in schema.items() if k not in ("default", "title")}
        if name == "annotators" or "anyOf" not in schema:
            return schema
        return next(s for s in schema["anyOf"] if s != {"type": "null"})
    return {name: stored(name, schema) for name, schema in fields.items()}


def answers() -> dict:
    return {
        "Error": ERROR,
        # Lists and submits carry the counters only; the task view and GET .../progress all.
        "Progress": shape({"total": COUNT, "completed": COUNT, "annotations": COUNT},
                          {"in_progress": COUNT, "available": COUNT,
                           "by_annotator": mapping(shape({"submitted": COUNT}))}),
        "Task": shape({"id": STR, "name": STR},
                      {**_task_fields(), "created_by": STR, "created_at": INT,
                       "progress": ref("Progress")}),
        "Sample": shape({"id": STR, "status": STATUS, "order": COUNT, "files": FILES,
                         "submitted": COUNT, "version": COUNT}, {"media": OBJECT, "problem": STR}),
        "SampleDetail": {"allOf": [ref("Sample"), shape({"versions": array(shape({
            "version": COUNT, "by": STR, "at": INT,
            "kind": {"enum": ["pre", "draft", "submitted"]}, "features": COUNT}))})]},
        "Claimed": shape({
            "sample": shape({"id": STR, "files": FILES,
                             "annotation": nullable(ref("FeatureCollection")), "version": COUNT}),
            "lease": shape({"id": STR, "expires_at": INT})}),
        "SampleView": shape({"id": STR, "status": STATUS,
                             "problem": nullable(STR), "files": FILES, "thumbnails": FILES,
                             "media": OBJECT, "version": nullable(COUNT),
                             "annotation": nullable(ref("FeatureCollection"))}),
        "Lease": shape({"sample_id": STR, "user": STR, "lease_id": STR, "expires_at": INT}),
        "Invite": shape({"id": STR, "task_id": STR, "email": STR, "created_by": STR,
                         "created_at": INT, "expires_at": INT, "revoked_at": nullable(INT)}),
        "NewInvite": {"allOf": [ref("Invite"), shape({"token": STR})]},
        "UploadPlan": shape({"sample_id": STR, "name": STR, "key": STR,
                             "status": {"enum": ["exists", "upload"]}},
                            {"url": STR, "headers": mapping(STR)}),
        "Registered": shape({"created": COUNT, "existing": array(STR)}),
        "Export": shape({"id": STR, "task_id": STR,
                         "status": {"enum": ["queued", "running", "done", "failed"]}},
                        {"options": OBJECT, "progress": OBJECT, "counts": OBJECT,
                         "size": nullable(INT), "url": STR, "file_name": STR,
                         "error": nullable(STR), "agreement": nullable(OBJECT)}),
    }


# --- operations -----------------------------------------------------------------------------

EXIST_OK = ("exist_ok", {"enum": ["0", "1", "true", "false"]}, False,
            "1 or true: skip samples already registered instead of answering 409")


@dataclass(frozen=True)
class Op:
    summary: str
    who: str
    answer: dict | None = None          # JSON Schema of the success body; None: no body
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple = ()                   # (name, schema, required, description)
    conflict: bool = False              # 409 is an expected outcome
    nothing_left: bool = False          # 204 when there is no work for the caller


OPERATIONS = {
    ("GET", "/health"): Op("Liveness check", ANYONE, shape({"status": {"const": "ok"}})),
    ("GET", "/openapi.json"): Op("This document", ANYONE, OBJECT),
    ("GET", "/auth/config"): Op(
        "The identity provider pages sign in with (authorization code + PKCE); issuer null: "
        "sign-in is off", ANYONE, shape({"issuer": nullable(STR)},
                                        {"client_id": nullable(STR), "scopes": STR})),
    # tasks
    ("GET", "/tasks"): Op("A page of the tasks the caller may see, oldest first, with counters",
                          SIGNED_IN, shape({"tasks": array(ref("Task")), "cursor": nullable(STR)}),
                          query=(("limit", {"type": "integer", "minimum": 1, "maximum": 100},
                                  False, "tasks per page (100)"),
                                 ("cursor", STR, False, "the cursor of the previous page"))),
    ("POST", "/tasks"): Op("Create a task", ADMIN, ref("Task"), TaskCreate, 201, conflict=True),
    ("GET", "/tasks/{task_id}"): Op("A task with its progress", MAY_SEE, ref("Task")),
    ("PATCH", "/tasks/{task_id}"): Op("Change any task fields", OWNER, ref("Task"), TaskFields,
                                      conflict=True),
    ("DELETE", "/tasks/{task_id}"): Op(
        "Delete a task with its samples, versions and annotation objects", OWNER,
        shape({"deleted": STR}),
        query=(("confirm", {"type": "string"}, True, "the task id again"),)),
    ("GET", "/tasks/{task_id}/progress"): Op("Progress counters", MAY_SEE, ref("Progress")),
    # samples
    ("POST", "/tasks/{task_id}/samples"): Op("Register samples (files already stored)", OWNER,
                                             ref("Registered"), SamplesBody, 201,
                                             (EXIST_OK,), conflict=True),
    ("GET", "/tasks/{task_id}/samples"): Op(
        "One page of the task's samples", BROWSER,
        shape({"samples": array(ref("Sample")), "cursor": nullable(STR)}),
        query=(("status", STATUS, False, "only samples in this state"),
               ("limit", {"type": "integer", "minimum": 1, "maximum": samples.MAX_PAGE,
                          "default": samples.DEFAULT_PAGE}, False, "samples per page"),
               ("cursor", STR, False, "the cursor of the previous page"))),
    ("GET", "/tasks/{task_id}/samples/{sample_id}"): Op("A sample with its versions", BROWSER,
                                                        ref("SampleDetail")),
    # the annotator loop
    ("POST", "/tasks/{task_id}/claim"): Op(
        "Lease the next sample that needs the caller (the same one again while a lease is live)",
        MAY_SEE, ref("Claimed"), conflict=True, nothing_left=True),
    ("POST", "/tasks/{task_id}/samples/{sample_id}/claim"): Op(
        "Lease a named sample (tasks with sample_visibility public)", MAY_SEE, ref("Claimed"),
        conflict=True),
    ("POST", "/tasks/{task_id}/samples/{sample_id}/heartbeat"): Op(
        "Extend the lease", HOLDER, shape({"expires_at": INT}), LeaseBody, conflict=True),
    ("POST", "/tasks/{task_id}/samples/{sample_id}/release"): Op(
        "End the lease early (skip); the sample goes back to the queue", HOLDER,
        shape({"released": STR}), LeaseBody, conflict=True),
    ("PUT", "/tasks/{task_id}/samples/{sample_id}/draft"): Op(
        "Save a draft (a new version; also extends the lease)", HOLDER,
        shape({"version": COUNT}), DraftBody, conflict=True),
    ("POST", "/tasks/{task_id}/samples/{sample_id}/submit"): Op(
        "Submit the annotation; the same submission_id again answers the same, changing nothing",
        HOLDER, shape({"version": COUNT, "progress": ref("Progress")},
                      {"next": nullable(ref("Claimed"))}), SubmitBody, conflict=True),
    # task administration
    ("GET", "/tasks/{task_id}/leases"): Op("Every live lease", OWNER,
                                           shape({"leases": array(ref("Lease"))})),
    ("DELETE", "/tasks/{task_id}/leases/{sample_id}"): Op(
        "End the leases on a sample (their holders get 409)", OWNER,
        shape({"ended": array(STR)}), conflict=True),
    ("POST", "/tasks/{task_id}/samples/{sample_id}/reopen"): Op(
        "Ask one more annotator for a complete sample", OWNER, ref("Sample"), conflict=True),
    ("POST", "/tasks/{task_id}/uploads"): Op(
        "Presigned PUT URLs for files to upload (files already stored with the same checksum: "
        "status exists)", OWNER, shape({"uploads": array(ref("UploadPlan"))}),
        UploadsBody),
    ("POST", "/tasks/{task_id}/imports"): Op(
        "Register samples from uploads, an import bucket or URLs, making browser-ready copies",
        OWNER, {"allOf": [ref("Registered"), shape({"problems": mapping(STR)})]}, ImportBody,
        201, (EXIST_OK,), conflict=True),
    ("GET", "/tasks/{task_id}/sources"): Op(
        "One page of the objects under an s3:// prefix of an import bucket", OWNER,
        shape({"objects": array(shape({"uri": STR, "key": STR, "size": COUNT})),
               "cursor": nullable(STR)}),
        query=(("uri", STR, True, "s3://<import bucket>/<prefix>"),
               ("cursor", STR, False, "the cursor of the previous page"))),
    ("GET", "/tasks/{task_id}/samples/{sample_id}/view"): Op(
        "Look at a sample (signed URLs, thumbnails, an annotation) without taking a lease",
        OWNER, ref("SampleView"),
        query=(("version", {"type": "integer", "minimum": 0, "maximum": 10 ** 9}, False,
                "that version instead of the latest"),)),
    ("POST", "/tasks/{task_id}/invites"): Op(
        "Invite annotators: one task-scoped token per email, shown only here", OWNER,
        shape({"invites": array(ref("NewInvite"))}), InviteBody, 201),
    ("GET", "/tasks/{task_id}/invites"): Op("The task's invites (without tokens)", OWNER,
                                            shape({"invites": array(ref("Invite"))})),
    ("DELETE", "/tasks/{task_id}/invites/{invite_id}"): Op(
        "Revoke an invite: its token stops working", OWNER, shape({"invite": ref("Invite")})),
    ("POST", "/tasks/{task_id}/exports"): Op(
        "Queue an export (GeoJSON, masks, COCO); the archive is built in the background", OWNER,
        shape({"export_id": STR, "status": STR}), ExportOptions, 202),
    ("GET", "/tasks/{task_id}/exports"): Op("The task's latest exports, newest first", OWNER,
                                            shape({"exports": array(ref("Export"))})),
    ("GET", "/tasks/{task_id}/exports/{export_id}"): Op(
        "An export's state; a finished one has a download URL", OWNER, ref("Export")),
}

# Ids made to a pattern when tasks and samples are created; other path ids are plain strings.
PATH_IDS = {"task_id": TypeAdapter(TaskId).json_schema(),
            "sample_id": TypeAdapter(SampleId).json_schema()}

ERRORS = {
    400: "Bad input: the message says what to fix",
    401: "No token, or a bad, expired or revoked one",
    403: "Not allowed for this caller",
    404: "No such task (or sample, invite, version)",
    409: "Conflict: lease lost, duplicate id, settings fixed once samples exist, too fast",
    413: f"Too large: a body over {MAX_BODY_BYTES} bytes, or too many items",
    429: "Too many requests: retry after Retry-After seconds",
    503: "Busy: retry the same request after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": COUNT}}


def _errors(path: str, op: Op) -> list[int]:
    """The error answers an operation documents, from what it takes and who may call it."""
    if op.who == ANYONE:
        return [429]  # only the gateway's throttling
    takes_input = bool(op.body or op.query or "{" in path)
    statuses = {401, 429, 503}
    statuses |= {400} if takes_input else set()
    statuses |= {403} if op.who != SIGNED_IN else set()
    statuses |= {404} if "{task_id}" in path else set()
    statuses |= {409} if op.conflict else set()
    statuses |= {413} if op.body else set()
    return sorted(statuses)


def _parameter(name, schema, required, description, where="query") -> dict:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema}


def _operation(method: str, path: str, op: Op, body_ref) -> dict:
    out: dict = {"operationId": _operation_id(method, path), "summary": op.summary,
                 "description": f"Who: {op.who}."}
    params = [_parameter(n, PATH_IDS.get(n, STR), True, f"the {n.replace('_', ' ')}", "path")
              for n in re.findall(r"{(\w+)}", path)]
    params += [_parameter(*q) for q in op.query]
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": body_ref(op.body)}}}
    ok: dict = {"description": "OK"}
    if op.answer is not None:
        ok["content"] = {"application/json": {"schema": op.answer}}
    responses = {str(op.status): ok}
    if op.nothing_left:
        responses["204"] = {"description": "Nothing left for the caller"}
    responses.update({str(s): {"$ref": f"#/components/responses/E{s}"}
                      for s in _errors(path, op)})
    out["responses"] = responses
    if op.who == ANYONE:
        out["security"] = []
    return out


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.strip("/").replace(".", "_").split("/")]
    return "_".join([method.lower(), *words])


@functools.cache
def document() -> dict:
    schemas = answers()

    def body_ref(model: type[BaseModel]) -> dict:
        schema = model.model_json_schema(ref_template=REF)
        for name, sub in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
            if schemas.setdefault(name, sub) != sub:
                raise ValueError(f"two request schemas are named {name}: rename one model")
        return ref(model.__name__)

    paths: dict = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, op, body_ref)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cloud annotator API", "version": "1",
                 "description": "Collaborative image annotation: tasks, samples, leases, "
                                "annotations, progress. JSON in and out; every error answer is "
                                '{"error": {"code", "message"}}.'},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
            "schemas": dict(sorted(schemas.items())),
            "responses": {f"E{s}": {"description": text,
                                    "content": {"application/json": {"schema": ref("Error")}},
                                    **({"headers": RETRY_AFTER} if s in (429, 503) else {})}
                          for s, text in ERRORS.items()},
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOC_PATH.write_text(render())
    else:
        sys.stdout.write(render())
