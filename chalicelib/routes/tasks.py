"""Routes for tasks and their samples: create, list, read, change and delete tasks (admins and
owners), their progress, and registering, listing and reading samples."""
from .. import leases, samples, sources, tasks
from ..http import json_response, router
from ..schemas import SamplesBody, TaskCreate, TaskFields
from . import Routes, task_view

blueprint = Routes(__name__)

route = router(blueprint)


@route("/tasks", methods=["GET"])
def list_tasks():
    who = blueprint.caller()
    page, cursor = tasks.list_visible(who, blueprint.int_query("limit", 100, 1, 100), blueprint.query("cursor"))
    # A page of tasks carries their counters, never a per-task query (bounded at any size).
    return {"tasks": [task_view(who, t, counters_only=True) for t in page], "cursor": cursor}


@route("/tasks", methods=["POST"])
def create_task():
    who = blueprint.caller()
    tasks.require_admin(who)  # who first: a non-admin learns nothing from validation
    task = tasks.create(who, blueprint.body(TaskCreate))
    return json_response(task_view(who, task), 201)


@route("/tasks/{task_id}", methods=["GET"])
def get_task(task_id):
    who = blueprint.caller()
    return task_view(who, tasks.visible(who, task_id))


@route("/tasks/{task_id}", methods=["PATCH"])
def patch_task(task_id):
    who = blueprint.caller()
    task = tasks.update(who, tasks.owned(who, task_id), blueprint.body(TaskFields))
    return task_view(who, task)


@route("/tasks/{task_id}", methods=["DELETE"])
def delete_task(task_id):
    task = tasks.owned(blueprint.caller(), task_id)
    tasks.delete(task, blueprint.query("confirm"))
    return {"deleted": task_id}


@route("/tasks/{task_id}/progress", methods=["GET"])
def task_progress(task_id):
    who = blueprint.caller()
    return task_view(who, tasks.visible(who, task_id))["progress"]


# --- samples -------------------------------------------------------------------------------

@route("/tasks/{task_id}/samples", methods=["POST"])
def register_samples(task_id):
    task = tasks.owned(blueprint.caller(), task_id)
    spec = blueprint.body(SamplesBody)
    sources.check_registrable(task, (ref for s in spec.samples for ref in s.files.values()))
    return json_response(samples.register(task, spec, blueprint.flag("exist_ok")), 201)


@route("/tasks/{task_id}/samples", methods=["GET"])
def list_samples(task_id):
    task = tasks.browsable(blueprint.caller(), task_id)
    limit = blueprint.int_query("limit", samples.DEFAULT_PAGE, 1, samples.MAX_PAGE)
    return samples.list_page(task, blueprint.query("status"), limit, blueprint.query("cursor"))


@route("/tasks/{task_id}/samples/{sample_id}", methods=["GET"])
def get_sample(task_id, sample_id):
    who = blueprint.caller()
    task = tasks.browsable(who, task_id)
    only = None if tasks.is_owner(who, task) else who.sub
    return samples.detail(task, leases.get_sample(task_id, sample_id), only)
