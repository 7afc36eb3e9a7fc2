"""Dispatch benchmark: what a claim and a submit cost, at 100 to 100,000 samples and under 32
concurrent annotators, counted at the wire in front of moto; and what that would cost on AWS.

    make bench                      # or: .venv/bin/python bench/dispatch.py [--quick]

Starts its own local stack (devstack's LocalStack: moto behind devstack's counting WSGI layer,
`chalice local` with the `local` stage) on free ports, without a data dir (no snapshot
traffic). Every DynamoDB/S3 request the API makes goes through devstack/wire.py; the bench
reads GET /_devstack/stats before and after each measured HTTP call (single-annotator phases)
or each phase (concurrent phase) and reports the difference. The bench's own checks of the
final state go to moto directly and are never inside a measured window.

Writes bench/results/dispatch.json and prints a short table. See bench/README.md.
"""
import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import boto3
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotator_cli.client import Http  # noqa: E402
from devstack.processes import free_ports  # noqa: E402
from devstack.stack import LocalStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "dispatch.json"

# --- published list prices, us-east-1 (USD) -------------------------------------------------
# AWS Lambda pricing, https://aws.amazon.com/lambda/pricing/ (x86, first pricing tier):
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667
# Amazon API Gateway pricing, https://aws.amazon.com/api-gateway/pricing/ (REST APIs, which is
# what `chalice deploy` creates; first 333 million requests/month):
APIGW_PER_REQUEST = 3.50 / 1_000_000
# Amazon DynamoDB pricing for on-demand capacity,
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class; the on-demand
# prices after the November 2024 reduction):
DDB_PER_WRU = 0.625 / 1_000_000
DDB_PER_RRU = 0.125 / 1_000_000
# Amazon S3 pricing, https://aws.amazon.com/s3/pricing/ (S3 Standard requests):
S3_PER_PUT = 0.005 / 1_000     # PUT, COPY, POST, LIST
S3_PER_GET = 0.0004 / 1_000    # GET, SELECT and all other requests

# Items per TransactWriteItems, from chalicelib/leases.py (the wire counts requests, not the
# items inside one): claim = sample + member row; submit = sample + member + version + task
# counters + idempotency record.
CLAIM_TX_ITEMS = 2
SUBMIT_TX_ITEMS = 5
BATCH = 1000  # samples per registration request (the API's limit)


# --- the stack ------------------------------------------------------------------------------

class Wire:
    """The devstack counters, read as differences between two moments."""

    def __init__(self, moto_url):
        self.url = moto_url
        self.http = requests.Session()

    def snap(self):
        return self.http.get(self.url + "/_devstack/stats", timeout=30).json()

    def reset(self):
        self.http.post(self.url + "/_devstack/stats/reset", timeout=30)

    @staticmethod
    def diff(before, after):
        out = {"dynamodb": {}, "s3": {}}
        for kind in ("dynamodb", "s3"):
            for op, now in after[kind].items():
                was = before[kind].get(op, {})
                d = {k: v - was.get(k, 0) for k, v in now.items()}
                if d["requests"]:
                    out[kind][op] = d
        return out


def add(total, part):
    for kind in ("dynamodb", "s3"):
        for op, d in part[kind].items():
            entry = total[kind].setdefault(op, {k: 0 for k in d})
            for k, v in d.items():
                entry[k] += v
    return total


def empty():
    return {"dynamodb": {}, "s3": {}}


def ddb_requests(w):
    return sum(d["requests"] for d in w["dynamodb"].values())


def ddb_items(w):
    return sum(d["items_read"] for d in w["dynamodb"].values())


def s3_requests(w):
    return sum(d["requests"] for d in w["s3"].values())


class User(Http):
    """One annotator (or the admin) over real HTTP; repeats on 503 like a good client (shortly:
    a claim lost to contention is worth trying again at once; `retried` counts the repeats)."""

    def __init__(self, stack, sub, admin=False):
        token = stack.admin_token(sub) if admin else stack.annotator_token(sub)
        super().__init__(stack.api_url, token, timeout=120, attempts=50, statuses=(503,),
                         max_wait=0.1)
        self.sub = sub

    def claim(self, task):
        resp = self.call("POST", f"/tasks/{task}/claim")
        assert resp.status_code in (200, 204), resp.text
        return resp.json() if resp.status_code == 200 else None

    def submit(self, task, claimed):
        sid = claimed["sample"]["id"]
        resp = self.call("POST", f"/tasks/{task}/samples/{sid}/submit",
                         json={"lease_id": claimed["lease"]["id"], "annotation": POLYGON,
                               "submission_id": uuid.uuid4().hex})
        return resp


POLYGON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Polygon",
                                     "coordinates": [[[10, 10], [60, 10], [60, 50], [10, 50], [10, 10]]]},
     "properties": {"label": "cell"}}]}


def pct(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latency(values):
    return {"median_ms": round(1000 * statistics.median(values), 1),
            "p95_ms": round(1000 * pct(values, 0.95), 1),
            "mean_ms": round(1000 * statistics.fmean(values), 1)} if values else None


def make_task(admin, wire, task_id, n, **fields):
    resp = admin.call("POST", "/tasks", json={"id": task_id, "name": task_id, **fields})
    assert resp.status_code == 201, resp.text
    before, t0, batch_times = wire.snap(), time.perf_counter(), []
    for start in range(0, n, BATCH):
        batch = [{"id": f"s{i:06d}", "files": {"image.png": f"uploads/{task_id}/s{i:06d}/image.png"}}
                 for i in range(start, min(n, start + BATCH))]
        t1 = time.perf_counter()
        resp = admin.call("POST", f"/tasks/{task_id}/samples", json={"samples": batch})
        assert resp.status_code == 201, resp.text
        batch_times.append(time.perf_counter() - t1)
    seconds = time.perf_counter() - t0
    w = Wire.diff(before, wire.snap())
    return {"samples": n, "batches": len(batch_times), "seconds": round(seconds, 2),
            "samples_per_s": round(n / seconds, 1), "batch": latency(batch_times),
            "dynamodb_requests": ddb_requests(w), "wire": w}


# --- single-annotator cycles ----------------------------------------------------------------

def cycles(stack, wire, task_id, count, users):
    """`count` claim+submit cycles, annotators taking turns; exact wire cost of every call."""
    annotators = [User(stack, u) for u in users]
    per = {"claim": [], "submit": []}
    lat = {"claim": [], "submit": []}
    totals = {"claim": empty(), "submit": empty()}
    for i in range(count):
        user = annotators[i % len(annotators)]
        s0 = wire.snap()
        t0 = time.perf_counter()
        claimed = user.claim(task_id)
        t1 = time.perf_counter()
        s1 = wire.snap()
        assert claimed is not None, f"{task_id}: nothing to claim after {i} cycles"
        t2 = time.perf_counter()
        resp = user.submit(task_id, claimed)
        t3 = time.perf_counter()
        assert resp.status_code == 200, resp.text
        s2 = wire.snap()
        for name, w, dt in (("claim", Wire.diff(s0, s1), t1 - t0), ("submit", Wire.diff(s1, s2), t3 - t2)):
            lat[name].append(dt)
            add(totals[name], w)
            per[name].append((ddb_requests(w), ddb_items(w), s3_requests(w)))
    out = {"cycles": count, "annotators": len(annotators)}
    for name in ("claim", "submit"):
        reqs, items, s3 = zip(*per[name])
        out[name] = {
            "dynamodb_requests": round(statistics.fmean(reqs), 2),
            "dynamodb_requests_max": max(reqs),
            "items_read": round(statistics.fmean(items), 2),
            "items_read_max": max(items),
            "s3_requests": round(statistics.fmean(s3), 2),
            "latency": latency(lat[name]),
            "wire": totals[name],
        }
    return out


# --- states where most of the task is done or leased ----------------------------------------

def occupy(stack, wire, task_id, leased, submitted, threads=8):
    """`leased` samples claimed and held by as many different annotators, `submitted` samples
    claimed and submitted (by one annotator per thread): the front of the task, through the
    API (not measured)."""
    jobs = [("hold", i) for i in range(leased)] + [("done", i) for i in range(submitted)]
    lock, errors = threading.Lock(), []

    def work(k, mine):
        finisher = User(stack, f"done-{task_id}-{k}")
        for kind, i in mine:
            user = finisher if kind == "done" else User(stack, f"hold-{task_id}-{i}")
            claimed = user.claim(task_id)
            if claimed is None:
                with lock:
                    errors.append("nothing to claim while occupying")
                return
            if kind == "done":
                resp = user.submit(task_id, claimed)
                if resp.status_code != 200:
                    with lock:
                        errors.append(resp.text)
    random.Random(1).shuffle(jobs)
    ts = [threading.Thread(target=work, args=(k, jobs[k::threads])) for k in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    return round(time.perf_counter() - t0, 1)


def exhausted(stack, wire, admin, sizes):
    """annotations_per_sample = 2, one annotator alone submits every sample once; then what one
    claim costs that annotator (nothing left for them: 204) and a second annotator (200)."""
    out = {}
    for m in sizes:
        task_id = f"overlap-{m}"
        make_task(admin, wire, task_id, m, lease_seconds=3600, annotations_per_sample=2)
        solo, other = User(stack, f"solo-{m}"), User(stack, f"other-{m}")
        for _ in range(m):
            assert solo.submit(task_id, solo.claim(task_id)).status_code == 200
        row = {}
        for name, user in (("same_annotator", solo), ("new_annotator", other)):
            s0, t0 = wire.snap(), time.perf_counter()
            resp = user.call("POST", f"/tasks/{task_id}/claim")
            dt, w = time.perf_counter() - t0, Wire.diff(s0, wire.snap())
            row[name] = {"status": resp.status_code, "dynamodb_requests": ddb_requests(w),
                         "queries": w["dynamodb"].get("Query", {}).get("requests", 0),
                         "items_read": ddb_items(w), "latency_ms": round(1000 * dt, 1)}
        out[str(m)] = row
    return out


# --- 32 concurrent annotators ---------------------------------------------------------------

def concurrent(stack, wire, task_id, n_samples, n_threads, per_sample, time_cap):
    grants, submits, statuses = [], [], Counter()
    lock = threading.Lock()
    claim_lat, submit_lat = [], []
    users = [User(stack, f"c{i:02d}") for i in range(n_threads)]
    start = threading.Barrier(n_threads + 1)
    deadline = [None]

    def work(user):
        start.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            claimed = user.claim(task_id)
            t1 = time.perf_counter()
            if claimed is None:
                return
            resp = user.submit(task_id, claimed)
            t2 = time.perf_counter()
            with lock:
                claim_lat.append(t1 - t0)
                submit_lat.append(t2 - t1)
                grants.append((user.sub, claimed["sample"]["id"], claimed["lease"]["id"]))
                statuses[resp.status_code] += 1
                if resp.status_code == 200:
                    submits.append((user.sub, claimed["sample"]["id"], resp.json()["version"]))

    ts = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in ts:
        t.start()
    before = wire.snap()
    deadline[0] = time.perf_counter() + time_cap
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    seconds = time.perf_counter() - t0
    w = Wire.diff(before, wire.snap())
    tx = w["dynamodb"].get("TransactWriteItems", {"requests": 0, "errors": 0})
    claims = len(grants)
    return {
        "annotators": n_threads, "samples": n_samples, "annotations_per_sample": per_sample,
        "seconds": round(seconds, 2), "claims": claims, "claims_per_s": round(claims / seconds, 1),
        "submits_ok": len(submits), "submit_statuses": dict(statuses),
        "client_503_retries": sum(u.retried for u in users),
        "transact_write_requests": tx["requests"], "transact_write_failed": tx["errors"],
        # Every successful claim and submit is exactly one successful TransactWriteItems; the
        # failed ones are the optimistic writes that lost a race and were retried (upper bound
        # for claims: a submit's write could also lose, which needs a stale claim on its sample).
        "retries_per_claim": round(tx["errors"] / claims, 3) if claims else None,
        "claim": {"latency": latency(claim_lat),
                  "dynamodb_requests": None, "items_read": None},
        "submit": {"latency": latency(submit_lat)},
        "dynamodb_requests_per_annotation": round(ddb_requests(w) / max(1, len(submits)), 2),
        "items_read_per_annotation": round(ddb_items(w) / max(1, len(submits)), 2),
        "s3_requests_per_annotation": round(s3_requests(w) / max(1, len(submits)), 2),
        "wire": w,
        "_grants": grants, "_submits": submits,
    }


def verify(stack, task_id, per_sample, grants, submits):
    """From the final state in moto (outside any measured window): nobody over-assigned,
    nothing lost, counters equal a recount."""
    env = stack.env
    ddb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=env["AWS_DEFAULT_REGION"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    prefix = env["TABLE_PREFIX"]

    def query(table, key_name, key_value):
        items, start = [], None
        while True:
            kw = {"TableName": prefix + table, "KeyConditionExpression": "#k = :v",
                  "ExpressionAttributeNames": {"#k": key_name},
                  "ExpressionAttributeValues": {":v": {"S": key_value}}, "ConsistentRead": True}
            if start:
                kw["ExclusiveStartKey"] = start
            page = ddb.query(**kw)
            items += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    samples = query("samples", "task_id", task_id)
    versions = {}
    for s in samples:
        sid = s["sample_id"]["S"]
        versions[sid] = [v for v in query("versions", "sample_key", f"{task_id}/{sid}")
                         if v["kind"]["S"] == "submitted"]
    over = [s["sample_id"]["S"] for s in samples
            if int(s["done"]["N"]) > per_sample or len(s.get("submitters", {}).get("SS", [])) > per_sample
            or len(versions[s["sample_id"]["S"]]) > per_sample]
    # A grant is a lease handed out; two leases on one sample beyond its N slots, or one user
    # getting one sample twice, is a double assignment (workers submit before claiming again,
    # and leases are 3600 s: nothing lapses during the run).
    users_per_sample = defaultdict(set)
    twice = 0
    for user, sid, _ in grants:
        twice += user in users_per_sample[sid]
        users_per_sample[sid].add(user)
    over_granted = sum(1 for users in users_per_sample.values() if len(users) > per_sample)
    dup_versions = sum(1 for vs in versions.values() if len({v["by"]["S"] for v in vs}) != len(vs))
    stored = {(v["by"]["S"], sid, int(v["version"]["N"])) for sid, vs in versions.items() for v in vs}
    lost = sum(1 for s in submits if s not in stored)
    task = ddb.get_item(TableName=prefix + "tasks", Key={"task_id": {"S": task_id}},
                        ConsistentRead=True)["Item"]
    recount_annotations = sum(len(vs) for vs in versions.values())
    recount_completed = sum(1 for s in samples if int(s["done"]["N"]) >= per_sample)
    return {
        "double_assignments": over_granted + twice + len(over) + dup_versions,
        "samples_over_n": len(over), "grants_over_n": over_granted, "same_user_twice": twice,
        "lost_submissions": lost,
        "counters_match_recount": int(task["annotations"]["N"]) == recount_annotations and
        int(task["completed"]["N"]) == recount_completed,
        "annotations": recount_annotations, "completed": recount_completed,
        "item_sizes": item_sizes(ddb, prefix, task_id, samples),
    }


# --- DynamoDB item sizes and the bill ---------------------------------------------------------

def attr_size(value):
    """DynamoDB's item-size rules (Developer Guide, 'Item sizes and formats'), approximately."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = len(v.replace("-", "").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(attr_size({"N": x}) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attr_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(attr_size(x) + 1 for x in v)
    return len(json.dumps(v))


def item_size(item):
    return sum(len(k.encode()) + attr_size(v) for k, v in item.items())


def item_sizes(ddb, prefix, task_id, samples):
    def one(table, key):
        got = ddb.get_item(TableName=prefix + table, Key=key, ConsistentRead=True).get("Item")
        return item_size(got) if got else 0
    s = samples[0]
    sid = s["sample_id"]["S"]
    member = ddb.query(TableName=prefix + "members", Limit=1, KeyConditionExpression="task_id = :t",
                       ExpressionAttributeValues={":t": {"S": task_id}})["Items"]
    version = ddb.query(TableName=prefix + "versions", Limit=1, KeyConditionExpression="sample_key = :k",
                        ExpressionAttributeValues={":k": {"S": f"{task_id}/{sid}"}})["Items"]
    submission = ddb.scan(TableName=prefix + "submissions", Limit=1)["Items"]
    return {
        "sample_bytes_max": max(item_size(x) for x in samples),
        "sample_bytes_mean": round(statistics.fmean(item_size(x) for x in samples), 1),
        "member_bytes": item_size(member[0]) if member else 0,
        "version_bytes": item_size(version[0]) if version else 0,
        "submission_bytes": item_size(submission[0]) if submission else 0,
        "task_bytes": one("tasks", {"task_id": {"S": task_id}}),
    }


def units(nbytes, unit):
    return max(1, math.ceil(nbytes / unit))


def capacity(wire, sizes, claims, submits):
    """Read/write request units for the counted requests.

    Reads: every GetItem the app makes is strongly consistent (1 RRU per 4 KB, a miss costs 1);
    the only Query of a claim or a submit reads the dispatch index, and a GSI is only ever read
    eventually consistent: 0.5 RRU per 4 KB, charged per request on the items it read (Count
    queries pay for what they read), sized by the largest sample item; BatchGetItem
    (registration only) is eventually consistent, 0.5 RRU per item.
    Writes: a transactional write costs 2 WRU per item per 1 KB; the items inside each
    transaction are known from the code (claim 2, submit 5), each sized by the item it writes
    (for an update, the larger of before/after: we use the sample's largest); a cancelled
    transaction is charged as if it had written (an upper bound). Every sample write that lands
    also writes the dispatch index (all attributes projected, standard writes of 1 WRU per KB):
    charged as a delete plus a put, what a changed dispatch key costs (an upper bound: an
    unchanged key is one write, a sample leaving the index one delete).
    """
    d = wire["dynamodb"]
    sample_kb = units(sizes["sample_bytes_max"], 1024)
    rru = d.get("GetItem", {}).get("requests", 0) * units(sizes["sample_bytes_max"], 4096)
    for op, per_unit in (("Query", 0.5), ("Scan", 1)):  # the index; a table, consistent
        if op in d and d[op]["requests"]:
            per = d[op]["items_read"] / d[op]["requests"]
            rru += per_unit * d[op]["requests"] * units(per * sizes["sample_bytes_max"], 4096)
    rru += 0.5 * d.get("BatchGetItem", {}).get("items_read", 0)
    claim_wru = 2 * (sample_kb + units(sizes["member_bytes"], 1024))
    submit_wru = 2 * (sample_kb + units(sizes["member_bytes"], 1024) + units(sizes["version_bytes"], 1024)
                      + units(sizes["task_bytes"], 1024) + units(sizes["submission_bytes"], 1024))
    tx = d.get("TransactWriteItems", {"requests": 0, "errors": 0})
    failed = tx.get("errors", 0)
    index_wru = 2 * sample_kb
    wru = claims * (claim_wru + index_wru) + submits * (submit_wru + index_wru) + failed * claim_wru
    for op in ("PutItem", "UpdateItem", "DeleteItem"):
        wru += d.get(op, {}).get("requests", 0) * sample_kb
    return rru, wru


def cost_per_1000(wire, sizes, claims, submits, handler_seconds, memory_mb, image_gets_per_claim,
                  invocations=None):
    """USD per 1,000 completed annotations, from counted requests. `invocations`: API requests
    (default a claim and a submit each; fewer when submits carry `next`)."""
    scale = 1000 / submits
    rru, wru = capacity(wire, sizes, claims, submits)
    invocations = invocations or claims + submits
    gb_seconds = sum(handler_seconds) * memory_mb / 1024
    s3_put = sum(v["requests"] for k, v in wire["s3"].items() if k in ("PUT", "POST", "COPY"))
    s3_get = sum(v["requests"] for k, v in wire["s3"].items() if k not in ("PUT", "POST", "COPY", "DELETE"))
    s3_get_browser = claims * image_gets_per_claim
    parts = {
        "api_gateway_requests": invocations * APIGW_PER_REQUEST,
        "lambda_requests": invocations * LAMBDA_PER_REQUEST,
        "lambda_gb_seconds": gb_seconds * LAMBDA_PER_GB_SECOND,
        "dynamodb_read_units": rru * DDB_PER_RRU,
        "dynamodb_write_units": wru * DDB_PER_WRU,
        "s3_put": s3_put * S3_PER_PUT,
        "s3_get": (s3_get + s3_get_browser) * S3_PER_GET,
    }
    out = {k: round(v * scale, 6) for k, v in parts.items()}
    out["total_usd"] = round(sum(parts.values()) * scale, 5)
    out["basis"] = {"annotations": submits, "claims": claims, "rru": rru, "wru": wru,
                    "rru_per_annotation": round(rru / submits, 2), "wru_per_annotation": round(wru / submits, 2),
                    "lambda_invocations": invocations, "lambda_memory_mb": memory_mb,
                    "lambda_seconds_per_invocation": round(sum(handler_seconds) / invocations, 4),
                    "s3_put": s3_put, "s3_get_service": s3_get, "s3_get_browser_images": s3_get_browser}
    return out


def lambda_memory_mb():
    """What a deploy gives the function: infra/deploy.py renders the stage's
    `lambda_memory_size`; else .chalice/config.json's; else Chalice's default of 128 MB."""
    import re
    deploy = ROOT / "infra" / "deploy.py"
    found = re.search(r'"lambda_memory_size":\s*(\d+)', deploy.read_text()) if deploy.exists() else None
    if found:
        return int(found.group(1))
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stage = config.get("stages", {}).get("prod", {})
    return int(stage.get("lambda_memory_size", config.get("lambda_memory_size", 128)))


# --- the run --------------------------------------------------------------------------------

def strip(doc):
    """Results without the raw logs (those stay in memory only)."""
    if isinstance(doc, dict):
        return {str(k): strip(v) for k, v in doc.items() if not str(k).startswith("_")}
    if isinstance(doc, list):
        return [strip(v) for v in doc]
    return doc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--concurrent-samples", type=int, default=2000)
    parser.add_argument("--concurrent-seconds", type=float, default=100)
    parser.add_argument("--busy-samples", type=int, default=1000)
    parser.add_argument("--busy-leased", type=int, default=200,
                        help="samples held by distinct annotators in the 'mostly busy' variant")
    parser.add_argument("--busy-submitted", type=int, default=600)
    parser.add_argument("--exhausted", default="50,250", type=lambda v: [int(x) for x in v.split(",")],
                        help="task sizes of the overlap-2 'nothing left for this annotator' variant")
    parser.add_argument("--unpatched-moto", action="store_true",
                        help="run moto as released, without devstack/moto_patches.py")
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the bench")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.cycles, args.concurrent_samples = "100,1000", 40, 300
        args.busy_samples, args.busy_leased, args.busy_submitted, args.threads = 400, 100, 200, 8
        args.concurrent_seconds = 30
        args.exhausted = [20, 80]
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.time()
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "moto": "devstack moto_server" + (" --unpatched-moto" if args.unpatched_moto else
                                                 " (devstack/moto_patches.py)"),
               "sizes": {}}
    log_dir = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    stack = LocalStack(log_dir=log_dir, moto_args=["--unpatched-moto"] if args.unpatched_moto else [])
    moto_port, api_port = free_ports(2)
    print(f"stack: moto :{moto_port}, api :{api_port}, logs {log_dir}", flush=True)
    stack.start(moto_port=moto_port, api_port=api_port)
    try:
        wire = Wire(stack.moto_url)
        admin = User(stack, "bench-admin", admin=True)
        wire.reset()
        # 32 annotators at once.
        cid = f"race-{args.concurrent_samples}"
        make_task(admin, wire, cid, args.concurrent_samples, lease_seconds=3600)
        race = concurrent(stack, wire, cid, args.concurrent_samples, args.threads, 1,
                          args.concurrent_seconds)
        checks = verify(stack, cid, 1, race["_grants"], race["_submits"])
        race.update({k: v for k, v in checks.items() if k != "item_sizes"})
        results["concurrent"] = race
        results["item_sizes"] = checks["item_sizes"]
        print(f"[{time.time() - started:5.0f}s] race: {race['claims_per_s']} claims/s, "
              f"{race['retries_per_claim']} retries/claim", flush=True)
        for n in sizes:
            task_id = f"size-{n}"
            reg = make_task(admin, wire, task_id, n, lease_seconds=3600)
            print(f"[{time.time() - started:5.0f}s] registered {n} samples in {reg['seconds']} s "
                  f"({reg['samples_per_s']}/s)", flush=True)
            run = cycles(stack, wire, task_id, min(args.cycles, n), [f"a{i}" for i in range(4)])
            results["sizes"][str(n)] = {"registration": reg, "fresh": run}
            print(f"[{time.time() - started:5.0f}s] {n}: claim {run['claim']['dynamodb_requests']} req "
                  f"{run['claim']['items_read']} items {run['claim']['latency']}", flush=True)
        # Variant: most of a task already leased by many annotators or submitted; the cycles
        # then claim from what is left at its end.
        busy_id = f"busy-{args.busy_samples}"
        make_task(admin, wire, busy_id, args.busy_samples, lease_seconds=3600)
        took = occupy(stack, wire, busy_id, args.busy_leased, args.busy_submitted)
        print(f"[{time.time() - started:5.0f}s] {busy_id}: {args.busy_leased} leased by distinct "
              f"annotators + {args.busy_submitted} submitted in {took} s", flush=True)
        run = cycles(stack, wire, busy_id, min(args.cycles, args.busy_samples - args.busy_leased
                                               - args.busy_submitted), [f"b{i}" for i in range(4)])
        results["busy"] = {"samples": args.busy_samples, "leased_by_others": args.busy_leased,
                           "submitted_before": args.busy_submitted, "setup_seconds": took,
                           "cycles": run}
        print(f"[{time.time() - started:5.0f}s] busy: claim {run['claim']['dynamodb_requests']} req "
              f"{run['claim']['items_read']} items; submit {run['submit']['items_read']} items", flush=True)
        # Variant: overlap 2, the caller already submitted every sample that still needs work.
        results["overlap_exhausted"] = exhausted(stack, wire, admin, args.exhausted)
        print(f"[{time.time() - started:5.0f}s] overlap: {results['overlap_exhausted']}", flush=True)
        # The bill.
        memory = lambda_memory_mb()
        sizes_b = checks["item_sizes"]
        big = max(sizes)
        one = results["sizes"][str(big)]["fresh"]
        handler = [one["claim"]["latency"]["mean_ms"] / 1000] * one["cycles"] + \
                  [one["submit"]["latency"]["mean_ms"] / 1000] * one["cycles"]
        wire_one = add(add(empty(), one["claim"]["wire"]), one["submit"]["wire"])
        results["cost_per_1000_annotations"] = {
            "single_annotator_at_%d" % big: cost_per_1000(wire_one, sizes_b, one["cycles"], one["cycles"],
                                                          handler, memory, 1),
            "concurrent_%d" % args.threads: cost_per_1000(
                race["wire"], sizes_b, race["claims"], race["submits_ok"],
                [race["claim"]["latency"]["mean_ms"] / 1000] * race["claims"] +
                [race["submit"]["latency"]["mean_ms"] / 1000] * race["submits_ok"], memory, 1),
            "assumptions": {
                "lambda_memory_mb": memory,
                "lambda_duration": "mean HTTP latency measured against chalice local + moto "
                                   "(includes localhost HTTP; real DynamoDB latency differs)",
                "api_gateway": "REST API, one request per claim and per submit",
                "browser_image_gets": "1 presigned S3 GET per claim (one image per sample; "
                                      "not fetched by the bench, added here)",
                "dynamodb": capacity.__doc__.strip(),
                "not_included": "heartbeats/drafts, data transfer, storage, CloudFront, free tiers",
            },
        }
        results["seconds"] = round(time.time() - started, 1)
    finally:
        stack.stop()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(strip(results), indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {out} ({results.get('seconds')} s)")
    problems = []
    race = results["concurrent"]
    if race["double_assignments"] or race["lost_submissions"] or not race["counters_match_recount"]:
        problems.append("correctness under concurrency")
    return 1 if problems else 0


def print_table(r):
    rows = []
    for n, s in r["sizes"].items():
        rows.append((f"{int(n):,} fresh", s["fresh"]))
    b = r["busy"]
    rows.append((f"{b['samples']:,} busy*", b["cycles"]))
    print("\nper call, single annotator (mean over cycles; latency median/p95 ms)")
    print(f"{'task':<16}{'cycles':>6} {'op':<8}{'ddb req':>8}{'items':>8}{'max':>6}{'s3':>5}"
          f"{'median':>9}{'p95':>9}")
    for name, run in rows:
        for op in ("claim", "submit"):
            c = run[op]
            print(f"{name:<16}{run['cycles']:>6} {op:<8}{c['dynamodb_requests']:>8}{c['items_read']:>8}"
                  f"{c['items_read_max']:>6}{c['s3_requests']:>5}{c['latency']['median_ms']:>9}"
                  f"{c['latency']['p95_ms']:>9}")
    print(f"* busy: {b['leased_by_others']:,} samples leased by as many other annotators and "
          f"{b['submitted_before']:,} submitted before the cycles")
    print("\nannotations_per_sample=2, one annotator submitted all N samples, then claims again:")
    for m, row in r["overlap_exhausted"].items():
        a, o = row["same_annotator"], row["new_annotator"]
        print(f"  N={int(m):>5,}: that annotator's claim -> {a['status']}: {a['dynamodb_requests']} ddb req "
              f"({a['queries']} queries), {a['items_read']} items, {a['latency_ms']} ms; "
              f"a new annotator's -> {o['status']}: {o['dynamodb_requests']} req, {o['items_read']} items")
    print("\nregistration (batches of 1000 through the API)")
    for n, s in r["sizes"].items():
        g = s["registration"]
        print(f"  {int(n):>7,} samples: {g['seconds']:>7} s  {g['samples_per_s']:>7}/s  "
              f"batch median {g['batch']['median_ms']} ms  ddb requests {g['dynamodb_requests']}")
    c = r["concurrent"]
    print(f"\n{c['annotators']} concurrent annotators, {c['samples']:,} samples: {c['claims']} claims in "
          f"{c['seconds']} s = {c['claims_per_s']} claims/s; claim median/p95 "
          f"{c['claim']['latency']['median_ms']}/{c['claim']['latency']['p95_ms']} ms, submit "
          f"{c['submit']['latency']['median_ms']}/{c['submit']['latency']['p95_ms']} ms")
    print(f"  TransactWriteItems {c['transact_write_requests']} ({c['transact_write_failed']} cancelled) "
          f"-> retries per claim {c['retries_per_claim']}; client 503 retries {c['client_503_retries']}")
    print(f"  double assignments {c['double_assignments']}, lost submissions {c['lost_submissions']}, "
          f"counters match recount: {c['counters_match_recount']}")
    print("\nestimated AWS cost per 1,000 completed annotations (USD, us-east-1 list prices)")
    for name, cost in r["cost_per_1000_annotations"].items():
        if name == "assumptions":
            continue
        parts = ", ".join(f"{k} {v:.5f}" for k, v in cost.items() if k not in ("total_usd", "basis"))
        bb = cost["basis"]
        print(f"  {name}: {cost['total_usd']:.4f}  ({parts})")
        print(f"    per annotation: {bb['rru_per_annotation']} RRU, {bb['wru_per_annotation']} WRU, "
              f"Lambda {bb['lambda_memory_mb']} MB x {bb['lambda_seconds_per_invocation']} s x 2 invocations")


if __name__ == "__main__":
    sys.exit(main())
