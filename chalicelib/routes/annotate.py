"""Routes for annotators: claim a sample (next or named), keep its lease, save drafts, submit.

Every route checks the task in the URL is open to the caller; the lease calls check the
caller holds the lease they name (chalicelib/leases.py).
"""
from chalice import Response

from .. import leases, progress, tasks
from ..http import router
from ..schemas import ClaimBody, DraftBody, LeaseBody, SubmitBody
from . import Routes, claimed

blueprint = Routes(__name__)

route = router(blueprint)


@route("/tasks/{task_id}/claim", methods=["POST"])
def claim(task_id):
    who = blueprint.caller()
    task, member = tasks.visible_with_member(who, task_id)
    ahead = blueprint.body(ClaimBody, empty={}).ahead
    lease = leases.reserve(task, who.sub) if ahead else leases.claim(task, who.sub, member=member)
    return Response(body="", status_code=204) if lease is None else claimed(task, who, lease)


@route("/tasks/{task_id}/samples/{sample_id}/claim", methods=["POST"])
def claim_named(task_id, sample_id):
    who = blueprint.caller()
    task = tasks.visible(who, task_id)
    tasks.require_named_claims(task, f"use POST /tasks/{task_id}/claim.")
    return claimed(task, who, leases.claim(task, who.sub, sample_id))


@route("/tasks/{task_id}/samples/{sample_id}/heartbeat", methods=["POST"])
def heartbeat(task_id, sample_id):
    who = blueprint.caller()
    task = tasks.visible(who, task_id)
    lease_id = blueprint.body(LeaseBody).lease_id
    return {"expires_at": leases.heartbeat(task, who.sub, sample_id, lease_id)}


@route("/tasks/{task_id}/samples/{sample_id}/release", methods=["POST"])
def release(task_id, sample_id):
    who = blueprint.caller()
    task = tasks.visible(who, task_id)
    leases.release(task, who.sub, sample_id, blueprint.body(LeaseBody).lease_id)
    return {"released": sample_id}


@route("/tasks/{task_id}/samples/{sample_id}/draft", methods=["PUT"])
def save_draft(task_id, sample_id):
    who = blueprint.caller()
    task = tasks.visible(who, task_id)
    spec = blueprint.body(DraftBody)
    annotation = spec.annotation.model_dump(mode="json")
    return {"version": leases.draft(task, who.sub, sample_id, spec.lease_id, annotation)}


@route("/tasks/{task_id}/samples/{sample_id}/submit", methods=["POST"])
def submit(task_id, sample_id):
    who = blueprint.caller()
    task = tasks.visible(who, task_id)
    spec = blueprint.body(SubmitBody)
    receipt = leases.submit(task, who.sub, sample_id, spec.lease_id,
                            spec.annotation.model_dump(mode="json"), spec.submission_id)
    answer = {"version": receipt.version, "progress": progress.after_submit(task, receipt, who.sub)}
    if spec.next:
        lease = leases.claim_after(task, who.sub, receipt)
        answer["next"] = None if lease is None else claimed(task, who, lease)
        if spec.ahead:
            ahead = lease and leases.reserve_after_submit(task, who.sub)
            answer["ahead"] = claimed(task, who, ahead) if ahead else None
    return answer
