"""Routes for task administrators: uploads, imports (with ingest), S3 listing, invites.

A Blueprint so app.py registers it with one line; every route answers through http.api
(error envelope, 503 for retryable backend failures) like the core routes.
"""
from typing import Annotated

from chalice import Blueprint
from pydantic import Field, StringConstraints

from . import config, invites, sample_view, sources, tasks
from .ingest import imports, uploads
from .auth import principal_from_request
from .http import body, int_param, json_response, query_param, router
from .samples import register
from .validation import FeatureCollection, FileName, SampleId, SamplesBody, Strict

bp = Blueprint(__name__)

# Ingest runs inside the request: keep each import small enough to finish well within
# API Gateway's 29 s even when the upload notification ingested nothing beforehand.
MAX_IMPORT_SAMPLES = 100
DEFAULT_INVITE_SECONDS = 14 * 24 * 3600


class ImportSpec(Strict):
    id: SampleId
    files: Annotated[dict[FileName, str], Field(min_length=1, max_length=32)]
    annotation: FeatureCollection | None = None


class ImportBody(Strict):
    samples: Annotated[list[ImportSpec], Field(min_length=1, max_length=MAX_IMPORT_SAMPLES)]


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class InviteBody(Strict):
    emails: Annotated[list[Email], Field(min_length=1, max_length=invites.MAX_INVITES_PER_REQUEST)]
    expires_in: Annotated[int, Field(ge=60, le=365 * 24 * 3600)] = DEFAULT_INVITE_SECONDS


route = router(bp)


def caller():
    return principal_from_request(bp.current_request)


def owned_task(task_id):
    return tasks.owned(caller(), task_id)


@route("/tasks/{task_id}/uploads", methods=["POST"])
def plan_uploads(task_id):
    task = owned_task(task_id)
    return {"uploads": uploads.plan(task.task_id, body(bp.current_request, uploads.UploadsBody))}


@route("/tasks/{task_id}/imports", methods=["POST"])
def import_samples(task_id):
    who = caller()
    task = tasks.owned(who, task_id)
    spec = body(bp.current_request, ImportBody)
    prepared = imports.prepare_import(who, task, spec.samples)
    result = register(task, SamplesBody.model_construct(samples=prepared.specs),
                      exist_ok=query_param(bp.current_request, "exist_ok") in ("1", "true"),
                      extras=prepared.extras)
    problems = {i: e["problem"] for i, e in prepared.extras.items() if "problem" in e}
    return json_response({**result, "problems": problems}, 201)


@route("/tasks/{task_id}/sources", methods=["GET"])
def list_source(task_id):
    who = caller()
    task = tasks.owned(who, task_id)
    request = bp.current_request
    return sources.list_prefix(who, task, query_param(request, "uri", ""),
                               query_param(request, "cursor"))


@route("/tasks/{task_id}/samples/{sample_id}/view", methods=["GET"])
def view_sample(task_id, sample_id):
    task = owned_task(task_id)
    version = int_param(bp.current_request, "version", None, 0, 10 ** 9)  # None: the latest
    return sample_view.view(task, sample_id, version)


@route("/tasks/{task_id}/invites", methods=["POST"])
def create_invites(task_id):
    who = caller()
    task = tasks.owned(who, task_id)
    spec = body(bp.current_request, InviteBody)
    return json_response({"invites": invites.create(task, spec.emails, spec.expires_in,
                                                     by=who.sub)}, 201)


@route("/tasks/{task_id}/invites", methods=["GET"])
def list_invites(task_id):
    return {"invites": invites.list_for(owned_task(task_id))}


@route("/tasks/{task_id}/invites/{invite_id}", methods=["DELETE"])
def revoke_invite(task_id, invite_id):
    return {"invite": invites.revoke(owned_task(task_id), invite_id)}


# A queue, not @on_s3_event: `chalice package` (CloudFormation) refuses S3 events on a bucket
# it did not create; the template points the data bucket's notifications at this queue.
@bp.on_sqs_message(queue=config.INGEST_QUEUE, batch_size=5)
def on_upload(event):
    """Deployed only (chalice local runs no queue consumers): ingest as soon as a file lands."""
    for message in event:
        for bucket, key in imports.uploaded_objects(message.body):
            imports.ingest_object(bucket, key)


@bp.lambda_function(name="ingest_now")
def ingest_now(event, context):
    """Deployed only: the import route's ingest of what is not ingested yet (imports.ingested),
    in a worker function, since the API function carries no numpy or Pillow."""
    imports.ingest_objects([(bucket, key, bool(mask)) for bucket, key, mask in event["objects"]])
    return {"ingested": len(event["objects"])}
