"""What a sample's stored state means at time t: pure functions, no I/O.

leases.py decides and writes; this module only derives (who holds a live slot, how many slots
are free, where the sample sits in the dispatch index, its status, which version a claim starts
from). Everything here takes plain values and model instances already read, so it is tested
without a database (tests/unit/test_lease_state.py).
"""
import hashlib

from .errors import TooMany
from .models import Sample, Task


def rank(task: Task, sample_id: str, order: int) -> str:
    """Sampling order: registration order, or a fixed pseudo-random order per task."""
    if task.sampling == "random":
        return hashlib.sha256(f"{task.task_id}/{sample_id}".encode()).hexdigest()[:16]
    return f"{order:016d}"


def as_dict(attr) -> dict:
    """A raw MapAttribute as read from the table, or the plain dict we last assigned."""
    return attr.as_dict() if hasattr(attr, "as_dict") else dict(attr or {})


def slots(sample: Sample) -> dict[str, int]:
    """user -> expiry of every slot stored, lapsed ones included. Items written before slots were
    bare expiries hold {"id", "exp", "at", ...} (the member row has the rest): read as their exp,
    and rewritten bare by the next change of the sample."""
    return {u: int(slot["exp"] if isinstance(slot, dict) else slot)
            for u, slot in as_dict(sample.leases).items()}


def live_leases(sample: Sample, t: int) -> dict[str, int]:
    """user -> expiry of every lease (or reservation ahead) not expired at t."""
    return {u: exp for u, exp in slots(sample).items() if exp > t}


def needed(task: Task, sample: Sample) -> int:
    """Submissions this sample needs: the task's overlap plus any an admin reopened it for."""
    return int(task.annotations_per_sample + sample.extra_annotations)


def free_slots(task: Task, sample: Sample, t: int) -> int:
    return needed(task, sample) - int(sample.done) - len(live_leases(sample, t))


def eligible(task: Task, sample: Sample, user: str, t: int) -> bool:
    """Whether `user` may take a slot of this sample now."""
    return user not in sample.submitters and user not in live_leases(sample, t) and \
        free_slots(task, sample, t) > 0


def dispatch_key(task: Task, sample: Sample, t: int) -> str | None:
    """"<free_at>#<done>#<rank>", or None once nothing is left to hand out (leases.py docstring)."""
    if sample.done >= needed(task, sample) or sample.problem:  # ingest refused a file
        return None
    live = live_leases(sample, t)
    free_at = sample.requeued_at if free_slots(task, sample, t) > 0 else \
        min(int(exp) for exp in live.values())
    return f"{free_at:010d}#{sample.done:03d}#{rank(task, sample.sample_id, int(sample.order))}"


def status(task: Task, sample: Sample, t: int) -> str:
    if sample.problem:
        return "problem"
    if sample.done >= needed(task, sample):
        return "complete"
    return "in_progress" if live_leases(sample, t) else "available"


def within_rate(minute, count, t: int, limit: int, what: str) -> int:
    """The count of this minute after one more; 429 when that would pass `limit`."""
    now_minute = t // 60
    count = (int(count or 0) if minute == now_minute else 0) + 1
    if count > limit:
        raise TooMany(f"At most {limit} {what} per minute: wait a moment, then go on.",
                      code="rate_limited", retry_after=60 - t % 60)
    return count


# --- versions ------------------------------------------------------------------------------

def start_head(task: Task, sample: Sample, user: str) -> dict | None:
    """What an annotator starts from: their own latest version; else, when one annotator per
    sample, anyone's latest (a lapsed lease's drafts are worth continuing); else the
    pre-annotation. Independent annotators (N > 1) never see each other's work.
    {"v", "key"} or None."""
    heads = as_dict(sample.heads)
    return heads.get(f"u:{user}") or \
        (heads.get("any") if task.annotations_per_sample == 1 else None) or heads.get("pre")


def latest_head(sample: Sample) -> dict | None:
    """What an owner sees first: the newest version by anyone, else the pre-annotation."""
    heads = as_dict(sample.heads)
    return heads.get("any") or heads.get("pre")


def next_version(sample: Sample, user: str, key: str, submitted: bool = False) -> tuple[int, dict]:
    """The number of a new version and the heads that make it the one to start from.

    A submission drops its author's own head: a submitter never gets the sample again (claims
    and named opens refuse them), so keeping it would only grow the item every claim and
    submit pays for by the kilobyte. The version itself stays in the versions table."""
    version = int(sample.latest_version) + 1
    head = {"v": version, "key": key}
    heads = {**as_dict(sample.heads), "any": head, f"u:{user}": head}
    if submitted:
        del heads[f"u:{user}"]
    return version, heads
