"""Invites: task-scoped annotator tokens that an owner can list and revoke.

An invite token is an ordinary bearer token (auth.py) whose `tasks` claim names one task and
whose `inv` claim names its invite record. JWTs cannot be recalled, so revocation works by
record: `check_not_revoked` is registered with auth.py and refuses any token whose invite was
revoked or deleted. Only invite tokens pay for that lookup (one GetItem); admin and ordinary
user tokens carry no `inv` claim.

Tokens are shown once, when minted; the table keeps who, when and until when, never the token.
"""
import secrets

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import size

from . import auth, clock
from .errors import BadRequest, Conflict, NotFound, Unauthorized
from .models import Invite, Task
from .schemas import MAX_ANNOTATORS

MAX_INVITES_PER_TASK = 2000


def create(task: Task, emails: list[str], ttl_seconds: int, by: str) -> list[dict]:
    """Mint one token per email; invitees join a task whose annotators are a closed list.
    Limits are checked before anything is written: a refused request mints nothing."""
    emails = list(dict.fromkeys(emails))
    made = Invite.count(task.task_id)
    if made + len(emails) > MAX_INVITES_PER_TASK:
        raise BadRequest(f"Task '{task.task_id}' has {made} invites; at most "
                         f"{MAX_INVITES_PER_TASK} can be made. Revoke or reuse old ones, or open "
                         "the task to every signed-in user (annotators: null).",
                         code="too_many_invites")
    if task.annotators is not None:
        missing = [e for e in emails if e not in task.annotators]
        if len(task.annotators) + len(missing) > MAX_ANNOTATORS:
            raise BadRequest(f"Task '{task.task_id}' lists {len(task.annotators)} annotators; "
                             f"at most {MAX_ANNOTATORS} fit. Remove some (PATCH annotators), or "
                             "open the task to every signed-in user (annotators: null).",
                             code="too_many_annotators")
        if missing:
            # Conditional on the size just checked: two invite requests at once cannot
            # together grow the list past the limit.
            try:
                task.update(actions=[Task.annotators.set(Task.annotators.append(missing))],
                            condition=size(Task.annotators) <= MAX_ANNOTATORS - len(missing))
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                raise Conflict("The task's annotators changed while inviting: repeat the request.",
                               code="annotators_changed") from None
    now = clock.now()
    out = []
    for email in emails:
        invite = Invite(task.task_id, secrets.token_hex(8), email=email, created_by=by,
                        created_at=now, expires_at=now + ttl_seconds)
        invite.save()
        token = auth.mint_token(email, email=email, tasks=[task.task_id],
                                ttl_seconds=ttl_seconds, inv=invite.invite_id)
        out.append({**to_json(invite), "token": token})
    return out


def list_for(task: Task) -> list[dict]:
    return [to_json(i) for i in Invite.query(task.task_id)]


def revoke(task: Task, invite_id: str) -> dict:
    try:
        invite = Invite.get(task.task_id, invite_id)
    except DoesNotExist:
        raise NotFound(f"Task '{task.task_id}' has no invite '{invite_id}'; list them with "
                       f"GET /tasks/{task.task_id}/invites.", code="invite_not_found") from None
    if invite.revoked_at is None:
        invite.update(actions=[Invite.revoked_at.set(clock.now())])
    return to_json(invite)


def delete_for(task_id: str) -> None:
    with Invite.batch_write() as batch:
        for invite in Invite.query(task_id):
            batch.delete(invite)


def to_json(invite: Invite) -> dict:
    return {"id": invite.invite_id, "task_id": invite.task_id, "email": invite.email,
            "created_by": invite.created_by, "created_at": int(invite.created_at),
            "expires_at": int(invite.expires_at),
            "revoked_at": None if invite.revoked_at is None else int(invite.revoked_at)}


def check_not_revoked(claims: dict) -> None:
    """auth.py calls this for every decoded token; only invite tokens are looked up."""
    invite_id = claims.get("inv")
    if invite_id is None:
        return
    tasks = claims.get("tasks") or []
    try:
        invite = Invite.get(str(tasks[0]) if tasks else "", str(invite_id))
    except DoesNotExist:
        invite = None
    if invite is None or invite.revoked_at is not None:
        raise Unauthorized("This invite link was revoked: ask the task owner for a new one.",
                           code="invite_revoked")


auth.TOKEN_CHECKS.append(check_not_revoked)
