"""Export routes (owners and admins) and the queue consumer that builds exports.

The routes only record and queue (API Gateway allows 29 s); chalicelib/exports/worker.py does
the work, one step per queue message. Deployed, SQS invokes `on_export_message`; locally
devstack/export_worker.py polls the same queue in moto and calls this same function.
"""
import json

from .. import config, progress, tasks
from ..exports import jobs
from ..http import json_object, json_response, router
from . import Routes

blueprint = Routes(__name__)


route = router(blueprint)


@route("/tasks/{task_id}/exports", methods=["POST"])
def start_export(task_id):
    who = blueprint.caller()
    task = tasks.owned(who, task_id)
    options = jobs.parse_options(task, json_object(blueprint.current_request, empty={}))
    job = jobs.create(task, options, who.sub, progress.full(task))
    return json_response({"export_id": job["id"], "status": job["status"]}, 202)


@route("/tasks/{task_id}/exports", methods=["GET"])
def list_exports(task_id):
    tasks.owned(blueprint.caller(), task_id)
    return {"exports": jobs.recent(task_id)}


@route("/tasks/{task_id}/exports/{export_id}", methods=["GET"])
def get_export(task_id, export_id):
    tasks.owned(blueprint.caller(), task_id)
    return jobs.to_json(jobs.load(task_id, export_id))


# One message per invocation: a step may take minutes, and a failure retries only its own step.
@blueprint.on_sqs_message(queue=config.EXPORT_QUEUE, batch_size=1)
def on_export_message(event):
    from ..exports import worker  # numpy and Pillow: kept off the API's cold start
    for record in event:
        receives = int(record.to_dict().get("attributes", {}).get("ApproximateReceiveCount", "1"))
        worker.handle(json.loads(record.body), redelivered=receives > 1)
