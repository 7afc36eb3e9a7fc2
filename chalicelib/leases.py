"""Who works on which sample: claim, heartbeat, release, draft, submit.

Every DynamoDB condition of the lease logic is in this file.

State and invariants
- A sample has `annotations_per_sample` (N) slots. `done` counts submissions by distinct users
  (`submitters`); `leases` maps user -> {"id", "exp", "at"}. Free slots at time t are
  N - done - (leases with exp > t): a lease expires by time alone, no sweeper needed.
- A user holds at most one lease per task; their `Member` row names it. A lease is the caller's
  while both the sample's slot and the member row carry its id; it may be heartbeated or
  submitted even after `exp` as long as nobody has taken the slot since.
- Every change to a sample is a read-modify-write guarded by `rev` (optimistic concurrency),
  written in one TransactWrite with the member row and, on submit, the task's counters, the
  version record and the idempotency record: the counters can never drift from the state.

Dispatch without scans
The sparse GSI `dispatch` holds only samples that still need work, keyed
"<free_at>#<done>#<rank>": free_at is 0 for samples never given back, the time a slot was
given back (release, admin end) or, when every slot is leased, the earliest lease expiry.
A claim queries `dispatch_key <= "<now>~"`: it reads the first few samples that are claimable
now (fresh ones in sampling order, breadth first across N, then given-back and expired ones),
never the leased or finished ones, so it costs the same at 100 or 100,000 samples.
"""
import hashlib
import json
import random
import secrets
import uuid
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from . import clock, storage
from .errors import Conflict, NotFound, TooMany, Unavailable, lease_lost
from .models import Member, Sample, Submission, Task, Version, sample_key, transaction

PAGE = 16            # candidates read per dispatch query
MAX_ATTEMPTS = 8     # optimistic-write attempts before answering 503 (retryable)
# Abuse bounds (README "Limits"): far above what a person annotating does.
MAX_CLAIMS_PER_MINUTE = 120  # new leases per annotator and task (claim, skip, claim, ...)
MAX_DRAFTS_PER_MINUTE = 60   # drafts per lease


def _within_rate(minute, count, t: int, limit: int, what: str) -> int:
    """The count of this minute after one more; 429 when that would pass `limit`."""
    now_minute = t // 60
    count = (int(count or 0) if minute == now_minute else 0) + 1
    if count > limit:
        raise TooMany(f"At most {limit} {what} per minute: wait a moment, then go on.",
                      code="rate_limited", retry_after=60 - t % 60)
    return count

# --- derived sample state ------------------------------------------------------------------

def rank(task: Task, sample_id: str, order: int) -> str:
    """Sampling order: registration order, or a fixed pseudo-random order per task."""
    if task.sampling == "random":
        return hashlib.sha256(f"{task.task_id}/{sample_id}".encode()).hexdigest()[:16]
    return f"{order:016d}"


def as_dict(attr) -> dict:
    """A raw MapAttribute as read from the table, or the plain dict we last assigned."""
    return attr.as_dict() if hasattr(attr, "as_dict") else dict(attr or {})


def live_leases(sample: Sample, t: int) -> dict:
    return {u: l for u, l in as_dict(sample.leases).items() if l["exp"] > t}


def needed(task: Task, sample: Sample) -> int:
    """Submissions this sample needs: the task's overlap plus any an admin reopened it for."""
    return task.annotations_per_sample + sample.extra


def free_slots(task: Task, sample: Sample, t: int) -> int:
    return needed(task, sample) - sample.done - len(live_leases(sample, t))


def dispatch_key(task: Task, sample: Sample, t: int) -> str | None:
    if sample.done >= needed(task, sample) or sample.problem:  # ingest refused a file
        return None
    live = live_leases(sample, t)
    free_at = sample.requeued_at if free_slots(task, sample, t) > 0 else \
        min(int(l["exp"]) for l in live.values())
    return f"{free_at:010d}#{sample.done:03d}#{rank(task, sample.sample_id, sample.order)}"


def status(task: Task, sample: Sample, t: int) -> str:
    if sample.problem:
        return "problem"
    if sample.done >= needed(task, sample):
        return "complete"
    return "in_progress" if live_leases(sample, t) else "available"


def _sample_write(task: Task, sample: Sample, leases: dict, t: int, **changes):
    """The conditional update that stores a new state of `sample` (leases already decided)."""
    sample.leases = leases
    for name, value in changes.items():
        setattr(sample, name, value)
    key = dispatch_key(task, sample, t)
    actions = [Sample.leases.set(leases), Sample.rev.set(sample.rev + 1)]
    actions += [getattr(Sample, name).set(value) for name, value in changes.items()]
    actions.append(Sample.dispatch_key.set(key) if key else Sample.dispatch_key.remove())
    return actions, Sample.rev == sample.rev


# --- reads ---------------------------------------------------------------------------------

def get_sample(task_id: str, sample_id: str) -> Sample:
    try:
        return Sample.get(task_id, sample_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"Task '{task_id}' has no sample '{sample_id}'.", code="sample_not_found") from None


def _member(task_id: str, user: str) -> Member | None:
    try:
        return Member.get(task_id, user, consistent_read=True)
    except DoesNotExist:
        return None


@dataclass
class Lease:
    sample: Sample
    lease_id: str
    expires_at: int
    started_at: int
    member: Member | None = None


@dataclass
class Receipt:
    """What a submit did: its version, the caller's submissions in the task since, and whether
    it completed the sample (and so moved the task's `completed` counter) just now."""
    version: int
    submitted: int
    completed: bool = False
    repeat: bool = False


def _own_lease(task: Task, user: str, sample_id: str, lease_id: str) -> Lease:
    """The caller's lease on this sample, or 409 lease_lost."""
    member = _member(task.task_id, user)
    sample = get_sample(task.task_id, sample_id)
    slot = as_dict(sample.leases).get(user)
    if not member or member.lease_id != lease_id or member.lease_sample != sample_id or \
            not slot or slot["id"] != lease_id:
        raise lease_lost(sample_id)
    return Lease(sample, lease_id, int(slot["exp"]), int(slot["at"]), member)


RETRY_HERE = {"None", "ConditionalCheckFailed", "TransactionConflict"}


def _lost_race(tx, exc: TransactWriteError) -> set[str]:
    """The names of the items whose condition failed when the write lost a race (look again);
    503 for anything else (throttling, service errors, a lost answer), which the caller
    retries with the same request."""
    reasons = {(r.code if r else "None") for r in (exc.cancellation_reasons or [])}
    if not reasons or not reasons <= RETRY_HERE:
        raise Unavailable("The database is busy; retry the same request.") from exc
    return tx.failed(exc)


# --- claim ---------------------------------------------------------------------------------

UNREAD = object()  # claim(member=...) not given: read it here


def claim(task: Task, user: str, sample_id: str | None = None, member=UNREAD) -> Lease | None:
    """Lease a sample to `user`: theirs again if they hold a live lease, else the next one.

    `sample_id` opens a named sample (tasks with public sample visibility). `member`: the
    caller's member row, when the route read it with the task (models.task_and_member).
    Returns None when nothing is left for this user.
    """
    for attempt in range(MAX_ATTEMPTS):
        t = clock.now()
        if attempt or member is UNREAD:
            member = _member(task.task_id, user)
        if member and member.lease_id and member.lease_exp and member.lease_exp > t:
            held = _held(task, user, member)
            if held and (sample_id is None or held.sample.sample_id == sample_id):
                return held
            if held:
                raise Conflict(f"You hold a lease on sample '{held.sample.sample_id}': submit or "
                               "release it before opening another.", code="lease_held")
        if sample_id is None and member and \
                member.open_submitted >= task.total - task.completed:
            return None  # every unfinished sample already has this user's submission
        claims = _within_rate(member and member.claim_minute, member and member.claims, t,
                              MAX_CLAIMS_PER_MINUTE, "new images")
        sample = _named(task, user, sample_id, t) if sample_id else _pick(task, user, t, attempt)
        if sample is None:
            return None
        lease = Lease(sample, secrets.token_urlsafe(12), t + task.lease_seconds, t)
        leases = live_leases(sample, t)  # taking a slot drops the lapsed leases
        leases[user] = {"id": lease.lease_id, "exp": lease.expires_at, "at": t}
        actions, cond = _sample_write(task, sample, leases, t)
        # The member row must still show what we decided on: no lease, or a lapsed/stale one.
        seen = member.lease_id if member else None
        unchanged = Member.lease_id == seen if seen else Member.lease_id.does_not_exist()
        tx = transaction()
        try:
            with tx:
                tx.update(sample, actions=actions, condition=cond, name="sample")
                tx.update(Member(task.task_id, user), condition=unchanged, name="member", actions=[
                    Member.lease_sample.set(sample.sample_id), Member.lease_id.set(lease.lease_id),
                    Member.lease_exp.set(lease.expires_at), Member.claim_minute.set(t // 60),
                    Member.claims.set(claims)])
            return lease
        except TransactWriteError as exc:
            _lost_race(tx, exc)  # the sample moved, or the user's other tab won: look again
    raise Unavailable("Many people are claiming right now; retry in a moment.", code="contention")


def held(task: Task, user: str) -> Lease | None:
    """The user's live lease in this task, if any."""
    member = _member(task.task_id, user)
    if member and member.lease_id and (member.lease_exp or 0) > clock.now():
        return _held(task, user, member)
    return None


def _held(task: Task, user: str, member: Member) -> Lease | None:
    sample = get_sample(task.task_id, member.lease_sample)
    slot = as_dict(sample.leases).get(user)
    if slot and slot["id"] == member.lease_id:
        return Lease(sample, member.lease_id, int(slot["exp"]), int(slot["at"]))
    return None


def _eligible(task: Task, sample: Sample, user: str, t: int) -> bool:
    return user not in sample.submitters and user not in live_leases(sample, t) and \
        free_slots(task, sample, t) > 0


def _pick(task: Task, user: str, t: int, attempt: int) -> Sample | None:
    """The first claimable sample in dispatch order; after a lost race, a random one of the
    first few so that concurrent claimers spread out instead of colliding again."""
    if attempt >= MAX_ATTEMPTS:
        raise Unavailable("Many people are claiming right now; retry in a moment.", code="contention")
    last = None
    while True:
        page = Sample.dispatch.query(task.task_id, Sample.dispatch_key <= f"{t:010d}~",
                                     limit=PAGE, last_evaluated_key=last, page_size=PAGE)
        eligible = [s for s in page if _eligible(task, s, user, t)]
        if eligible:
            if attempt == 0:
                return eligible[0]
            # The index lags the table a little on AWS (GSIs are eventually consistent): after
            # a lost race, decide on the table's own copy.
            choice = get_sample(task.task_id, random.choice(eligible[:4 << attempt]).sample_id)
            return choice if _eligible(task, choice, user, t) else _pick(task, user, t, attempt + 1)
        last = page.last_evaluated_key
        if not last:
            return None


def check_openable(task: Task, user: str, sample_id: str) -> None:
    """The 4xx a claim of this named sample would answer now, if any."""
    _named(task, user, sample_id, clock.now())


def _named(task: Task, user: str, sample_id: str, t: int) -> Sample:
    sample = get_sample(task.task_id, sample_id)
    if user in sample.submitters:
        raise Conflict(f"You already submitted sample '{sample_id}'.", code="already_submitted")
    if sample.done >= needed(task, sample):
        raise Conflict(f"Sample '{sample_id}' is complete.", code="sample_complete")
    if free_slots(task, sample, t) <= 0:
        raise Conflict(f"Sample '{sample_id}' is being annotated by someone else; try another.",
                       code="sample_leased")
    return sample


# --- heartbeat / release -------------------------------------------------------------------

def _rewrite_own(task: Task, user: str, sample_id: str, lease_id: str, change) -> Lease:
    """Apply `change(lease, leases, t) -> (leases, member_actions, sample_changes)` atomically."""
    for _ in range(MAX_ATTEMPTS):
        t = clock.now()
        lease = _own_lease(task, user, sample_id, lease_id)
        leases, member_actions, changes = change(lease, as_dict(lease.sample.leases), t)
        actions, cond = _sample_write(task, lease.sample, leases, t, **changes)
        tx = transaction()
        try:
            with tx:
                tx.update(lease.sample, actions=actions, condition=cond, name="sample")
                tx.update(Member(task.task_id, user), actions=member_actions,
                          condition=Member.lease_id == lease_id, name="member")
            return lease
        except TransactWriteError as exc:
            # The member row moved on: the lease is gone. Only the sample changed (a draft or
            # another slot's holder): look again.
            if "member" in _lost_race(tx, exc):
                raise lease_lost(sample_id) from exc
    raise Unavailable("This sample is busy; retry in a moment.", code="contention")


def heartbeat(task: Task, user: str, sample_id: str, lease_id: str) -> int:
    def extend(lease, leases, t):
        lease.expires_at = t + task.lease_seconds
        leases[user] = {**leases[user], "exp": lease.expires_at}
        return leases, [Member.lease_exp.set(lease.expires_at)], {}
    return _rewrite_own(task, user, sample_id, lease_id, extend).expires_at


def release(task: Task, user: str, sample_id: str, lease_id: str) -> None:
    def give_back(lease, leases, t):
        leases.pop(user)
        return leases, _clear_member_lease(), {"requeued_at": t}
    _rewrite_own(task, user, sample_id, lease_id, give_back)


def _clear_member_lease():
    return [Member.lease_sample.remove(), Member.lease_id.remove(), Member.lease_exp.remove()]


# --- draft / submit ------------------------------------------------------------------------

def _store(task_id: str, sample_id: str, annotation: dict) -> str:
    """Every version is its own object under a unique key: a lost race never overwrites one."""
    key = storage.annotation_key(task_id, sample_id, uuid.uuid4().hex)
    storage.put_json(key, annotation)
    return key


def _version_put(tx, task_id, sample_id, version, kind, user, t, key, annotation):
    tx.save(Version(sample_key(task_id, sample_id), version, kind=kind, by=user, at=t, s3_key=key,
                    features=len(annotation.get("features", []))),
            condition=Version.version.does_not_exist(), name="version")


def _next_version(sample: Sample, user: str, key: str) -> tuple[int, dict]:
    """The number of a new version and the heads that make it the one to start from."""
    version = sample.nver + 1
    head = {"v": version, "key": key}
    return version, {**as_dict(sample.heads), "any": head, f"u:{user}": head}


def draft(task: Task, user: str, sample_id: str, lease_id: str, annotation: dict) -> int:
    """Store a new draft version; saving also keeps the lease alive."""
    first = _own_lease(task, user, sample_id, lease_id)
    slot = as_dict(first.sample.leases)[user]
    _within_rate(slot.get("draft_minute"), slot.get("drafts"), clock.now(), MAX_DRAFTS_PER_MINUTE,
                 "saves of one image")  # before anything is stored
    key = _store(task.task_id, sample_id, annotation)
    for attempt in range(MAX_ATTEMPTS):
        t = clock.now()
        lease = first if attempt == 0 else _own_lease(task, user, sample_id, lease_id)
        sample = lease.sample
        version, heads = _next_version(sample, user, key)
        leases = as_dict(sample.leases)
        slot = leases[user]
        drafts = _within_rate(slot.get("draft_minute"), slot.get("drafts"), t,
                              MAX_DRAFTS_PER_MINUTE, "saves of one image")
        leases[user] = {**slot, "exp": t + task.lease_seconds, "draft_minute": t // 60,
                        "drafts": drafts}
        actions, cond = _sample_write(task, sample, leases, t, nver=version, heads=heads)
        tx = transaction()
        try:
            with tx:
                tx.update(sample, actions=actions, condition=cond, name="sample")
                tx.update(Member(task.task_id, user), condition=Member.lease_id == lease_id,
                          actions=[Member.lease_exp.set(t + task.lease_seconds)], name="member")
                _version_put(tx, task.task_id, sample_id, version, "draft", user, t, key, annotation)
            return version
        except TransactWriteError as exc:
            if "member" in _lost_race(tx, exc):  # else the sample moved (a heartbeat): again
                raise lease_lost(sample_id) from exc
    raise Unavailable("This sample is busy; retry in a moment.", code="contention")


def _submission_key(task: Task, sample_id: str, user: str, submission_id: str) -> str:
    # The task's uid, not its id: a task deleted and created again starts with no records.
    return "/".join((task.task_id, task.uid, sample_id, submission_id, user))


def _digest(annotation: dict) -> str:
    return hashlib.sha256(json.dumps(annotation, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def previous_submission(task: Task, user: str, sample_id: str, submission_id: str,
                        digest: str) -> Submission | None:
    """The first answer to this submit, when this is a retry of it; 409 when the key is being
    reused for different content (a client bug that would otherwise lose an annotation)."""
    try:
        sub = Submission.get(_submission_key(task, sample_id, user, submission_id),
                             consistent_read=True)
    except DoesNotExist:
        return None
    if sub.digest != digest:
        raise Conflict("This submission_id was already used for a different annotation of this "
                       "sample: generate a new one for each submit.", code="submission_id_reused")
    return sub


def submit(task: Task, user: str, sample_id: str, lease_id: str, annotation: dict,
           submission_id: str) -> Receipt:
    """Store the submitted version and count it, all in one transaction; idempotent by
    `submission_id`: a repeat returns the version of the first and changes nothing."""
    digest = _digest(annotation)
    done = previous_submission(task, user, sample_id, submission_id, digest)
    if done:
        return _repeat(task, user, done)
    first = _own_lease(task, user, sample_id, lease_id)
    waited = clock.now() - first.started_at
    if waited < task.min_completion_time:
        raise Conflict(f"Submitted {waited}s after the claim; this task asks for at least "
                       f"{task.min_completion_time}s of work per sample. Keep annotating, then "
                       "submit again.", code="too_fast")
    key = _store(task.task_id, sample_id, annotation)
    for attempt in range(MAX_ATTEMPTS):
        t = clock.now()
        # The first pass writes on what was just read (the rev condition guards it).
        lease = first if attempt == 0 else _own_lease(task, user, sample_id, lease_id)
        sample = lease.sample
        version, heads = _next_version(sample, user, key)
        leases = as_dict(sample.leases)
        leases.pop(user)
        complete = sample.done + 1 >= needed(task, sample)
        actions, cond = _sample_write(task, sample, leases, t, nver=version, heads=heads,
                                      done=sample.done + 1)
        actions.append(Sample.submitters.add({user}))
        tx = transaction()
        try:
            with tx:
                tx.update(sample, actions=actions, condition=cond, name="sample")
                tx.update(Member(task.task_id, user), condition=Member.lease_id == lease_id,
                          name="member",
                          actions=[Member.submitted.add(1), Member.open_submitted.add(0 if complete else 1),
                                   *_clear_member_lease()])
                _version_put(tx, task.task_id, sample_id, version, "submitted", user, t, key,
                             annotation)
                tx.update(task, condition=Task.task_id.exists(), name="task", actions=[
                    Task.annotations.add(1), Task.completed.add(1 if complete else 0)])
                tx.save(Submission(_submission_key(task, sample_id, user, submission_id),
                                   digest=digest, user=user, sample_id=sample_id, version=version,
                                   at=t),
                        condition=Submission.submission_key.does_not_exist(), name="submission")
                if complete:  # the earlier submitters' work on it is no longer open
                    _move_open(tx, task, sample.submitters, -1)
            return Receipt(version, int(lease.member.submitted) + 1, complete)
        except TransactWriteError as exc:
            failed = _lost_race(tx, exc)
            if "submission" in failed:  # a concurrent copy of this very submit won: its answer
                return _repeat(task, user, previous_submission(task, user, sample_id,
                                                               submission_id, digest))
            if "task" in failed:
                raise NotFound(f"Task '{task.task_id}' was deleted.", code="task_not_found") from exc
            if "member" in failed:
                raise lease_lost(sample_id) from exc
            # Only the sample moved (another annotator's slot, a heartbeat): look again.
    raise Unavailable("This sample is busy; retry in a moment.", code="contention")


def _repeat(task: Task, user: str, first: Submission) -> Receipt:
    member = _member(task.task_id, user)
    return Receipt(int(first.version), int(member.submitted) if member else 0, repeat=True)


def _move_open(tx, task: Task, users, step: int) -> None:
    """A sample became complete (-1) or unfinished again (+1) for everyone who submitted it."""
    for other in sorted(users or ()):
        tx.update(Member(task.task_id, other), actions=[Member.open_submitted.add(step)])


# --- what an annotator starts from ---------------------------------------------------------

def start_head(task: Task, sample: Sample, user: str) -> dict | None:
    """The caller's own latest version; else, when one annotator per sample, anyone's latest
    (a lapsed lease's drafts are worth continuing); else the pre-annotation. Independent
    annotators (N > 1) never see each other's work. {"v", "key"} or None."""
    heads = as_dict(sample.heads)
    return heads.get(f"u:{user}") or \
        (heads.get("any") if task.annotations_per_sample == 1 else None) or heads.get("pre")


def start_annotation(task: Task, sample: Sample, user: str) -> tuple[dict | None, int]:
    head = start_head(task, sample, user)
    if not head:
        return None, 0
    return storage.get_json(head["key"]), int(head["v"])


# --- admin ---------------------------------------------------------------------------------

def live(task: Task) -> list[dict]:
    """Every live lease of the task (one member row per annotator: no sample scan)."""
    t = clock.now()
    return sorted(({"sample_id": m.lease_sample, "user": m.user, "lease_id": m.lease_id,
                    "expires_at": int(m.lease_exp)}
                   for m in Member.query(task.task_id, consistent_read=True)
                   if m.lease_id and (m.lease_exp or 0) > t), key=lambda l: l["expires_at"])


def end(task: Task, sample_id: str) -> list[str]:
    """End every lease on the sample (their holders get 409 lease_lost); the slots go back."""
    for _ in range(MAX_ATTEMPTS):
        t = clock.now()
        sample = get_sample(task.task_id, sample_id)
        holders = as_dict(sample.leases)
        if not holders:
            return []
        actions, cond = _sample_write(task, sample, {}, t, requeued_at=t)
        tx = transaction()
        try:
            with tx:
                tx.update(sample, actions=actions, condition=cond, name="sample")
                for user, slot in holders.items():
                    # Only clear the member row if it still names this lease.
                    tx.update(Member(task.task_id, user), actions=_clear_member_lease(),
                              condition=Member.lease_id == slot["id"], name=f"member:{user}")
            return sorted(holders)
        except TransactWriteError as exc:
            if "sample" not in _lost_race(tx, exc):
                # A holder's row moved on (they claimed elsewhere): end only the slot.
                _drop_slots(task, sample_id)
                return sorted(holders)
    raise Unavailable("This sample is busy; retry in a moment.", code="contention")


def _drop_slots(task: Task, sample_id: str) -> None:
    t = clock.now()
    sample = get_sample(task.task_id, sample_id)
    actions, cond = _sample_write(task, sample, {}, t, requeued_at=t)
    sample.update(actions=actions, condition=cond)


def reopen(task: Task, sample_id: str) -> Sample:
    """Ask one more annotator to work on a complete sample (they start from its latest version);
    the task's `completed` counter moves back in the same transaction."""
    for _ in range(MAX_ATTEMPTS):
        t = clock.now()
        sample = get_sample(task.task_id, sample_id)
        if sample.done < needed(task, sample):
            raise Conflict(f"Sample '{sample_id}' is not complete; nothing to reopen.",
                           code="sample_not_complete")
        extra = sample.done - task.annotations_per_sample + 1
        actions, cond = _sample_write(task, sample, as_dict(sample.leases), t, extra=extra,
                                      requeued_at=t)
        tx = transaction()
        try:
            with tx:
                tx.update(sample, actions=actions, condition=cond, name="sample")
                tx.update(task, actions=[Task.completed.add(-1)], condition=Task.task_id.exists(),
                          name="task")
                _move_open(tx, task, sample.submitters, +1)
            return sample
        except TransactWriteError as exc:
            if "task" in _lost_race(tx, exc):
                raise NotFound(f"Task '{task.task_id}' was deleted.", code="task_not_found") from exc
    raise Unavailable("This sample is busy; retry in a moment.", code="contention")
