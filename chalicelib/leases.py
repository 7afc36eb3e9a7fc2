"""Who works on which sample: claim, heartbeat, release, draft, submit.

Every DynamoDB condition of the lease logic is in this file.

State and invariants
- A sample has `annotations_per_sample` (N) slots. `done` counts submissions by distinct users
  (`submitters`); `leases` maps user -> expiry, nothing more: the item every claim and submit
  writes stays small however many people hold it. Free slots at time t are
  N - done - (leases with exp > t): a lease expires by time alone, no sweeper needed.
- A user holds at most one lease per task (and one reservation ahead, on another sample); their
  `Member` row names it: id, sample, start, draft counts. A lease is the caller's while the
  member row carries its id and the sample still has the user's slot; it may be heartbeated
  or submitted even after `exp` as long as nobody has taken the slot since.
- Every change to a sample is a read-modify-write guarded by `revision` (optimistic concurrency),
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
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from . import clock, storage
from .errors import ApiError, Conflict, NotFound, Unavailable, lease_lost
# The derived state is re-exported: callers read a sample's meaning from here or from there.
from .lease_state import (as_dict, dispatch_key, eligible, free_slots, live_leases, needed,
                          next_version, rank, slots, start_head, status, within_rate)
from .models import (Member, Sample, Submission, Task, Transaction, Version, sample_key,
                     transaction)

__all__ = ["as_dict", "dispatch_key", "free_slots", "live_leases", "needed", "rank", "start_head",
           "status"]

# Candidates read per dispatch query: an uncontended claim takes the head of the queue, so it
# reads a few; each race lost lately on the task and each page of samples this caller may not
# take reads twice as many (claimers spread over more samples; a head of the caller's own
# submissions is crossed fast).
FIRST_PAGE = 4
MAX_PAGE = 64
RACE_MEMORY = 30     # seconds a lost claim race widens the next claims' first page...
RACE_SPREAD = 2      # ...up to FIRST_PAGE << 2: a wider page costs more reads than races save
MAX_ATTEMPTS = 8     # optimistic-write attempts before answering 503 (retryable)
# Abuse bounds (README "Limits"): far above what a person annotating does.
MAX_CLAIMS_PER_MINUTE = 120  # new leases per annotator and task (claim, skip, claim, ...)
MAX_DRAFTS_PER_MINUTE = 60   # drafts per lease
BUSY = "This sample is busy; retry in a moment."


def _sample_write(task: Task, sample: Sample, leases: dict, t: int, **changes):
    """The conditional update that stores a new state of `sample` (leases already decided)."""
    sample.leases = leases
    for name, value in changes.items():
        setattr(sample, name, value)
    key = dispatch_key(task, sample, t)
    actions = [Sample.leases.set(leases), Sample.revision.set(sample.revision + 1)]
    actions += [getattr(Sample, name).set(value) for name, value in changes.items()]
    actions.append(Sample.dispatch_key.set(key) if key else Sample.dispatch_key.remove())
    return actions, Sample.revision == sample.revision


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
    ahead: bool = False  # a reservation of the next sample, not yet the lease worked on


@dataclass
class Receipt:
    """What a submit did: its version, the caller's submissions in the task since, and whether
    it completed the sample (and so moved the task's `completed` counter) just now."""
    version: int
    submitted: int
    completed: bool = False
    repeat: bool = False
    member: Member | None = None  # the caller's member row as the submit left it, if known


def _own_lease(task: Task, user: str, sample_id: str, lease_id: str) -> Lease:
    """The caller's lease on this sample, or 409 lease_lost."""
    member = _member(task.task_id, user)
    sample = get_sample(task.task_id, sample_id)
    if not member or member.lease_id != lease_id:
        raise lease_lost(sample_id)
    lease = _leased(sample, user, member)
    if lease is None:
        raise lease_lost(sample_id)
    return lease


def _leased(sample: Sample, user: str, member: Member, ahead: bool = False) -> Lease | None:
    """The member row's lease (or reservation ahead), while `sample` still has the user's slot
    for it. The two are never on one sample; were they, the slot would be neither's."""
    exp = slots(sample).get(user)
    mine, other = (member.ahead_sample, member.lease_sample) if ahead else \
        (member.lease_sample, member.ahead_sample)
    if exp is None or mine != sample.sample_id or other == sample.sample_id:
        return None
    if ahead:  # not started: it becomes a lease, started then, when the holder claims it
        return Lease(sample, member.ahead_id, int(exp), 0, member, True)
    return Lease(sample, member.lease_id, int(exp), int(member.lease_at or 0), member)


# --- the one optimistic write --------------------------------------------------------------

RETRY_HERE = {"None", "ConditionalCheckFailed", "TransactionConflict"}


def _lost_race(tx: Transaction, exc: TransactWriteError) -> set[str]:
    """The names of the items whose condition failed when the write lost a race (look again);
    503 for anything else (throttling, service errors, a lost answer), which the caller
    retries with the same request."""
    reasons = {(r.code if r else "None") for r in (exc.cancellation_reasons or [])}
    if not reasons or not reasons <= RETRY_HERE:
        raise Unavailable("The database is busy; retry the same request.") from exc
    return tx.failed(exc)


def _optimistic(write: Callable[[Transaction, int, int], Any],
                lost: Callable[[set[str]], Any] = lambda failed: None, busy: str = BUSY) -> Any:
    """Every change here: `write(tx, attempt, t)` reads, decides, adds its named items to `tx`
    and returns the answer. The transaction lands, or it lost a race (another writer moved an
    item since the read): `lost(names of the failed items)` turns that into an answer or an
    error (a 409, the first answer of a repeated submit), or None: read and decide again.
    A write that adds no item (nothing to change) answers at once."""
    for attempt in range(MAX_ATTEMPTS):
        tx = transaction()
        answer = write(tx, attempt, clock.now())
        if not len(tx):
            return answer
        try:
            tx.commit()
            return answer
        except TransactWriteError as exc:
            settled = lost(_lost_race(tx, exc))
            if settled is not None:
                return settled
    raise Unavailable(busy, code="contention")


def _member_lost(sample_id: str):
    """`lost` of a write on the caller's own lease: the member row moved on, so the lease is gone;
    only the sample moved (a draft, another slot's holder): look again."""
    def lost(failed: set[str]):
        if "member" in failed:
            raise lease_lost(sample_id)
    return lost


# --- claim ---------------------------------------------------------------------------------

UNREAD = object()  # claim(member=...) not given: read it here
CLAIMING = "Many people are claiming right now; retry in a moment."


def claim(task: Task, user: str, sample_id: str | None = None, member=UNREAD) -> Lease | None:
    """Lease a sample to `user`: theirs again if they hold a live lease, else the next one.

    `sample_id` opens a named sample (tasks with public sample visibility). `member`: the
    caller's member row, when the route read it with the task (models.task_and_member).
    Returns None when nothing is left for this user.
    """
    def write(tx: Transaction, attempt: int, t: int) -> Lease | None:
        nonlocal member
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
        claims = within_rate(member and member.claim_minute, member and member.claims, t,
                             MAX_CLAIMS_PER_MINUTE, "new images")
        ahead = _ahead(task, user, member) if sample_id is None else None
        if ahead:  # the reserved sample becomes the lease, same id: its image may be on screen
            return _take(tx, task, user, member, ahead.sample, ahead.lease_id, t, claims)
        sample = _named(task, user, sample_id, t) if sample_id else _pick(task, user, t, attempt)
        if sample is None:
            return None
        return _take(tx, task, user, member, sample, secrets.token_urlsafe(12), t, claims)
    # A lost race: the sample moved, or the user's other tab won: look again.
    return _optimistic(write, _claim_lost(task), busy=CLAIMING)


def _claim_lost(task: Task):
    """`lost` of a claim or a reservation: look again, and remember the race when it was over
    the sample (another claimer took it), not over the caller's own member row (their other
    tab, their page's reservation): only the first says claimers are colliding on the task."""
    def lost(failed: set[str]) -> None:
        if "sample" in failed:
            _races.lost(task.task_id, clock.now())
    return lost


def _take(tx: Transaction, task: Task, user: str, member: Member | None, sample: Sample,
          lease_id: str, t: int, claims: int) -> Lease:
    """Add to `tx` the writes that lease `sample` to `user` as `lease_id`."""
    lease = Lease(sample, lease_id, t + task.lease_seconds, t)
    leases = live_leases(sample, t)  # taking a slot drops the lapsed leases
    leases[user] = lease.expires_at
    actions, cond = _sample_write(task, sample, leases, t)
    # The member row must still show what we decided on: no lease, or a lapsed/stale one; and
    # the reservation being taken, if that is where the sample comes from.
    unchanged = _still(Member.lease_id, member.lease_id if member else None)
    member_actions = [
        Member.lease_sample.set(sample.sample_id), Member.lease_id.set(lease.lease_id),
        Member.lease_exp.set(lease.expires_at), Member.lease_at.set(t),
        Member.claim_minute.set(t // 60), Member.claims.set(claims),
        Member.draft_minute.remove(), Member.drafts.remove()]  # drafts are counted per lease
    if member and member.ahead_id == lease_id:
        unchanged &= Member.ahead_id == lease_id
        member_actions += _clear_member_ahead()
    tx.update(sample, actions=actions, condition=cond, name="sample")
    tx.update(Member(task.task_id, user), condition=unchanged, name="member",
              actions=member_actions)
    return lease


def _still(attribute, seen):
    """The condition that a member row's attribute still holds what was read."""
    return attribute == seen if seen else attribute.does_not_exist()


def held(task: Task, user: str) -> Lease | None:
    """The user's live lease in this task, if any."""
    member = _member(task.task_id, user)
    if member and member.lease_id and (member.lease_exp or 0) > clock.now():
        return _held(task, user, member)
    return None


def _held(task: Task, user: str, member: Member) -> Lease | None:
    return _leased(get_sample(task.task_id, member.lease_sample), user, member)


class _Races:
    """Claim races lost lately, per task, in this process (a Lambda container, the local server).

    While claimers collide, a claim starts spread over a page as many times larger as races
    were lost in the last RACE_MEMORY seconds, instead of at the head where the others are: the
    page adapts to the contention, and a lone annotator still gets samples in order."""

    def __init__(self, tasks: int = 256):
        self._lost: OrderedDict[str, deque[int]] = OrderedDict()
        self._tasks = tasks

    def lost(self, task_id: str, t: int) -> None:
        self._lost.setdefault(task_id, deque(maxlen=8)).append(t)
        self._lost.move_to_end(task_id)
        while len(self._lost) > self._tasks:
            self._lost.popitem(last=False)

    def lately(self, task_id: str, t: int) -> int:
        return sum(1 for at in self._lost.get(task_id, ()) if at > t - RACE_MEMORY)


_races = _Races()


def _pick(task: Task, user: str, t: int, attempt: int) -> Sample | None:
    """The first claimable sample in dispatch order; while claims collide (this one lost a race,
    or others on the task did lately), a random one of a larger page so that concurrent claimers
    spread out instead of colliding again."""
    if attempt >= MAX_ATTEMPTS:
        raise Unavailable(CLAIMING, code="contention")
    spread = attempt + min(_races.lately(task.task_id, t), RACE_SPREAD)
    last, size = None, min(FIRST_PAGE << spread, MAX_PAGE)
    while True:
        page = Sample.dispatch.query(task.task_id, Sample.dispatch_key <= f"{t:010d}~",
                                     limit=size, last_evaluated_key=last, page_size=size)
        candidates = [s for s in page if eligible(task, s, user, t)]
        if candidates:
            if not spread:
                return candidates[0]
            choice = random.choice(candidates)
            if not attempt:  # the index's copy: should it lag, the write fails and we look again
                return choice
            # The index lags the table a little on AWS (GSIs are eventually consistent): after
            # a lost race, decide on the table's own copy.
            choice = get_sample(task.task_id, choice.sample_id)
            return choice if eligible(task, choice, user, t) else _pick(task, user, t, attempt + 1)
        last, size = page.last_evaluated_key, min(size * 2, MAX_PAGE)
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
    def write(tx: Transaction, attempt: int, t: int) -> Lease:
        lease = _own_lease(task, user, sample_id, lease_id)
        leases, member_actions, changes = change(lease, slots(lease.sample), t)
        actions, cond = _sample_write(task, lease.sample, leases, t, **changes)
        tx.update(lease.sample, actions=actions, condition=cond, name="sample")
        tx.update(Member(task.task_id, user), actions=member_actions,
                  condition=Member.lease_id == lease_id, name="member")
        return lease
    return _optimistic(write, _member_lost(sample_id))


def heartbeat(task: Task, user: str, sample_id: str, lease_id: str) -> int:
    def extend(lease, leases, t):
        lease.expires_at = t + task.lease_seconds
        leases[user] = lease.expires_at
        return leases, [Member.lease_exp.set(lease.expires_at)], {}
    return _rewrite_own(task, user, sample_id, lease_id, extend).expires_at


def release(task: Task, user: str, sample_id: str, lease_id: str) -> None:
    """End a lease early (skip), or give back the reservation ahead (the page is leaving)."""
    member = _member(task.task_id, user)
    if member and member.ahead_id == lease_id and member.ahead_sample == sample_id:
        return _give_back_ahead(task, user, sample_id, lease_id)

    def give_back(lease, leases, t):
        leases.pop(user)
        return leases, _clear_member_lease(), {"requeued_at": t}
    _rewrite_own(task, user, sample_id, lease_id, give_back)


def _clear_member_lease():
    return [Member.lease_sample.remove(), Member.lease_id.remove(), Member.lease_exp.remove(),
            Member.lease_at.remove()]


def _clear_member_ahead():
    return [Member.ahead_sample.remove(), Member.ahead_id.remove(), Member.ahead_exp.remove()]


# --- reservation ahead ---------------------------------------------------------------------
#
# While an annotator works on their lease, their page may hold the NEXT sample as a
# reservation, so that its image is on screen the moment they submit. A reservation is a slot
# in the sample's `leases` like any other, so dispatch, progress and "never two people on one
# slot" treat it as a lease; the member row names it (ahead_*), which tells it apart. One per
# annotator; it lasts AHEAD_SECONDS (the page renews it by reserving again); the holder's next
# claim (a submit's "next") turns it into their lease with the same id; the page gives it back
# when it leaves.
#
# Never at another annotator's expense: a reservation is granted or renewed only while the
# unfinished samples the caller has not submitted number more than AHEAD_HOLDS per annotator at
# work (a lease, a reservation, and one sample of slack for the renewal interval) plus
# AHEAD_SPARE. With one annotator per sample, every annotator at work then still finds a free
# sample whatever the others hold. The condition is on the task row (its `completed` counter)
# in the reservation's own transaction, so completions racing the grant cannot pass it; in the
# last stretch renewals are refused and the reservation is given back at once.
AHEAD_SECONDS = 120
AHEAD_HOLDS = 3
AHEAD_SPARE = 2


def _ahead(task: Task, user: str, member: Member | None) -> Lease | None:
    """The user's reservation while its slot is still theirs (like a lease, even past `exp`,
    until someone else takes the slot)."""
    if not (member and member.ahead_id and member.ahead_sample):
        return None
    return _leased(get_sample(task.task_id, member.ahead_sample), user, member, ahead=True)


def _at_work(task: Task, t: int) -> int:
    """Annotators holding a live lease or reservation (one member row each: no sample scan)."""
    return sum(1 for m in Member.query(task.task_id)
               if (m.lease_exp or 0) > t or (m.ahead_exp or 0) > t)


def _fresh_task(task_id: str) -> Task:
    try:
        return Task.get(task_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"Task '{task_id}' was deleted.", code="task_not_found") from None


def reserve(task: Task, user: str) -> Lease | None:
    """Reserve (or renew the reservation of) the sample after the caller's current one; None
    when the task is in its last stretch (see above) or nothing else is left for the caller."""
    def write(tx: Transaction, attempt: int, t: int) -> Lease | None:
        current = task if attempt == 0 else _fresh_task(task.task_id)
        member = _member(task.task_id, user)
        if not (member and member.lease_id and (member.lease_exp or 0) > t):
            raise Conflict("Reserve the next image while holding one: claim an image first.",
                           code="no_lease")
        ahead = _ahead(task, user, member)
        at_work = max(1, _at_work(task, t))
        # `completed` must stay below this for the unfinished samples to exceed the margin.
        ceiling = int(current.total) - int(member.open_submitted) -             AHEAD_HOLDS * at_work - AHEAD_SPARE
        if current.completed >= ceiling:
            if ahead:
                _drop_ahead(tx, task, user, ahead, t)
            return None
        sample = ahead.sample if ahead else _pick(task, user, t, attempt)
        if sample is None:
            return None
        lease = Lease(sample, ahead.lease_id if ahead else secrets.token_urlsafe(12),
                      t + min(int(task.lease_seconds), AHEAD_SECONDS), t, member, True)
        leases = live_leases(sample, t)
        leases[user] = lease.expires_at
        actions, cond = _sample_write(task, sample, leases, t)
        tx.update(sample, actions=actions, condition=cond, name="sample")
        tx.update(Member(task.task_id, user), name="member",
                  condition=(Member.lease_id == member.lease_id) &
                  _still(Member.ahead_id, member.ahead_id),
                  actions=[Member.ahead_sample.set(sample.sample_id),
                           Member.ahead_id.set(lease.lease_id),
                           Member.ahead_exp.set(lease.expires_at)])
        tx.condition_check(Task, task.task_id, condition=Task.completed < ceiling, name="margin")
        return lease
    # Lost: the sample moved, the caller's other tab changed the member row, or completions
    # reached the margin meanwhile: look again (on the task as it is now).
    return _optimistic(write, _claim_lost(task), busy=CLAIMING)


def reserve_after_submit(task: Task, user: str) -> Lease | None:
    """reserve() for a submit's answer: the submit has landed whatever happens here, so a refusal
    or a busy table means no reservation this time (the page asks again later), never an error
    that would make the caller send the submit again."""
    try:
        return reserve(task, user)
    except ApiError:
        return None


def _drop_ahead(tx: Transaction, task: Task, user: str, ahead: Lease, t: int) -> None:
    """Add to `tx` the writes that give a reservation back. The sample keeps its place in the
    dispatch order (no requeued_at): nobody worked on it."""
    leases = slots(ahead.sample)
    leases.pop(user)
    actions, cond = _sample_write(task, ahead.sample, leases, t)
    tx.update(ahead.sample, actions=actions, condition=cond, name="sample")
    tx.update(Member(task.task_id, user), actions=_clear_member_ahead(),
              condition=Member.ahead_id == ahead.lease_id, name="member")


def _give_back_ahead(task: Task, user: str, sample_id: str, lease_id: str) -> None:
    def write(tx: Transaction, attempt: int, t: int) -> None:
        ahead = _ahead(task, user, _member(task.task_id, user))
        if not ahead or ahead.lease_id != lease_id:
            raise lease_lost(sample_id)
        _drop_ahead(tx, task, user, ahead, t)
    _optimistic(write, _member_lost(sample_id))


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


def draft(task: Task, user: str, sample_id: str, lease_id: str, annotation: dict) -> int:
    """Store a new draft version; saving also keeps the lease alive."""
    first = _own_lease(task, user, sample_id, lease_id)
    _drafts(first, clock.now())  # refused before anything is stored
    key = _store(task.task_id, sample_id, annotation)

    def write(tx: Transaction, attempt: int, t: int) -> int:
        lease = first if attempt == 0 else _own_lease(task, user, sample_id, lease_id)
        sample = lease.sample
        version, heads = next_version(sample, user, key)
        leases = {**slots(sample), user: t + task.lease_seconds}
        actions, cond = _sample_write(task, sample, leases, t, latest_version=version, heads=heads)
        tx.update(sample, actions=actions, condition=cond, name="sample")
        # The sample's revision orders concurrent drafts: the count read here is exact.
        tx.update(Member(task.task_id, user), condition=Member.lease_id == lease_id, name="member",
                  actions=[Member.lease_exp.set(t + task.lease_seconds),
                           Member.draft_minute.set(t // 60), Member.drafts.set(_drafts(lease, t))])
        _version_put(tx, task.task_id, sample_id, version, "draft", user, t, key, annotation)
        return version
    return _optimistic(write, _member_lost(sample_id))


def _drafts(lease: Lease, t: int) -> int:
    """The drafts of this minute after one more (the member row counts them); 429 past the limit."""
    member = lease.member
    return within_rate(member and member.draft_minute, member and member.drafts, t,
                       MAX_DRAFTS_PER_MINUTE, "saves of one image")


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

    lease = first

    def write(tx: Transaction, attempt: int, t: int) -> tuple[int, bool]:
        nonlocal lease
        # The first pass writes on what was just read (the revision condition guards it).
        lease = first if attempt == 0 else _own_lease(task, user, sample_id, lease_id)
        sample = lease.sample
        version, heads = next_version(sample, user, key, submitted=True)
        leases = slots(sample)
        leases.pop(user)
        complete = sample.done + 1 >= needed(task, sample)
        actions, cond = _sample_write(task, sample, leases, t, latest_version=version, heads=heads,
                                      done=sample.done + 1)
        actions.append(Sample.submitters.add({user}))
        tx.update(sample, actions=actions, condition=cond, name="sample")
        tx.update(Member(task.task_id, user), condition=Member.lease_id == lease_id,
                  name="member",
                  actions=[Member.submitted.add(1), Member.open_submitted.add(0 if complete else 1),
                           *_clear_member_lease()])
        _version_put(tx, task.task_id, sample_id, version, "submitted", user, t, key, annotation)
        tx.update(task, condition=Task.task_id.exists(), name="task", actions=[
            Task.annotations.add(1), Task.completed.add(1 if complete else 0)])
        tx.save(Submission(_submission_key(task, sample_id, user, submission_id),
                           digest=digest, user=user, sample_id=sample_id, version=version, at=t),
                condition=Submission.submission_key.does_not_exist(), name="submission")
        if complete:  # the earlier submitters' work on it is no longer open
            _move_open(tx, task, sample.submitters, -1)
        return version, complete

    def lost(failed: set[str]) -> Receipt | None:
        if "submission" in failed:  # a concurrent copy of this very submit won: its answer
            again = previous_submission(task, user, sample_id, submission_id, digest)
            return _repeat(task, user, again) if again else None
        if "task" in failed:
            raise NotFound(f"Task '{task.task_id}' was deleted.", code="task_not_found")
        return _member_lost(sample_id)(failed)
    landed = _optimistic(write, lost)
    if isinstance(landed, Receipt):
        return landed
    version, complete = landed  # the caller's count as read with the lease that was submitted
    member = lease.member
    if member is None:
        return Receipt(version, 1, complete)
    # What the transaction did to the member row, so that a claim right after needs no read.
    member.submitted = int(member.submitted or 0) + 1
    member.open_submitted = int(member.open_submitted or 0) + (0 if complete else 1)
    member.lease_sample = member.lease_id = member.lease_exp = None
    return Receipt(version, int(member.submitted), complete, member=member)


def claim_after(task: Task, user: str, receipt: Receipt) -> Lease | None:
    """claim() right after a submit (its "next"), from the member row as that submit left it:
    one read fewer. Should the row have moved since (another tab), claim's own conditions fail
    and its next attempt reads it."""
    return claim(task, user, member=receipt.member or UNREAD)


def _repeat(task: Task, user: str, first: Submission) -> Receipt:
    member = _member(task.task_id, user)
    return Receipt(int(first.version), int(member.submitted) if member else 0, repeat=True)


def _move_open(tx: Transaction, task: Task, users, step: int) -> None:
    """A sample became complete (-1) or unfinished again (+1) for everyone who submitted it."""
    for other in sorted(users or ()):
        tx.update(Member(task.task_id, other), actions=[Member.open_submitted.add(step)],
                  name=f"open:{other}")


# --- what an annotator starts from ---------------------------------------------------------

def start_annotation(task: Task, sample: Sample, user: str) -> tuple[dict | None, int]:
    head = start_head(task, sample, user)
    if not head:
        return None, 0
    return storage.get_json(head["key"]), int(head["v"])


# --- admin ---------------------------------------------------------------------------------

def slot_holders(task: Task, sample: Sample) -> dict[str, Lease]:
    """user -> the lease or reservation each slot of `sample` belongs to, from the holders'
    member rows (one BatchGetItem); a slot whose row has moved on belongs to nothing."""
    users = sorted(slots(sample))
    found = {}
    for member in Member.batch_get([(task.task_id, u) for u in users], consistent_read=True):
        lease = _leased(sample, member.user, member) or \
            _leased(sample, member.user, member, ahead=True)
        if lease:
            found[member.user] = lease
    return found


def live(task: Task) -> list[dict]:
    """Every live lease and reservation ahead of the task (one member row per annotator: no
    sample scan)."""
    t = clock.now()
    found = []
    for m in Member.query(task.task_id, consistent_read=True):
        if m.lease_id and (m.lease_exp or 0) > t:
            found.append({"sample_id": m.lease_sample, "user": m.user, "lease_id": m.lease_id,
                          "expires_at": int(m.lease_exp)})
        if m.ahead_id and (m.ahead_exp or 0) > t:
            found.append({"sample_id": m.ahead_sample, "user": m.user, "lease_id": m.ahead_id,
                          "expires_at": int(m.ahead_exp), "ahead": True})
    return sorted(found, key=lambda l: l["expires_at"])


def end(task: Task, sample_id: str) -> list[str]:
    """End every lease on the sample (their holders get 409 lease_lost); the slots go back."""
    holders: dict = {}

    def write(tx: Transaction, attempt: int, t: int) -> list[str]:
        nonlocal holders
        sample = get_sample(task.task_id, sample_id)
        holders = slots(sample)
        if holders:
            owned = slot_holders(task, sample)  # before the write empties the slots
            actions, cond = _sample_write(task, sample, {}, t, requeued_at=t)
            tx.update(sample, actions=actions, condition=cond, name="sample")
            for user, lease in owned.items():
                # Only clear the member row if it still names this lease (or reservation).
                kept, clear = (Member.ahead_id, _clear_member_ahead()) if lease.ahead \
                    else (Member.lease_id, _clear_member_lease())
                tx.update(Member(task.task_id, user), actions=clear,
                          condition=kept == lease.lease_id, name=f"member:{user}")
        return sorted(holders)

    def lost(failed: set[str]) -> list[str] | None:
        if "sample" in failed:
            return None
        # A holder's row moved on (they claimed elsewhere): end only the slots.
        _drop_slots(task, sample_id)
        return sorted(holders)
    return _optimistic(write, lost)


def _drop_slots(task: Task, sample_id: str) -> None:
    def write(tx: Transaction, attempt: int, t: int) -> None:
        sample = get_sample(task.task_id, sample_id)
        actions, cond = _sample_write(task, sample, {}, t, requeued_at=t)
        tx.update(sample, actions=actions, condition=cond, name="sample")
    _optimistic(write)


def reopen(task: Task, sample_id: str) -> Sample:
    """Ask one more annotator to work on a complete sample (they start from its latest version);
    the task's `completed` counter moves back in the same transaction."""
    def write(tx: Transaction, attempt: int, t: int) -> Sample:
        sample = get_sample(task.task_id, sample_id)
        if sample.done < needed(task, sample):
            raise Conflict(f"Sample '{sample_id}' is not complete; nothing to reopen.",
                           code="sample_not_complete")
        extra_annotations = sample.done - task.annotations_per_sample + 1
        actions, cond = _sample_write(task, sample, slots(sample), t,
                                      extra_annotations=extra_annotations,
                                      requeued_at=t)
        tx.update(sample, actions=actions, condition=cond, name="sample")
        tx.update(task, actions=[Task.completed.add(-1)], condition=Task.task_id.exists(),
                  name="task")
        _move_open(tx, task, sample.submitters, +1)
        return sample

    def lost(failed: set[str]) -> None:
        if "task" in failed:
            raise NotFound(f"Task '{task.task_id}' was deleted.", code="task_not_found")
    return _optimistic(write, lost)
