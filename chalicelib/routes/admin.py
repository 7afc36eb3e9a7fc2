"""Routes for task administrators: uploads, imports (with ingest), S3 listing, the sample
view, invites, live leases and reopening samples; and the worker functions that ingest
uploads (from the upload queue) and what an import finds not ingested yet (ingest_now).

Every route answers through http.native_envelope (error envelope, 503 for retryable backend failures).
"""
from .. import config, invites, leases, sample_view, samples, sources, tasks
from ..ingest import imports, uploads
from ..http import json_response, router
from ..schemas import ImportBody, InviteBody, SamplesBody, UploadsBody
from . import Routes

blueprint = Routes(__name__)

route = router(blueprint)


def owned_task(task_id):
    return tasks.owned(blueprint.caller(), task_id)


@route("/tasks/{task_id}/uploads", methods=["POST"])
def plan_uploads(task_id):
    task = owned_task(task_id)
    return {"uploads": uploads.plan(task.task_id, blueprint.body(UploadsBody))}


@route("/tasks/{task_id}/imports", methods=["POST"])
def import_samples(task_id):
    who = blueprint.caller()
    task = tasks.owned(who, task_id)
    spec = blueprint.body(ImportBody)
    prepared = imports.prepare_import(who, task, spec.samples)
    result = samples.register(task, SamplesBody.model_construct(samples=prepared.specs),
                      exist_ok=blueprint.query("exist_ok") in ("1", "true"),
                      extras=prepared.extras)
    problems = {i: e["problem"] for i, e in prepared.extras.items() if "problem" in e}
    return json_response({**result, "problems": problems}, 201)


@route("/tasks/{task_id}/sources", methods=["GET"])
def list_source(task_id):
    who = blueprint.caller()
    task = tasks.owned(who, task_id)
    return sources.list_prefix(who, task, blueprint.query("uri", ""), blueprint.query("cursor"))


@route("/tasks/{task_id}/samples/{sample_id}/view", methods=["GET"])
def view_sample(task_id, sample_id):
    task = owned_task(task_id)
    version = blueprint.int_query("version", None, 0, 10 ** 9)  # None: the latest
    return sample_view.owner_view(task, sample_id, version)


@route("/tasks/{task_id}/invites", methods=["POST"])
def create_invites(task_id):
    who = blueprint.caller()
    task = tasks.owned(who, task_id)
    spec = blueprint.body(InviteBody)
    return json_response({"invites": invites.create(task, spec.emails, spec.expires_in,
                                                     by=who.sub)}, 201)


@route("/tasks/{task_id}/invites", methods=["GET"])
def list_invites(task_id):
    return {"invites": invites.list_for(owned_task(task_id))}


@route("/tasks/{task_id}/invites/{invite_id}", methods=["DELETE"])
def revoke_invite(task_id, invite_id):
    return {"invite": invites.revoke(owned_task(task_id), invite_id)}


@route("/tasks/{task_id}/leases", methods=["GET"])
def list_leases(task_id):
    return {"leases": leases.live(owned_task(task_id))}


@route("/tasks/{task_id}/leases/{sample_id}", methods=["DELETE"])
def end_lease(task_id, sample_id):
    return {"ended": leases.end(owned_task(task_id), sample_id)}


@route("/tasks/{task_id}/samples/{sample_id}/reopen", methods=["POST"])
def reopen_sample(task_id, sample_id):
    task = owned_task(task_id)
    sample = leases.reopen(task, sample_id)
    return samples.to_json(task, sample)


# A queue, not @on_s3_event: `chalice package` (CloudFormation) refuses S3 events on a bucket
# it did not create; the template points the data bucket's notifications at this queue.
@blueprint.on_sqs_message(queue=config.INGEST_QUEUE, batch_size=5)
def on_upload(event):
    """Deployed only (chalice local runs no queue consumers): ingest as soon as a file lands."""
    for message in event:
        for bucket, key in imports.uploaded_objects(message.body):
            imports.ingest_object(bucket, key)


@blueprint.lambda_function(name="ingest_now")
def ingest_now(event, context):
    """Deployed only: the import route's ingest of what is not ingested yet (imports.ingested),
    in a worker function, since the API function carries no numpy or Pillow."""
    imports.ingest_objects([(bucket, key, bool(mask)) for bucket, key, mask in event["objects"]])
    return {"ingested": len(event["objects"])}
