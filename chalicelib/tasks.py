"""Tasks: create, read, change, delete, and who may see or manage one."""
import re
import secrets
import time

from pynamodb.exceptions import DoesNotExist, PutError

from . import invites, storage, uploads
from .auth import Principal
from .errors import BadRequest, Conflict, Forbidden, NotFound
from .models import Member, Sample, Task, Version, sample_key
from .validation import DEFAULT_CLIENT_CONFIG, TaskCreate, TaskFields

# Settings that decide dispatch order and completeness: fixed once samples exist.
FIXED_ONCE_FILLED = ("sampling", "annotations_per_sample")
PUBLIC_FIELDS = ("name", "description", "instructions", "labels", "client_config", "sampling",
                 "annotations_per_sample", "lease_seconds", "min_completion_time",
                 "sample_visibility", "annotators", "owners", "tags", "created_by", "created_at")


def get(task_id: str) -> Task:
    try:
        return Task.get(task_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"There is no task '{task_id}'; list tasks with GET /tasks.",
                       code="task_not_found") from None


def is_owner(principal: Principal, task: Task) -> bool:
    # A token limited to some tasks manages none other, even with the admin role.
    if principal.tasks is not None and task.task_id not in principal.tasks:
        return False
    return principal.is_admin or bool(principal.names() & set(task.owners or []))


def can_see(principal: Principal, task: Task) -> bool:
    if principal.tasks is not None and task.task_id not in principal.tasks:
        return False
    if is_owner(principal, task) or task.annotators is None:
        return True
    return bool(principal.names() & set(task.annotators))


def visible(principal: Principal, task_id: str) -> Task:
    task = get(task_id)
    if not can_see(principal, task):
        raise Forbidden(f"You are not invited to task '{task_id}': ask its owner for an invite.",
                        code="not_invited")
    return task


def owned(principal: Principal, task_id: str) -> Task:
    task = get(task_id)
    if not is_owner(principal, task):
        raise Forbidden(f"Only the owners of task '{task_id}' or an admin may do this.",
                        code="not_owner")
    return task


def list_visible(principal: Principal) -> list[Task]:
    # The tasks table is small (one row per task); samples are never scanned.
    return sorted((t for t in Task.scan() if can_see(principal, t)), key=lambda t: t.created_at)


def _new_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "task"
    return f"{slug}-{secrets.token_hex(3)}"


def create(principal: Principal, body: TaskCreate) -> Task:
    if not principal.is_admin:
        raise Forbidden("Only admins may create tasks (a token with roles: [\"admin\"]).",
                        code="not_admin")
    fields = body.model_dump(exclude_none=True, exclude={"id"})
    name = fields.pop("name", None) or body.id or "Untitled task"
    owners = list(dict.fromkeys([principal.sub, *fields.pop("owners", [])]))
    task = Task(body.id or _new_id(name), name=name, owners=owners, created_by=principal.sub,
                created_at=int(time.time()), annotators=fields.pop("annotators", None),
                labels=fields.pop("labels", None) or ["cell"],
                client_config=fields.pop("client_config", None) or dict(DEFAULT_CLIENT_CONFIG),
                **fields)
    try:
        task.save(condition=Task.task_id.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"A task with id '{task.task_id}' exists already: pick another id.",
                           code="task_exists") from None
        raise
    return task


def update(task: Task, body: TaskFields) -> Task:
    changes = body.model_dump(exclude_unset=True)
    fixed = [f for f in FIXED_ONCE_FILLED if f in changes and changes[f] != getattr(task, f)]
    if fixed and task.total:
        raise Conflict(f"{', '.join(fixed)} cannot change once samples are registered: create a "
                       "new task for a different setup.", code="task_fixed")
    required = [f for f in ("name", "labels", "owners") if f in changes and not changes[f]]
    if required:
        raise BadRequest(f"{', '.join(required)} cannot be empty.", code="invalid_body")
    if not changes:
        return task
    task.update(actions=[getattr(Task, f).set(v) for f, v in changes.items()],
                condition=Task.task_id.exists())
    return task


def delete(task: Task, confirm: str | None) -> None:
    """Deletes the task with its samples, versions, members, annotation objects and exports."""
    if confirm != task.task_id:
        raise BadRequest(f"To delete task '{task.task_id}' and all its annotations, repeat its id: "
                         f"DELETE /tasks/{task.task_id}?confirm={task.task_id}",
                         code="confirmation_required")
    with Member.batch_write() as members:
        for member in Member.query(task.task_id):
            members.delete(member)
    with Version.batch_write() as versions, Sample.batch_write() as samples:
        for sample in Sample.query(task.task_id):
            for v in Version.query(sample_key(task.task_id, sample.sample_id)):
                versions.delete(v)
            samples.delete(sample)
    storage.delete_prefix(f"annotations/{task.task_id}/")
    storage.delete_prefix(f"exports/{task.task_id}/")  # archives and their job records
    uploads.delete_for(task.task_id)
    # Also revokes its invite links: a new task reusing the id must not inherit them.
    invites.delete_for(task.task_id)
    task.delete()


def to_json(task: Task, progress: dict | None = None) -> dict:
    out = {"id": task.task_id, **{f: getattr(task, f) for f in PUBLIC_FIELDS}}
    if progress is not None:
        out["progress"] = progress
    return out
