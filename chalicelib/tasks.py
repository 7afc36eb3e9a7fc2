"""Tasks: create, read, change, delete, and who may see or manage one."""
import re
import secrets

from pynamodb.exceptions import DoesNotExist, PutError

from . import clock, invites, storage
from .auth import Principal
from .errors import BadRequest, Conflict, Forbidden, NotFound
from .models import Member, Sample, Task, Version, sample_key, task_and_member
from .schemas import TaskCreate, TaskFields

DEFAULT_CLIENT_CONFIG = {"draw_enable": True, "draw_label": "cell", "draw_shape_type": "polygon",
                         "draw_freehand": True, "draw_edge_color": "#0BF737"}
# Settings that decide dispatch order and completeness: fixed once samples exist.
FIXED_ONCE_FILLED = ("sampling", "annotations_per_sample")
# A task as answered: every field an admin may set (schemas.TaskFields, stored under the same
# name on models.Task), and who created it when. A new TaskFields field is answered by itself.
ANSWERED_FIELDS = (*TaskFields.model_fields, "created_by", "created_at")
# Who else works on a task, and where its files come from: for its owners and admins only.
OWNER_FIELDS = frozenset({"annotators", "owners", "sources", "created_by"})
# Fields only an admin may set: they open data outside the task's own prefix.
ADMIN_FIELDS = ("sources",)


def get(task_id: str) -> Task:
    try:
        return Task.get(task_id, consistent_read=True)
    except DoesNotExist:
        raise _not_found(task_id) from None


def _not_found(task_id: str) -> NotFound:
    return NotFound(f"There is no task '{task_id}'; list tasks with GET /tasks.",
                    code="task_not_found")


def is_owner(principal: Principal, task: Task) -> bool:
    """Owners and admins manage a task; a token limited to other tasks, or an invite token
    (which only ever annotates), never does, whatever its email owns."""
    if not principal.in_scope(task.task_id) or principal.invite is not None:
        return False
    return principal.is_admin or bool(principal.names() & set(task.owners or []))


def can_see(principal: Principal, task: Task) -> bool:
    if not principal.in_scope(task.task_id):
        return False
    if is_owner(principal, task) or task.annotators is None:
        return True
    return bool(principal.names() & set(task.annotators))


def visible(principal: Principal, task_id: str) -> Task:
    return _seen(principal, get(task_id), task_id)


def browsable(principal: Principal, task_id: str) -> Task:
    """Samples are listed and opened by owners, and by annotators of public-visibility tasks."""
    task = visible(principal, task_id)
    if task.sample_visibility != "public" and not is_owner(principal, task):
        raise Forbidden("Samples of this task are handed out by claiming only.",
                        code="samples_protected")
    return task


def require_named_claims(task: Task, instead: str) -> None:
    """Claiming a sample by name needs public sample visibility, for owners too (a lease is a
    lease); `instead` tells the caller what to do."""
    if task.sample_visibility != "public":
        raise Forbidden(f"This task hands samples out one at a time: {instead}",
                        code="samples_protected")


def visible_with_member(principal: Principal, task_id: str) -> tuple[Task, Member | None]:
    """visible(), and the caller's member row read in the same request (a claim needs both)."""
    task, member = task_and_member(task_id, principal.sub)
    if task is None:
        raise _not_found(task_id)
    return _seen(principal, task, task_id), member


def _seen(principal: Principal, task: Task, task_id: str) -> Task:
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


def all_visible(principal: Principal) -> list[Task]:
    """Every task the caller may see, oldest first. The tasks table is small (one row per
    task); samples are never scanned."""
    return sorted((t for t in Task.scan() if can_see(principal, t)),
                  key=lambda t: (t.created_at, t.task_id))


def list_visible(principal: Principal, limit: int, cursor: str | None) -> tuple[list[Task], str | None]:
    """A page of the tasks the caller may see, oldest first; the cursor is the last task id."""
    seen = all_visible(principal)
    ids = [t.task_id for t in seen]
    if cursor is not None and cursor not in ids:
        raise BadRequest("The cursor is not one this API returned (or that task was deleted): "
                         "start again without it.", code="invalid_cursor")
    start = ids.index(cursor) + 1 if cursor is not None else 0
    page = seen[start:start + limit]
    return page, (page[-1].task_id if start + limit < len(seen) else None)


def _new_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "task"
    return f"{slug}-{secrets.token_hex(3)}"


def require_admin(principal: Principal, what: str = "create tasks") -> None:
    if not principal.is_admin:
        raise Forbidden(f"Only admins may {what} (a token with roles: [\"admin\"]).",
                        code="not_admin")


def create(principal: Principal, body: TaskCreate) -> Task:
    require_admin(principal)
    fields = body.model_dump(exclude_none=True, exclude={"id"})
    name = fields.pop("name", None) or body.id or "Untitled task"
    owners = list(dict.fromkeys([principal.sub, *fields.pop("owners", [])]))
    task = Task(body.id or _new_id(name), name=name, owners=owners, created_by=principal.sub,
                created_at=clock.now(), uid=secrets.token_hex(8), annotators=fields.pop("annotators", None),
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


def update(principal: Principal, task: Task, body: TaskFields) -> Task:
    changes = body.model_dump(exclude_unset=True)
    if any(f in changes for f in ADMIN_FIELDS):
        require_admin(principal, f"change {', '.join(ADMIN_FIELDS)}")
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
    # Its uploads, their browser-ready copies, its annotations, its exports and their jobs.
    for prefix in (*storage.task_prefixes(task.task_id), storage.export_prefix(task.task_id)):
        storage.delete_prefix(prefix)
    # Also revokes its invite links: a new task reusing the id must not inherit them.
    invites.delete_for(task.task_id)
    task.delete()


def to_json(task: Task, progress: dict | None = None, full: bool = True) -> dict:
    """`full`: with the owner-only fields (the caller owns the task or is an admin)."""
    shown = (f for f in ANSWERED_FIELDS if full or f not in OWNER_FIELDS)
    out = {"id": task.task_id, **{f: getattr(task, f) for f in shown}}
    if progress is not None:
        out["progress"] = progress
    return out
