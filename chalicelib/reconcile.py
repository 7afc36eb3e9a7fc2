"""Recount a task's counters from its sample records and report (or repair) any drift.

    python -m chalicelib.reconcile TASK_ID [--fix]

Counters only move inside the transactions that change what they count, so drift means a bug
or a hand edit. This reads every sample of the task: an admin tool, never on a request path.
Repairs are conditional on the counter still holding the value that was read, so a repair
racing live work fails (run it again) instead of writing a stale number.
"""
import argparse
import json
import sys
from collections import Counter

from pynamodb.exceptions import UpdateError

from .leases import needed
from .models import Member, Sample, Task


def recount(task: Task) -> dict:
    total = completed = annotations = 0
    by_user, open_by_user = Counter(), Counter()
    for sample in Sample.query(task.task_id, consistent_read=True):
        if sample.problem:  # refused by ingest: registered but not work (samples.register)
            continue
        total += 1
        complete = sample.done >= needed(task, sample)
        completed += complete
        annotations += int(sample.done)
        by_user.update(sample.submitters or ())
        if not complete:
            open_by_user.update(sample.submitters or ())
    return {"total": total, "completed": completed, "annotations": annotations,
            "by_annotator": dict(by_user), "open_by_annotator": dict(open_by_user)}


# Per-member counters: the name used in reports, and the attribute it is stored in.
MEMBER_COUNTERS = {"by_annotator": Member.submitted, "open_by_annotator": Member.open_submitted}


def drift(task_id: str) -> dict:
    """{"counter": (stored, recounted)} for every counter that disagrees."""
    task = Task.get(task_id, consistent_read=True)
    want = recount(task)
    out = {name: (int(getattr(task, name)), want[name])
           for name in ("total", "completed", "annotations")
           if int(getattr(task, name)) != want[name]}
    members = {m.user: m for m in Member.query(task_id, consistent_read=True)}
    for name, attr in MEMBER_COUNTERS.items():
        for user in set(members) | set(want[name]):
            stored = int(getattr(members[user], attr.attr_name)) if user in members else 0
            if stored != want[name].get(user, 0):
                out[f"{name}.{user}"] = (stored, want[name].get(user, 0))
    return out


def fix(task_id: str, found: dict) -> None:
    for name, (stored, right) in found.items():
        counter, _, user = name.partition(".")
        item: Member | Task
        if user:
            attr, item = MEMBER_COUNTERS[counter], Member(task_id, user)
        else:
            attr, item = getattr(Task, name), Task(task_id)
        condition = attr == stored if stored else (attr.does_not_exist() | (attr == 0))
        item.update(actions=[attr.set(right)], condition=condition)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task_id")
    parser.add_argument("--fix", action="store_true", help="repair the counters that drifted")
    args = parser.parse_args(argv)
    found = drift(args.task_id)
    print(json.dumps({"task": args.task_id, "drift": {k: {"stored": s, "recounted": r}
                                                      for k, (s, r) in found.items()}}, indent=2))
    if found and args.fix:
        try:
            fix(args.task_id, found)
        except UpdateError:
            print("A counter moved while repairing (live work): run again.", file=sys.stderr)
            return 2
        print(f"repaired {len(found)} counter(s)")
        return 0
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
