"""The original "Cloud annotation in ImJoy" HTTP protocol, mounted under /legacy.

Its clients (the ImJoy-Cloud-Annotator and Task-Dashboard plugins, upload-dataset.py and
download-dataset.py) work unchanged but for their base URL (`<api>/legacy`) and token. Every
answer is JSON in their envelope, {"success": true, "result": ...} or
{"success": false, "detail": "<what to do>"} with a 4xx/5xx status: they read the body before
the status. Same tokens, tasks, leases and versions as the native API; docs/legacy.md maps
the fields.
"""
from chalicelib import legacy, legacy_datasets, legacy_sessions, progress, samples, tasks
from chalicelib.errors import BadRequest
from chalicelib.http import answering, json_object, router
from chalicelib.routes import Routes

blueprint = Routes(__name__)

# Bodies are JSON where there are any; the annotator plugin's PUTs and bodiless POSTs may carry
# another type (axios defaults to form-urlencoded), which must not be a 415.

legacy_envelope = answering(lambda result: {"success": True, "result": result},
                lambda err: {"success": False, "detail": err.message, "code": err.code})


route = router(blueprint, legacy_envelope)


# --- tasks (Task-Dashboard) ----------------------------------------------------------------

@route("/tasks", methods=["GET"])
def list_tasks():
    # ?reload=1 asked the original server to re-read its task files; ours are always current.
    who = blueprint.caller()
    # Counters only (no per-task query): the list stays cheap however many tasks there are.
    return {t.task_id: legacy.task_to_legacy(t, progress.counters(t), tasks.is_owner(who, t))
            for t in tasks.all_visible(who)}


@route("/task/{task_id}", methods=["GET"])
def get_task(task_id):
    who = blueprint.caller()
    task = tasks.visible(who, task_id)
    return legacy.task_to_legacy(task, progress.full(task), tasks.is_owner(who, task))


@route("/task/{task_id}", methods=["PUT"])
def create_task(task_id):
    who = blueprint.caller()
    fields = legacy.task_from_legacy(json_object(blueprint.current_request), task_id)
    return legacy.task_to_legacy(tasks.create(who, fields))


@route("/task/{task_id}/update", methods=["POST"])
def update_task(task_id):
    who = blueprint.caller()
    task = tasks.owned(who, task_id)
    changes = legacy.task_from_legacy(json_object(blueprint.current_request), task_id, current=task)
    task = tasks.update(who, task, changes)
    return legacy.task_to_legacy(task, progress.full(task))


@route("/task/{task_id}", methods=["DELETE"])
def delete_task(task_id):
    task = tasks.owned(blueprint.caller(), task_id)
    confirmation = blueprint.query("confirmation")
    if confirmation != task_id:
        raise BadRequest(f"To delete task '{task_id}' and all its annotations, repeat its id: "
                         f"DELETE /task/{task_id}?confirmation={task_id}",
                         code="confirmation_required")
    tasks.delete(task, confirmation)
    return {"deleted": task_id}


# --- annotating (ImJoy-Cloud-Annotator) ----------------------------------------------------

@route("/task/{task_id}/all", methods=["GET"])
def all_samples(task_id):
    # Ids only, for everyone who may see the task: the plugin lists them on opening a task.
    return samples.all_ids(tasks.visible(blueprint.caller(), task_id))


@route("/task/{task_id}/sample", methods=["GET"])
def claim(task_id):
    who = blueprint.caller()
    return legacy_sessions.claim(tasks.visible(who, task_id), who)


@route("/task/{task_id}/sample/{sample_id}/update", methods=["GET"])
def open_sample(task_id, sample_id):
    who = blueprint.caller()
    return legacy_sessions.claim(tasks.visible(who, task_id), who, sample_id)


# The path part is a session id; API Gateway needs one name per path level, hence sample_id.
@route("/task/{task_id}/sample/{sample_id}/complete", methods=["POST"])
def complete(task_id, sample_id):
    who = blueprint.caller()
    return legacy_sessions.complete(tasks.visible(who, task_id), who, sample_id)


# --- datasets (upload-dataset.py, download-dataset.py) -------------------------------------

@route("/task/{task_id}/sample/{sample_id}/upload", methods=["GET"])
def upload_urls(task_id, sample_id):
    task = tasks.owned(blueprint.caller(), task_id)
    return legacy_datasets.upload_urls(task, sample_id, exist_ok=blueprint.flag("exist_ok"))


def refresh_sample(task_id, sample_id):
    who = blueprint.caller()
    return legacy_datasets.refresh(who, tasks.owned(who, task_id), sample_id)


route("/task/{task_id}/sample/{sample_id}/refresh", methods=["POST"])(refresh_sample)
route("/task/{task_id}/sample/{sample_id}/enable", methods=["POST"])(refresh_sample)  # older name


@route("/task/{task_id}/sample/{sample_id}", methods=["GET"])
def download(task_id, sample_id):
    task = tasks.owned(blueprint.caller(), task_id)
    return legacy_datasets.download(task, sample_id,
                                    blueprint.query("target_version"))
