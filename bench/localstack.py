"""The local stack at real size: what `make dev` gives one annotator, eight, and a registration.

    make bench                      # or: .venv/bin/python bench/localstack.py [--quick]

Starts devstack's LocalStack (moto with devstack/moto_patches.py unless --unpatched-moto,
`chalice local`) on free ports without a data dir, and measures with the client loop of
issue 12's side by side (claim, then submit; a fresh connection per request):
- one annotator, cycles/s at each task size (registered through the API, 1,000 per request,
  which gives registration samples/s);
- 8 annotators at once on a 300-sample task (one annotation per sample): annotations/s,
  claim p95, and extra annotations (more than one on a sample; must be 0);
- moto's resident memory at the end, every task (the largest included) still stored.

Writes bench/results/localstack.json and prints a table.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dispatch import POLYGON, User, Wire, latency, make_task, pct  # noqa: E402
from devstack.processes import free_ports  # noqa: E402
from devstack.stack import LocalStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "localstack.json"
TIMEOUT = 300  # seconds a single request may take on a loaded machine before the bench fails


class FreshClient:
    """One annotator; every request on a new connection, like the side-by-side's client."""

    def __init__(self, stack, sub):
        self.base = stack.api_url
        self.headers = stack.auth(stack.annotator_token(sub))

    def claim(self, task):
        resp = requests.post(f"{self.base}/tasks/{task}/claim", headers=self.headers, timeout=TIMEOUT)
        assert resp.status_code in (200, 204), resp.text
        return resp.json() if resp.status_code == 200 else None

    def submit(self, task, claimed, next=False):
        sid = claimed["sample"]["id"]
        resp = requests.post(f"{self.base}/tasks/{task}/samples/{sid}/submit", headers=self.headers,
                             timeout=TIMEOUT, json={"lease_id": claimed["lease"]["id"], "annotation": POLYGON,
                                                    "submission_id": uuid.uuid4().hex, "next": next})
        assert resp.status_code == 200, resp.text
        return resp.json()


def one_annotator(stack, task, cycles, next=False):
    """`next`: the annotator page's loop, submit answers the next lease (one request per
    cycle after the first claim); else claim then submit, as Label Studio's next/annotate."""
    client = FreshClient(stack, f"solo-{task}{'-next' if next else ''}")
    claims, submits = [], []
    t0, claimed = time.perf_counter(), None
    for _ in range(cycles):
        t1 = time.perf_counter()
        if claimed is None:
            claimed = client.claim(task)
            claims.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        answer = client.submit(task, claimed, next=next)
        claimed = answer.get("next")
        submits.append(time.perf_counter() - t2)
    seconds = time.perf_counter() - t0
    return {"cycles": cycles, "seconds": round(seconds, 2), "cycles_per_s": round(cycles / seconds, 2),
            "claim": latency(claims), "submit": latency(submits), "load": [round(x, 2) for x in os.getloadavg()]}


def eight_annotators(stack, task, n_samples, n_annotators):
    clients = [FreshClient(stack, f"team-{i}") for i in range(n_annotators)]
    done, claim_lat, lock = [], [], threading.Lock()
    start = threading.Barrier(n_annotators + 1)

    def work(client):
        start.wait()
        while True:
            t0 = time.perf_counter()
            claimed = client.claim(task)
            dt = time.perf_counter() - t0
            if claimed is None:
                return
            client.submit(task, claimed)
            with lock:
                claim_lat.append(dt)
                done.append(claimed["sample"]["id"])

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return {"annotators": n_annotators, "samples": n_samples, "annotations": len(done),
            "extra_annotations": len(done) - len(set(done)), "unannotated": n_samples - len(set(done)),
            "seconds": round(seconds, 2), "annotations_per_s": round(len(done) / seconds, 2),
            "claim": {"median_ms": round(1000 * statistics.median(claim_lat), 1),
                      "p95_ms": round(1000 * pct(claim_lat, 0.95), 1)}}


def resident_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,100000")
    parser.add_argument("--cycles", type=int, default=100, help="single-annotator cycles per size")
    parser.add_argument("--team", type=int, default=8)
    parser.add_argument("--team-samples", type=int, default=300)
    parser.add_argument("--register", default="",
                        help="extra task sizes only registered (timed), e.g. 1000,10000")
    parser.add_argument("--unpatched-moto", action="store_true",
                        help="moto as released, without devstack/moto_patches.py")
    parser.add_argument("--quick", action="store_true", help="100 and 10,000 samples, fewer cycles")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.cycles, args.team_samples = "100,10000", 40, 120
    sizes = [int(s) for s in args.sizes.split(",")]
    log_dir = Path(tempfile.mkdtemp(prefix="bench-localstack-"))
    stack = LocalStack(log_dir=log_dir, moto_args=["--unpatched-moto"] if args.unpatched_moto else [])
    moto_port, api_port = free_ports(2)
    print(f"stack: moto :{moto_port}, api :{api_port}, logs {log_dir}", flush=True)
    started = time.time()
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "moto": "as released" if args.unpatched_moto else "devstack/moto_patches.py",
               "client": "claim then submit, a fresh connection per request (one_annotator_next: claim once, "
                         "then submit with next)", "sizes": {}}
    stack.start(moto_port=moto_port, api_port=api_port)
    try:
        wire, admin = Wire(stack.moto_url), User(stack, "bench-admin", admin=True)
        team_task = f"team-{args.team_samples}"
        make_task(admin, wire, team_task, args.team_samples, lease_seconds=3600)
        results["team"] = eight_annotators(stack, team_task, args.team_samples, args.team)
        results["team"]["load"] = [round(x, 2) for x in os.getloadavg()]
        print(f"[{time.time() - started:5.0f}s] team: {results['team']}", flush=True)
        for n in sizes:
            reg = make_task(admin, wire, f"size-{n}", n, lease_seconds=3600)
            reg_load = [round(x, 2) for x in os.getloadavg()]
            cycles = min(args.cycles, n)
            run = one_annotator(stack, f"size-{n}", cycles)
            # The loop with next on what is left, or on a second task when the first is used up.
            next_task = f"size-{n}"
            if n - cycles < cycles:
                next_task = f"next-{n}"
                make_task(admin, wire, next_task, n, lease_seconds=3600)
            results["sizes"][str(n)] = {
                "registration": {**{k: reg[k] for k in ("samples", "seconds", "samples_per_s", "batch")},
                                 "load": reg_load},
                "one_annotator": run,
                "one_annotator_next": one_annotator(stack, next_task, cycles, next=True)}
            print(f"[{time.time() - started:5.0f}s] {n}: registered {reg['samples_per_s']}/s, "
                  f"{run['cycles_per_s']} cycles/s, with next "
                  f"{results['sizes'][str(n)]['one_annotator_next']['cycles_per_s']}", flush=True)
        for n in [int(s) for s in args.register.split(",") if s]:
            reg = make_task(admin, wire, f"register-{n}", n, lease_seconds=3600)
            results.setdefault("registration", {})[str(n)] = {
                **{k: reg[k] for k in ("samples", "seconds", "samples_per_s")},
                "load": [round(x, 2) for x in os.getloadavg()]}
            print(f"[{time.time() - started:5.0f}s] registered {n} in {reg['seconds']} s", flush=True)
        results["moto_resident_mb"] = resident_mb(stack.procs["moto"].pid)
    finally:
        stack.stop()
    results["seconds"] = round(time.time() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {out}")
    return 1 if results["team"]["extra_annotations"] else 0


def print_table(r):
    print(f"\nlocal stack ({r['moto']}; {r['client']})")
    print(f"{'samples':>9} {'register/s':>11} {'cycles/s':>9} {'claim med':>10} {'submit med':>11} "
          f"{'with next: cycles/s':>20} {'submit+next med':>16}")
    for n, s in r["sizes"].items():
        one, nxt = s["one_annotator"], s["one_annotator_next"]
        print(f"{int(n):>9,} {s['registration']['samples_per_s']:>11} {one['cycles_per_s']:>9} "
              f"{one['claim']['median_ms']:>10} {one['submit']['median_ms']:>11} {nxt['cycles_per_s']:>20} "
              f"{nxt['submit']['median_ms']:>16}   load {one['load']}")
    for n, g in r.get("registration", {}).items():
        print(f"register {int(n):,}: {g['seconds']} s ({g['samples_per_s']}/s), load {g['load']}")
    t = r["team"]
    print(f"{t['annotators']} annotators, {t['samples']} samples: {t['annotations_per_s']} annotations/s, "
          f"claim p95 {t['claim']['p95_ms']} ms, {t['extra_annotations']} extra, {t['unannotated']} left")
    print(f"moto resident memory at the end: {r['moto_resident_mb']} MB")


if __name__ == "__main__":
    sys.exit(main())
