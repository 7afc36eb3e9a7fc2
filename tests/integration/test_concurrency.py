"""16 annotators at once over real HTTP, mixing every operation and letting leases lapse.

At the end every sample has exactly N distinct submitters, nobody submitted one sample twice,
and the task's counters equal a recount from the sample records.
"""
import random
import threading
import time
from collections import Counter, defaultdict

from client import admin, annotator, finish_with_fresh_annotators, make_task, polygon

N, SAMPLES, THREADS, LEASE = 2, 30, 16, 5


def worker(stack, i, log, deadline):
    rnd = random.Random(i)
    generation = 0
    user = annotator(stack, f"w{i}-{generation}")
    while time.time() < deadline:
        claimed = user.claim("busy")
        if claimed is None:
            return
        roll = rnd.random()
        if roll < 0.1:  # skip
            assert user.on("busy", claimed, "release").status_code == 200
            continue
        if roll < 0.15:  # close the tab: the lease lapses; this identity never comes back
            generation += 1
            user = annotator(stack, f"w{i}-{generation}")
            continue
        if roll < 0.4:
            resp = user.on("busy", claimed, "heartbeat")
            assert resp.status_code in (200, 409), resp.text
        if roll < 0.6:
            resp = user.on("busy", claimed, "draft", method="PUT", annotation=polygon(x=i))
            assert resp.status_code in (200, 409), resp.text
        resp = user.submit("busy", claimed)
        assert resp.status_code in (200, 409), resp.text
        if resp.status_code == 200:
            log.append((user.session.headers["Authorization"], claimed["sample"]["id"]))


def test_many_annotators_mixed_operations(stack):
    make_task(stack, "busy", SAMPLES, annotations_per_sample=N, lease_seconds=LEASE)
    log, deadline = [], time.time() + 90
    threads = [threading.Thread(target=worker, args=(stack, i, log, deadline)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log += finish_with_fresh_annotators(stack, "busy", SAMPLES, LEASE)
    a = admin(stack)

    assert len(log) == len(set(log)), "someone submitted one sample twice"
    per_sample = Counter(sample for _, sample in log)
    assert per_sample == {f"s{i:05d}": N for i in range(SAMPLES)}
    by_version = defaultdict(list)
    for i in range(SAMPLES):
        detail = a.call("GET", f"/tasks/busy/samples/s{i:05d}").json()
        assert detail["status"] == "complete"
        by_version[i] = [v["by"] for v in detail["versions"] if v["kind"] == "submitted"]
        assert len(by_version[i]) == len(set(by_version[i])) == N
    progress = a.call("GET", "/tasks/busy/progress").json()
    assert (progress["total"], progress["completed"], progress["annotations"]) == \
        (SAMPLES, SAMPLES, SAMPLES * N)
    assert (progress["in_progress"], progress["available"]) == (0, 0)
    submitted = Counter(u for users in by_version.values() for u in users)
    assert {u: c["submitted"] for u, c in progress["by_annotator"].items()} == dict(submitted)
