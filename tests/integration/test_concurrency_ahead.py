"""8 annotators at once over real HTTP working as the page does with reservations ahead: claim,
reserve the next sample, submit with "next" and "ahead", skip now and then, close tabs so that
leases and reservations lapse. At the end every sample has exactly one submission (one
annotator per sample: two holders at once would show as two), and the counters agree."""
import random
import threading
import time
import uuid
from collections import Counter

from client import admin, annotator, finish_with_fresh_annotators, make_task, polygon

SAMPLES, THREADS, LEASE = 60, 8, 5


def worker(stack, i, log, holds, deadline):
    rnd = random.Random(i)
    user = annotator(stack, f"a{i}")
    claimed = user.claim("ahead")
    while claimed and time.time() < deadline:
        resp = user.call("POST", "/tasks/ahead/claim", json={"ahead": True})
        assert resp.status_code in (200, 204), resp.text
        if resp.status_code == 200:
            holds.append((resp.json()["sample"]["id"], f"a{i}", "ahead"))
        holds.append((claimed["sample"]["id"], f"a{i}", "lease"))
        roll = rnd.random()
        if roll < 0.1:  # skip: the next claim hands over the reservation
            assert user.on("ahead", claimed, "release").status_code in (200, 409)
            claimed = user.claim("ahead")
            continue
        if roll < 0.15:  # close the tab: lease and reservation lapse; a new identity goes on
            user = annotator(stack, f"a{i}-{uuid.uuid4().hex[:6]}")
            claimed = user.claim("ahead")
            continue
        resp = user.on("ahead", claimed, "submit", annotation=polygon(x=i),
                       submission_id=uuid.uuid4().hex, next=True, ahead=True)
        assert resp.status_code in (200, 409), resp.text
        if resp.status_code == 200:
            log.append(claimed["sample"]["id"])
            claimed = resp.json()["next"]
        else:
            claimed = user.claim("ahead")


def test_annotators_with_reservations_never_share_a_sample(stack):
    make_task(stack, "ahead", SAMPLES, lease_seconds=LEASE)
    log, holds, deadline = [], [], time.time() + 90
    threads = [threading.Thread(target=worker, args=(stack, i, log, holds, deadline))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log += [sample for _, sample in finish_with_fresh_annotators(stack, "ahead", SAMPLES, LEASE)]
    a = admin(stack)
    assert Counter(log) == {f"s{i:05d}": 1 for i in range(SAMPLES)}, "a sample submitted twice"
    for i in range(SAMPLES):
        detail = a.call("GET", f"/tasks/ahead/samples/s{i:05d}").json()
        assert [v["kind"] for v in detail["versions"]].count("submitted") == 1
    progress = a.call("GET", "/tasks/ahead/progress").json()
    assert (progress["completed"], progress["annotations"]) == (SAMPLES, SAMPLES)
    assert (progress["in_progress"], progress["available"]) == (0, 0)
    assert any(kind == "ahead" for _, _, kind in holds), "no reservation was ever granted"
