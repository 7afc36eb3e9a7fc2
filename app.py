"""HTTP routes of the annotation API. Each route: who is calling, what they sent, one call
into chalicelib, the answer. The logic lives in chalicelib (see its modules' docstrings)."""
from chalice import Chalice, Response

from chalicelib import leases, openapi, progress, request_log, samples, sources, tasks
from chalicelib.auth import principal_from_request
from chalicelib.admin_routes import bp as admin_routes
from chalicelib.http import body, framework_envelope, int_param, json_response, query_param, router
from chalicelib.routes.legacy import bp as legacy_routes
from chalicelib.routes.export import bp as export_routes
from chalicelib.routes.signin import bp as signin_routes
from chalicelib.validation import DraftBody, LeaseBody, SamplesBody, SubmitBody, TaskCreate, TaskFields

app = Chalice(app_name="cloud-annotator")
request_log.install(app)
app.register_blueprint(admin_routes)
app.register_middleware(framework_envelope, "http")
app.register_blueprint(legacy_routes, url_prefix="/legacy")
app.register_blueprint(export_routes)
app.register_blueprint(signin_routes)


route = router(app)


def caller():
    return principal_from_request(app.current_request)


def request_body(model):
    return body(app.current_request, model)


@route("/health", methods=["GET"])
def health():
    return {"status": "ok"}


@route("/openapi.json", methods=["GET"])
def openapi_document():
    return openapi.document()


# --- tasks ---------------------------------------------------------------------------------

def task_view(who, task, counters_only=False):
    """A task as this caller may see it: annotators see neither other people nor their counts."""
    owner = tasks.is_owner(who, task)
    shown = progress.counters(task) if counters_only else \
        progress.progress(task, only=None if owner else who.sub)
    return tasks.to_json(task, shown, full=owner)


@route("/tasks", methods=["GET"])
def list_tasks():
    who, req = caller(), app.current_request
    page, cursor = tasks.list_visible(who, int_param(req, "limit", 100, 1, 100),
                                      query_param(req, "cursor"))
    # A page of tasks carries their counters, never a per-task query (bounded at any size).
    return {"tasks": [task_view(who, t, counters_only=True) for t in page], "cursor": cursor}


@route("/tasks", methods=["POST"])
def create_task():
    who = caller()
    tasks.require_admin(who)  # who first: a non-admin learns nothing from validation
    task = tasks.create(who, request_body(TaskCreate))
    return json_response(task_view(who, task), 201)


@route("/tasks/{task_id}", methods=["GET"])
def get_task(task_id):
    who = caller()
    return task_view(who, tasks.visible(who, task_id))


@route("/tasks/{task_id}", methods=["PATCH"])
def patch_task(task_id):
    who = caller()
    task = tasks.update(who, tasks.owned(who, task_id), request_body(TaskFields))
    return task_view(who, task)


@route("/tasks/{task_id}", methods=["DELETE"])
def delete_task(task_id):
    task = tasks.owned(caller(), task_id)
    tasks.delete(task, query_param(app.current_request, "confirm"))
    return {"deleted": task_id}


@route("/tasks/{task_id}/progress", methods=["GET"])
def task_progress(task_id):
    who = caller()
    return task_view(who, tasks.visible(who, task_id))["progress"]


# --- samples -------------------------------------------------------------------------------

@route("/tasks/{task_id}/samples", methods=["POST"])
def register_samples(task_id):
    task = tasks.owned(caller(), task_id)
    spec = request_body(SamplesBody)
    sources.check_registrable(task, (ref for s in spec.samples for ref in s.files.values()))
    exist_ok = query_param(app.current_request, "exist_ok", "0").lower() in ("1", "true", "yes")
    return json_response(samples.register(task, spec, exist_ok), 201)


@route("/tasks/{task_id}/samples", methods=["GET"])
def list_samples(task_id):
    task = tasks.browsable(caller(), task_id)
    req = app.current_request
    limit = int_param(req, "limit", samples.DEFAULT_PAGE, 1, samples.MAX_PAGE)
    return samples.list_page(task, query_param(req, "status"), limit, query_param(req, "cursor"))


@route("/tasks/{task_id}/samples/{sample_id}", methods=["GET"])
def get_sample(task_id, sample_id):
    who = caller()
    task = tasks.browsable(who, task_id)
    only = None if tasks.is_owner(who, task) else who.sub
    return samples.detail(task, leases.get_sample(task_id, sample_id), only)


# --- the annotator loop --------------------------------------------------------------------

def _claimed(task, who, lease):
    annotation, version = leases.start_annotation(task, lease.sample, who.sub)
    return {"sample": {"id": lease.sample.sample_id, "files": samples.signed_files(task, lease.sample),
                       "annotation": annotation, "version": version},
            "lease": {"id": lease.lease_id, "expires_at": lease.expires_at}}


@route("/tasks/{task_id}/claim", methods=["POST"])
def claim(task_id):
    who = caller()
    task, member = tasks.visible_with_member(who, task_id)
    lease = leases.claim(task, who.sub, member=member)
    return Response(body="", status_code=204) if lease is None else _claimed(task, who, lease)


@route("/tasks/{task_id}/samples/{sample_id}/claim", methods=["POST"])
def claim_named(task_id, sample_id):
    who = caller()
    task = tasks.visible(who, task_id)
    tasks.require_named_claims(task, f"use POST /tasks/{task_id}/claim.")
    return _claimed(task, who, leases.claim(task, who.sub, sample_id))


@route("/tasks/{task_id}/samples/{sample_id}/heartbeat", methods=["POST"])
def heartbeat(task_id, sample_id):
    who = caller()
    task = tasks.visible(who, task_id)
    lease_id = request_body(LeaseBody).lease_id
    return {"expires_at": leases.heartbeat(task, who.sub, sample_id, lease_id)}


@route("/tasks/{task_id}/samples/{sample_id}/release", methods=["POST"])
def release(task_id, sample_id):
    who = caller()
    task = tasks.visible(who, task_id)
    leases.release(task, who.sub, sample_id, request_body(LeaseBody).lease_id)
    return {"released": sample_id}


@route("/tasks/{task_id}/samples/{sample_id}/draft", methods=["PUT"])
def save_draft(task_id, sample_id):
    who = caller()
    task = tasks.visible(who, task_id)
    spec = request_body(DraftBody)
    annotation = spec.annotation.model_dump(mode="json")
    return {"version": leases.draft(task, who.sub, sample_id, spec.lease_id, annotation)}


@route("/tasks/{task_id}/samples/{sample_id}/submit", methods=["POST"])
def submit(task_id, sample_id):
    who = caller()
    task = tasks.visible(who, task_id)
    spec = request_body(SubmitBody)
    receipt = leases.submit(task, who.sub, sample_id, spec.lease_id,
                            spec.annotation.model_dump(mode="json"), spec.submission_id)
    answer = {"version": receipt.version, "progress": progress.after_submit(task, receipt, who.sub)}
    if spec.next:
        lease = leases.claim(task, who.sub)
        answer["next"] = None if lease is None else _claimed(task, who, lease)
    return answer


# --- task administration -------------------------------------------------------------------

@route("/tasks/{task_id}/leases", methods=["GET"])
def list_leases(task_id):
    return {"leases": leases.live(tasks.owned(caller(), task_id))}


@route("/tasks/{task_id}/leases/{sample_id}", methods=["DELETE"])
def end_lease(task_id, sample_id):
    return {"ended": leases.end(tasks.owned(caller(), task_id), sample_id)}


@route("/tasks/{task_id}/samples/{sample_id}/reopen", methods=["POST"])
def reopen_sample(task_id, sample_id):
    task = tasks.owned(caller(), task_id)
    sample = leases.reopen(task, sample_id)
    return samples.to_json(task, sample)
