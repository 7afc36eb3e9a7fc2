"""DynamoDB tables, as PynamoDB models.

tasks        task_id                      -> a task's settings and its progress counters
samples      (task_id, sample_id)         -> files, lease slots, submitters, version heads;
             GSI `dispatch` (task_id, dispatch_key), sparse: only samples that still need work
members      (task_id, user)              -> a user's current lease in the task and submit count
versions     (sample_key, version)        -> every stored annotation version (pre/draft/submitted)
submissions  submission_key               -> first answer to a submit, for idempotent retries
invites      (task_id, invite_id)         -> task-scoped annotator tokens minted, and revoked

Table names come from TABLE_PREFIX; endpoints from the environment (AWS_ENDPOINT_URL).
"""
from pynamodb.connection import Connection
from pynamodb.attributes import (JSONAttribute, ListAttribute, MapAttribute, NumberAttribute,
                                 UnicodeAttribute, UnicodeSetAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from . import config


def _meta(name: str):
    return type("Meta", (), {"table_name": config.TABLE_PREFIX + name, "region": config.REGION,
                             "billing_mode": "PAY_PER_REQUEST"})


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
    # Lease slots: user -> {"id", "exp", "at"}; expired entries are dropped by the next writer.
    leases = MapAttribute(default=dict)
    submitters = UnicodeSetAttribute(default=set)
    done = NumberAttribute(default=0)           # submissions by distinct annotators
    extra = NumberAttribute(default=0)          # submissions asked for beyond the task's overlap
    requeued_at = NumberAttribute(default=0)    # when a released/ended lease gave a slot back
    rev = NumberAttribute(default=0)            # optimistic-concurrency guard of every change
    nver = NumberAttribute(default=0)           # number of the newest version
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
    Meta = _meta("submissions")
    submission_key = UnicodeAttribute(hash_key=True)  # "<task_id>/<submission_id>"
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


def transaction() -> TransactWrite:
    """A TransactWrite; its connection follows AWS_ENDPOINT_URL like the models do."""
    global _connection
    if _connection is None:
        _connection = Connection(region=config.REGION)
    return TransactWrite(connection=_connection)
