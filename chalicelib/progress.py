"""A task's progress, exact at any moment without a scan of its samples.

`full` (GET /tasks/{id}/progress, the task view) reads one row per annotator of the task
and counts the fully leased samples on the dispatch index: O(annotators + live leases), never
O(samples). Submits answer `after_submit` instead, which reads nothing.

total/completed/annotations are counters moved in the same transaction as the change they
count; in_progress counts live leases from the members rows (one per annotator, and an expired
lease drops out by its time alone); available subtracts the samples whose every open slot is
leased, read from the far end of the dispatch index (a range holding only those samples).
"""
from . import clock
from .models import Member, Sample, Task


def counters(task: Task) -> dict:
    """What the task row holds: no query at all."""
    return {"total": int(task.total), "completed": int(task.completed),
            "annotations": int(task.annotations)}


def after_submit(task: Task, receipt, user: str) -> dict:
    """What a submit answers: the counters it moved itself, from the task row read at the start
    of the request (no read after the write; another annotator's concurrent submit may not be
    in it yet), and the caller's own count. Constant cost whatever the number of annotators."""
    out = counters(task)
    if not receipt.repeat:
        out["completed"] += int(receipt.completed)
        out["annotations"] += 1
    return {**out, "by_annotator": {user: {"submitted": receipt.submitted}}}


def full(task: Task, only: str | None = None) -> dict:
    """`only`: show just this user's own count (what an annotator may see of the others)."""
    t = clock.now()
    members = list(Member.query(task.task_id, consistent_read=True))
    fully_leased = Sample.dispatch.count(task.task_id, Sample.dispatch_key > f"{t:010d}~")
    total, completed = int(task.total), int(task.completed)
    return {
        "total": total,
        "completed": completed,
        "in_progress": sum(1 for m in members if m.lease_id and (m.lease_exp or 0) > t),
        "available": max(0, total - completed - fully_leased),
        "annotations": int(task.annotations),
        "by_annotator": {m.user: {"submitted": int(m.submitted)} for m in members
                         if m.submitted and only in (None, m.user)},
    }
