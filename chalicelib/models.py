"""DynamoDB tables, as PynamoDB models.

tasks        task_id                      -> a task's settings and its progress counters
samples      (task_id, sample_id)         -> files, lease slots, submitters, version heads;
             GSI `dispatch` (task_id, dispatch_key), sparse: only samples that still need work
members      (task_id, user)              -> a user's current lease (and reservation ahead) in the
                                             task and submit count
versions     (sample_key, version)        -> every stored annotation version (pre/draft/submitted)
submissions  submission_key               -> first answer to a submit, for idempotent retries
invites      (task_id, invite_id)         -> task-scoped annotator tokens minted, and revoked

Table names come from TABLE_PREFIX; endpoints from the environment (AWS_ENDPOINT_URL).
"""
import hashlib
import json

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.attributes import (JSONAttribute, ListAttribute, MapAttribute, NumberAttribute,
                                 UnicodeAttribute, UnicodeSetAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from . import config


class _SettingsMeta(type):
    """Table name and region read from config when PynamoDB first uses them, not at import."""
    table: str

    @property
    def table_name(cls) -> str:
        return config.TABLE_PREFIX + cls.table

    @property
    def region(cls) -> str:
        return config.REGION


def _meta(name: str):
    return _SettingsMeta("Meta", (), {"table": name, "billing_mode": "PAY_PER_REQUEST"})


class Task(Model):
    Meta = _meta("tasks")
    task_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    instructions = UnicodeAttribute(default="")
    labels = ListAttribute(of=UnicodeAttribute, default=list)
    client_config = JSONAttribute(default=dict)
    sampling = UnicodeAttribute(default="sequential")
    annotations_per_sample = NumberAttribute(default=1)
    lease_seconds = NumberAttribute(default=3600)
    min_completion_time = NumberAttribute(default=0)
    sample_visibility = UnicodeAttribute(default="protected")
    annotators = ListAttribute(of=UnicodeAttribute, null=True)
    owners = ListAttribute(of=UnicodeAttribute, default=list)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    sources = ListAttribute(of=UnicodeAttribute, default=list)  # s3:// prefixes admins granted
    # Random per creation: records keyed by it (submissions) die with the task, not its id.
    uid = UnicodeAttribute(default="")
    # The file names every sample has: images to show, and the one annotation file.
    input_files = ListAttribute(of=UnicodeAttribute, default=list)
    target_files = ListAttribute(of=UnicodeAttribute, default=list)
    created_by = UnicodeAttribute(default="")
    created_at = NumberAttribute(default=0)
    # Counters, moved only inside the transaction that makes the change they count.
    total = NumberAttribute(default=0)
    completed = NumberAttribute(default=0)
    annotations = NumberAttribute(default=0)
    # Registration order is handed out in blocks by an atomic ADD.
    next_order = NumberAttribute(default=0)


class DispatchIndex(GlobalSecondaryIndex):
    """Samples that still need work, in the order they should be handed out (see leases.py)."""

    class Meta:
        index_name = "dispatch"
        projection = AllProjection()

    task_id = UnicodeAttribute(hash_key=True)
    dispatch_key = UnicodeAttribute(range_key=True)


class Sample(Model):
    Meta = _meta("samples")
    task_id = UnicodeAttribute(hash_key=True)
    sample_id = UnicodeAttribute(range_key=True)
    order = NumberAttribute()
    files = MapAttribute(default=dict)          # name -> data-bucket key or https URL
    created_at = NumberAttribute(default=0)
    spec = UnicodeAttribute(null=True)          # digest of what it was registered with
    # Lease slots: user -> expiry (the member row has the rest); expired ones are dropped by
    # the next writer that takes a slot.
    leases = MapAttribute(default=dict)
    submitters = UnicodeSetAttribute(default=set)
    done = NumberAttribute(default=0)           # submissions by distinct annotators
    # Python names say what they hold; attr_name keeps the names already stored.
    extra_annotations = NumberAttribute(default=0, attr_name="extra")  # asked beyond the task's overlap
    requeued_at = NumberAttribute(default=0)    # when a released/ended lease gave a slot back
    revision = NumberAttribute(default=0, attr_name="rev")  # optimistic-concurrency guard of every change
    latest_version = NumberAttribute(default=0, attr_name="nver")  # number of the newest version
    # Where the annotation to start from lives: "any", "pre", "u:<user>" -> {"v", "key"}.
    heads = MapAttribute(default=dict)
    dispatch_key = UnicodeAttribute(null=True)  # absent once nothing is left to hand out
    dispatch = DispatchIndex()
    # Set by ingest.py: each file's original and metadata; why a sample can never be handed out.
    media = JSONAttribute(null=True)
    problem = UnicodeAttribute(null=True)


class Member(Model):
    Meta = _meta("members")
    task_id = UnicodeAttribute(hash_key=True)
    user = UnicodeAttribute(range_key=True)
    submitted = NumberAttribute(default=0)
    # Of those, the ones on samples still needing others: when it equals the task's unfinished
    # samples there is nothing left for this user and a claim answers at once (leases.py).
    open_submitted = NumberAttribute(default=0)
    lease_sample = UnicodeAttribute(null=True)
    lease_id = UnicodeAttribute(null=True)
    lease_exp = NumberAttribute(null=True)
    lease_at = NumberAttribute(null=True)       # when it started (min_completion_time)
    # The sample reserved ahead (the next one, while the page works on the current one).
    ahead_sample = UnicodeAttribute(null=True)
    ahead_id = UnicodeAttribute(null=True)
    ahead_exp = NumberAttribute(null=True)
    # New leases taken in the minute `claim_minute` (epoch minute): claim/skip cycling is bounded.
    claim_minute = NumberAttribute(null=True)
    claims = NumberAttribute(null=True)
    # Drafts saved in the minute `draft_minute`, likewise bounded.
    draft_minute = NumberAttribute(null=True)
    drafts = NumberAttribute(null=True)


class Version(Model):
    Meta = _meta("versions")
    sample_key = UnicodeAttribute(hash_key=True)   # "<task_id>/<sample_id>"
    version = NumberAttribute(range_key=True)
    kind = UnicodeAttribute()                      # pre | draft | submitted
    by = UnicodeAttribute()
    at = NumberAttribute()
    s3_key = UnicodeAttribute()
    features = NumberAttribute(default=0)


class Submission(Model):
    """The first answer to a submit, for idempotent retries: keyed by the task's uid (so it dies
    with the task), sample, user and submission_id; `digest` tells a retry from a reuse."""
    Meta = _meta("submissions")
    submission_key = UnicodeAttribute(hash_key=True)
    digest = UnicodeAttribute(default="")
    user = UnicodeAttribute()
    sample_id = UnicodeAttribute()
    version = NumberAttribute()
    at = NumberAttribute()


class Invite(Model):
    """Who was invited to a task, until when; the token itself is never stored (invites.py)."""
    Meta = _meta("invites")
    task_id = UnicodeAttribute(hash_key=True)
    invite_id = UnicodeAttribute(range_key=True)
    email = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    revoked_at = NumberAttribute(null=True)


ALL_MODELS = (Task, Sample, Member, Version, Submission, Invite)


def sample_key(task_id: str, sample_id: str) -> str:
    return f"{task_id}/{sample_id}"


def create_tables() -> None:
    """Idempotent: creates what is missing, waits until usable."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)


_connection = None


class Transaction(TransactWrite):
    """A TransactWrite whose items have names, and whose retries cannot double-write.

    - `failed(exc)` names the items whose condition failed. PynamoDB sends condition checks,
      deletes, puts, then updates, not the order the code added them, so DynamoDB's
      cancellation reasons are matched to items here, by that order, never by position.
    - The ClientRequestToken is derived from the content: when a write lands but its answer is
      lost, the SDK's retry sends the same items with the same token and DynamoDB returns the
      first outcome (for 10 minutes) instead of failing the retry's own conditions.
    """

    def __init__(self):
        global _connection
        if _connection is None:  # follows AWS_ENDPOINT_URL like the models do
            _connection = Connection(region=config.REGION)
        super().__init__(connection=_connection)
        self._names: dict[str, list[str]] = {"check": [], "delete": [], "put": [], "update": []}

    def __len__(self) -> int:
        return sum(len(names) for names in self._names.values())

    def commit(self):
        """Send the items added so far (what leaving a `with` block does)."""
        return self._commit()

    def condition_check(self, model_cls, hash_key, range_key=None, condition=None, *,
                        name: str = ""):
        super().condition_check(model_cls, hash_key, range_key, condition=condition)
        self._names["check"].append(name)

    def save(self, model, condition=None, return_values=None, *, name: str = ""):
        super().save(model, condition=condition, return_values=return_values)
        self._names["put"].append(name)

    def update(self, model, actions, condition=None, return_values=None, *, name: str = "",
               add_version_condition: bool = True):
        super().update(model, actions, condition=condition, return_values=return_values,
                       add_version_condition=add_version_condition)
        self._names["update"].append(name)

    def failed(self, exc: TransactWriteError) -> set[str]:
        order = [n for kind in ("check", "delete", "put", "update") for n in self._names[kind]]
        return {name for name, reason in zip(order, exc.cancellation_reasons or [])
                if reason is not None and reason.code == "ConditionalCheckFailed"}

    def _commit(self):
        if self._client_request_token is None:
            items = [self._condition_check_items, self._delete_items, self._put_items,
                     self._update_items]
            digest = hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode())
            self._client_request_token = digest.hexdigest()[:36]
        return super()._commit()


def transaction() -> Transaction:
    return Transaction()


def task_and_member(task_id: str, user: str) -> tuple[Task | None, Member | None]:
    """The task row and the user's member row in one consistent BatchGetItem: the first read of
    every claim, one request instead of two."""
    wanted = {Task.Meta.table_name: {"Keys": [{"task_id": {"S": task_id}}], "ConsistentRead": True},
              Member.Meta.table_name: {"Keys": [{"task_id": {"S": task_id}, "user": {"S": user}}],
                                       "ConsistentRead": True}}
    client = Task._get_connection().connection.client
    found: dict[str, list] = {}
    while wanted:  # DynamoDB may hand back keys it did not get to; ask again for those
        answer = client.batch_get_item(RequestItems=wanted)
        for table, items in answer.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        wanted = answer.get("UnprocessedKeys") or {}
    tasks, members = found.get(Task.Meta.table_name), found.get(Member.Meta.table_name)
    return (Task.from_raw_data(tasks[0]) if tasks else None,
            Member.from_raw_data(members[0]) if members else None)
