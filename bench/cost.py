"""Cost per 1,000 annotations with the annotator page's loop (submit with `"next": true`): one
annotator, 32 at once, and 1,000 annotators holding live leases, at 100 and 100,000 samples.

    make bench                      # or: .venv/bin/python bench/cost.py [--quick]

Starts its own local stack like dispatch.py (patched moto behind devstack's counting WSGI
layer, `chalice local`, free ports, no data dir). Each annotator claims once, then submits with
`"next": true` (the answer carries the next lease) until the run's count is reached; the wire
counters are read around each whole phase, so every DynamoDB/S3 request the API made for those
annotations is in it (the first claims included). The 1,000 annotators are 1,000 users who each
hold a live lease throughout, served by a small pool of threads: a thread takes a user, submits
their lease with next (so they hold a new one), and puts them back. After that phase,
`--probe` single calls are measured one at a time with all 1,000 leases still live (exact
requests/items of one submit+next), and one GET /progress (the view that grows with annotators).

A 100-sample task cannot hold 1,000 live leases at one annotation per sample, so that case
uses `annotations_per_sample` = 3 x annotators / samples (30): 3,000 slots, 1,000 held, 1,000
submitted in the run, the rest for the probe's next claims.

USD from dispatch.py's prices and capacity rules (bench/README.md). Lambda duration: the
single annotator's mean latency at that size for every scenario (the service time of one
request; the concurrent runs' latency is queueing on two local cores, not what a Lambda would
bill); `total_usd_queued_latency` charges the measured latency instead (an upper bound).
Writes bench/results/cost.json and prints a table. Exit status 1 if an annotation was lost or
a sample got more annotations than it asks for.
"""
import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dispatch import (POLYGON, User, Wire, add, cost_per_1000, ddb_items, ddb_requests,  # noqa: E402
                      empty, item_sizes, lambda_memory_mb, latency, make_task, s3_requests)
from devstack.processes import free_ports  # noqa: E402
from devstack.stack import LocalStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "cost.json"
TIMEOUT = 300  # seconds one request may take on a loaded machine before the bench fails


def load():
    return [round(x, 2) for x in os.getloadavg()]


class Annotator:
    """One user over real HTTP (a fresh connection per request): claim, then submit with next."""

    def __init__(self, stack, sub):
        self.sub, self.base = sub, stack.api_url
        self.headers = stack.auth(stack.annotator_token(sub))
        self.lease = None  # the claim answer in hand: {"sample": ..., "lease": ...}

    def post(self, path, **kw):
        for _ in range(50):
            resp = requests.post(self.base + path, headers=self.headers, timeout=TIMEOUT, **kw)
            if resp.status_code != 503:  # contention: retry like the page does
                return resp
            time.sleep(0.05)
        return resp

    def claim(self, task):
        resp = self.post(f"/tasks/{task}/claim")
        assert resp.status_code in (200, 204), resp.text
        self.lease = resp.json() if resp.status_code == 200 else None
        return self.lease

    def submit_next(self, task):
        """Submit the lease in hand and take the next; (sample id, version) of the submit."""
        sid = self.lease["sample"]["id"]
        resp = self.post(f"/tasks/{task}/samples/{sid}/submit",
                         json={"lease_id": self.lease["lease"]["id"], "annotation": POLYGON,
                               "submission_id": uuid.uuid4().hex, "next": True})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        self.lease = body["next"]
        return sid, body["version"]


def summary(w, annotations, invocations, extra=None):
    return {"annotations": annotations, "http_requests": invocations,
            "dynamodb_requests_per_annotation": round(ddb_requests(w) / annotations, 2),
            "items_read_per_annotation": round(ddb_items(w) / annotations, 2),
            "s3_requests_per_annotation": round(s3_requests(w) / annotations, 2),
            "dynamodb_by_operation": w["dynamodb"], "s3_by_operation": w["s3"], **(extra or {})}


def single(stack, wire, task, count):
    """One annotator, `count` annotations; per-call wire counts too (exact maxima)."""
    ann = Annotator(stack, f"solo-{task}")
    s0, t0 = wire.snap(), time.perf_counter()
    ann.claim(task)
    first = time.perf_counter() - t0
    lat, per_call, total, done = [], [], empty(), 0
    while ann.lease and done < count:
        before, t1 = wire.snap(), time.perf_counter()
        ann.submit_next(task)
        lat.append(time.perf_counter() - t1)
        w = Wire.diff(before, wire.snap())
        add(total, w)
        per_call.append((ddb_requests(w), ddb_items(w)))
        done += 1
    w = Wire.diff(s0, wire.snap())
    reqs, items = zip(*per_call)
    return summary(w, done, done + 1, {
        "first_claim_ms": round(1000 * first, 1), "submit_next": latency(lat),
        "submit_next_dynamodb_requests_max": max(reqs), "submit_next_items_read_max": max(items),
        "cycles_per_s": round(done / (sum(lat) + first), 2), "_handler_seconds": [first] + lat,
        "_wire": w})


def pooled(stack, wire, task, annotators, threads, count, leases_before=False):
    """`annotators` users, `threads` at once, `count` annotations in all. With
    `leases_before`, every user claims before the measured window and holds a lease
    throughout (submit+next hands them the next at once)."""
    users = [Annotator(stack, f"{task}-u{i:04d}") for i in range(annotators)]
    todo = queue.Queue()
    for u in users:
        todo.put(u)
    lock, lat, submits, statuses = threading.Lock(), [], [], {"claims": 0, "nothing_left": 0}

    def hold_all():
        while True:
            try:
                u = todo.get_nowait()
            except queue.Empty:
                return
            assert u.claim(task), f"{u.sub}: nothing to claim while taking leases"

    if leases_before:
        run_threads(hold_all, threads)
        for u in users:
            todo.put(u)
    setup_load = load()
    budget = [count]

    def work():
        while True:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            try:
                u = todo.get_nowait()
            except queue.Empty:  # every user left is in another thread's hands, or done
                with lock:
                    budget[0] += 1
                return
            t0 = time.perf_counter()
            if u.lease is None:
                with lock:
                    statuses["claims"] += 1
                if not u.claim(task):
                    with lock:
                        statuses["nothing_left"] += 1
                        budget[0] += 1
                    continue  # this user is done: not put back
                t0 = time.perf_counter()
            got = u.submit_next(task)
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt)
                submits.append((u.sub, *got))
            todo.put(u)

    s0, t0 = wire.snap(), time.perf_counter()
    run_threads(work, threads)
    seconds = time.perf_counter() - t0
    w = Wire.diff(s0, wire.snap())
    sids = [sid for _, sid, _ in submits]
    return users, summary(w, len(submits), len(submits) + statuses["claims"], {
        "annotators": annotators, "threads": threads, "seconds": round(seconds, 2),
        "annotations_per_s": round(len(submits) / seconds, 2), "submit_next": latency(lat),
        "live_leases_at_end": sum(1 for u in users if u.lease), "load_during_setup": setup_load,
        "claims_in_window": statuses["claims"], "_submits": submits, "_sids": sids,
        "_queued_seconds": sum(lat), "_wire": w})


def run_threads(target, n):
    ts = [threading.Thread(target=target) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def probe(stack, wire, task, users, calls):
    """Single submit+next calls, one at a time, with every other user's lease live."""
    per = []
    for u in [u for u in users if u.lease][:calls]:
        before = wire.snap()
        u.submit_next(task)
        w = Wire.diff(before, wire.snap())
        per.append((ddb_requests(w), ddb_items(w)))
    reqs, items = zip(*per)
    admin = User(stack, "bench-admin", admin=True)
    before, t0 = wire.snap(), time.perf_counter()
    resp = admin.call("GET", f"/tasks/{task}/progress")
    dt = time.perf_counter() - t0
    assert resp.status_code == 200, resp.text
    w = Wire.diff(before, wire.snap())
    return {"calls": len(per), "live_leases": sum(1 for u in users if u.lease),
            "dynamodb_requests": {"min": min(reqs), "max": max(reqs)},
            "items_read": {"min": min(items), "max": max(items), "mean": round(statistics.fmean(items), 2)},
            "get_progress": {"dynamodb_requests": ddb_requests(w), "items_read": ddb_items(w),
                             "ms": round(1000 * dt, 1), "in_progress": resp.json().get("in_progress")}}


def over_assigned(submits, per_sample):
    """Samples with more annotations than asked, and users who annotated one sample twice."""
    by_sample, twice = {}, 0
    for user, sid, _ in submits:
        seen = by_sample.setdefault(sid, set())
        twice += user in seen
        seen.add(user)
    return sum(1 for s in by_sample.values() if len(s) > per_sample) + twice


def front_samples(stack, task, limit=2000):
    env = stack.env
    ddb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=env["AWS_DEFAULT_REGION"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    items = ddb.query(TableName=env["TABLE_PREFIX"] + "samples", Limit=limit, ConsistentRead=True,
                      KeyConditionExpression="task_id = :t",
                      ExpressionAttributeValues={":t": {"S": task}})["Items"]
    return ddb, env["TABLE_PREFIX"], items


def bill(stack, task, run, service_seconds, memory, queued=None):
    """USD per 1,000 annotations: capacity sized from this task's items (the front of the task:
    the samples these runs touched, leases and all)."""
    ddb, prefix, samples = front_samples(stack, task)
    sizes = item_sizes(ddb, prefix, task, samples)
    # Leases granted (first claims and nexts): every successful transaction is a claim or a submit.
    tx = run["_wire"]["dynamodb"].get("TransactWriteItems", {"requests": 0, "errors": 0})
    claims = tx["requests"] - tx.get("errors", 0) - run["annotations"]
    handler = [service_seconds] * run["http_requests"]
    out = cost_per_1000(run["_wire"], sizes, claims, run["annotations"], handler, memory, 1,
                        invocations=run["http_requests"])
    if queued is not None:
        out["total_usd_queued_latency"] = cost_per_1000(
            run["_wire"], sizes, claims, run["annotations"], [queued] * run["http_requests"], memory, 1,
            invocations=run["http_requests"])["total_usd"]
    out["item_sizes"] = sizes
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,100000")
    parser.add_argument("--single", type=int, default=100, help="annotations by the single annotator")
    parser.add_argument("--team", type=int, default=32, help="annotators at once")
    parser.add_argument("--team-annotations", type=int, default=320)
    parser.add_argument("--crowd", type=int, default=1000, help="annotators holding live leases")
    parser.add_argument("--crowd-threads", type=int, default=16)
    parser.add_argument("--probe", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="100 and 2,000 samples, 200 annotators")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.single, args.team, args.team_annotations, args.crowd = "100,2000", 40, 8, 80, 200
    sizes = [int(s) for s in args.sizes.split(",")]
    memory = lambda_memory_mb()
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "moto": "devstack/moto_patches.py", "loop": "claim once, then submit with next: true",
               "lambda_memory_mb": memory, "load_at_start": load(), "sizes": {}}
    log_dir = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    stack = LocalStack(log_dir=log_dir)
    moto_port, api_port = free_ports(2)
    print(f"stack: moto :{moto_port}, api :{api_port}, logs {log_dir}", flush=True)
    started = time.time()
    failed = []
    stack.start(moto_port=moto_port, api_port=api_port)
    try:
        wire, admin = Wire(stack.moto_url), User(stack, "bench-admin", admin=True)
        for n in sizes:
            row = results["sizes"][str(n)] = {}
            # One task per scenario: each starts from untouched samples.
            reg = make_task(admin, wire, f"one-{n}", n, lease_seconds=3600)
            row["registration"] = {k: reg[k] for k in ("samples", "seconds", "samples_per_s")}
            row["registration"]["load"] = load()
            print(f"[{time.time() - started:5.0f}s] {n}: registered in {reg['seconds']} s "
                  f"({reg['samples_per_s']}/s), load {load()}", flush=True)
            one = single(stack, wire, f"one-{n}", min(args.single, n))
            one["load"] = load()
            service = statistics.fmean(one["_handler_seconds"])
            one["usd"] = bill(stack, f"one-{n}", one, service, memory)
            row["one_annotator"] = one
            print(f"[{time.time() - started:5.0f}s] {n}: one: {one['usd']['total_usd']} USD/1000, "
                  f"{one['items_read_per_annotation']} items/annotation", flush=True)

            make_task(admin, wire, f"team-{n}", n, lease_seconds=3600)
            _, team = pooled(stack, wire, f"team-{n}", args.team, args.team, min(args.team_annotations, n))
            team["load"] = load()
            team["extra_annotations"] = over_assigned(team["_submits"], 1)
            team["usd"] = bill(stack, f"team-{n}", team, service, memory,
                               queued=team["_queued_seconds"] / team["http_requests"])
            row[f"{args.team}_at_once"] = team
            print(f"[{time.time() - started:5.0f}s] {n}: {args.team} at once: {team['usd']['total_usd']} "
                  f"USD/1000, {team['items_read_per_annotation']} items/annotation", flush=True)

            # Slots for the leases held, the annotations made in the run and the probe's.
            per_sample = max(1, -(-3 * args.crowd // n))
            make_task(admin, wire, f"crowd-{n}", n, lease_seconds=3600, annotations_per_sample=per_sample)
            users, crowd = pooled(stack, wire, f"crowd-{n}", args.crowd, args.crowd_threads, args.crowd,
                                  leases_before=True)
            crowd["load"] = load()
            crowd["annotations_per_sample"] = per_sample
            crowd["extra_annotations"] = over_assigned(crowd["_submits"], per_sample)
            crowd["probe"] = probe(stack, wire, f"crowd-{n}", users, args.probe)
            crowd["usd"] = bill(stack, f"crowd-{n}", crowd, service, memory,
                                queued=crowd["_queued_seconds"] / crowd["http_requests"])
            row[f"{args.crowd}_with_live_leases"] = crowd
            print(f"[{time.time() - started:5.0f}s] {n}: {args.crowd} with leases: "
                  f"{crowd['usd']['total_usd']} USD/1000, {crowd['items_read_per_annotation']} "
                  f"items/annotation, probe {crowd['probe']}", flush=True)
            for name in ("one_annotator", f"{args.team}_at_once", f"{args.crowd}_with_live_leases"):
                if row[name].get("extra_annotations"):
                    failed.append(f"{n} {name}: extra annotations")
    finally:
        stack.stop()
    results["load_at_end"] = load()
    results["seconds"] = round(time.time() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(strip(results), indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {out} ({results['seconds']} s)")
    for f in failed:
        print("FAILED:", f)
    return 1 if failed else 0


def strip(doc):
    if isinstance(doc, dict):
        return {k: strip(v) for k, v in doc.items() if not k.startswith("_")}
    if isinstance(doc, list):
        return [strip(v) for v in doc]
    return doc


def print_table(r):
    print(f"\nper 1,000 annotations (claim once, then submit with next; {r['lambda_memory_mb']} MB Lambda)")
    print(f"{'samples':>8} {'scenario':<24}{'ddb req':>8}{'items':>8}{'RRU':>8}{'WRU':>8}{'USD':>8}"
          f"{'USD(q)':>8}  load")
    for n, row in r["sizes"].items():
        for name, run in row.items():
            if name == "registration":
                continue
            u = run["usd"]
            print(f"{int(n):>8,} {name:<24}{1000 * run['dynamodb_requests_per_annotation']:>8.0f}"
                  f"{1000 * run['items_read_per_annotation']:>8.0f}"
                  f"{1000 * u['basis']['rru_per_annotation']:>8.0f}{1000 * u['basis']['wru_per_annotation']:>8.0f}"
                  f"{u['total_usd']:>8.4f}{u.get('total_usd_queued_latency', u['total_usd']):>8.4f}"
                  f"  {run['load']}")
    for n, row in r["sizes"].items():
        g = row["registration"]
        print(f"registration {int(n):,}: {g['seconds']} s ({g['samples_per_s']}/s), load {g['load']}")
        for name, run in row.items():
            if "probe" in run:
                p = run["probe"]
                print(f"{int(n):,} {name}: one submit+next with {p['live_leases']} live leases: "
                      f"{p['dynamodb_requests']} requests, items {p['items_read']}; "
                      f"GET /progress {p['get_progress']}")


if __name__ == "__main__":
    sys.exit(main())
