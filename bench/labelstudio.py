"""Label Studio with the client loop of bench/localstack.py: the other half of issue 12's side by side.

    .venv/bin/python bench/labelstudio.py --ls-venv /tmp/ls-venv [--quick]
    LS_VENV=/tmp/ls-venv make bench        # make bench runs it only when LS_VENV is given

Label Studio is never a dependency of this project: install it into a throwaway virtualenv
outside the repository (`python3 -m venv /tmp/ls-venv && /tmp/ls-venv/bin/pip install
label-studio`) and pass its path. Without `--ls-venv` (or LS_VENV) this script says so and
exits 0, so `make bench` skips it.

Starts `label-studio start` from that venv on a free loopback port with SQLite in a temporary
data dir and a user token (`--user-token`); adds the other annotators (users, organisation
members, API tokens) through Label Studio's own Django models in that venv. Then, with a fresh
connection per request like bench/localstack.py:
- one annotator: GET /api/projects/{id}/next (Label Studio's claim: it locks the task for the
  caller), then POST /api/tasks/{id}/annotations (submit): cycles/s, median next/submit ms, at
  each task size;
- registration: POST /api/projects/{id}/import of N tasks in one request (time);
- 8 annotators at once on a 300-task project with one annotation per task asked
  (`maximum_annotations` 1): annotations/s, next p95, extra annotations (more than one on a task).

Writes bench/results/labelstudio.json and prints a table.
"""
import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from dispatch import latency, pct  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "labelstudio.json"
TIMEOUT = 300
LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <PolygonLabels name="label" toName="image"><Label value="cell"/></PolygonLabels>
</View>"""
# The same polygon as dispatch.POLYGON, in Label Studio's percent coordinates of a 100 x 100 image.
RESULT = [{"from_name": "label", "to_name": "image", "type": "polygonlabels", "original_width": 100,
           "original_height": 100, "value": {"points": [[10, 50], [60, 50], [60, 90], [10, 90]],
                                             "polygonlabels": ["cell"]}}]
ADD_USERS = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from organizations.models import Organization
from rest_framework.authtoken.models import Token
org = Organization.objects.first()
out = {}
for name in sys.argv[1:]:
    user, _ = get_user_model().objects.get_or_create(email=name + "@bench.local", defaults={"username": name})
    user.active_organization = org
    user.save()
    org.add_user(user)
    out[name] = Token.objects.get_or_create(user=user)[0].key
print(json.dumps(out))
"""


def load():
    return [round(x, 2) for x in os.getloadavg()]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabelStudio:
    def __init__(self, venv, data_dir, log):
        self.venv, self.data_dir, self.log = Path(venv), Path(data_dir), log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(20)
        self.env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                    "DJANGO_DB": "sqlite", "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "false",
                    "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false", "DEBUG": "false"}
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "label-studio"), "start", "--no-browser", "--host", "127.0.0.1",
             "--port", str(self.port), "--data-dir", str(self.data_dir), "--username", "bench@bench.local",
             "--password", secrets.token_hex(8), "--user-token", self.token,
             "--enable-legacy-api-token"],  # the plain `Token` header, as --user-token sets it
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 900  # first start migrates the SQLite database
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"label-studio exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if requests.get(self.url + "/api/projects", headers=self.auth(self.token), timeout=10).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(2)
        raise RuntimeError("label-studio did not answer in 900 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)

    @staticmethod
    def auth(token):
        return {"Authorization": f"Token {token}"}

    def add_users(self, names):
        """API tokens of new organisation members, through Label Studio's own models."""
        site = next((self.venv / "lib").glob("python3*/site-packages"))
        env = {**self.env, "DJANGO_SETTINGS_MODULE": "core.settings.label_studio",
               "PYTHONPATH": str(site / "label_studio")}
        out = subprocess.run([str(self.venv / "bin" / "python"), "-c", ADD_USERS, *names], env=env,
                             capture_output=True, text=True, timeout=600, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def project(self, title, n, token=None):
        """A project of n image tasks, imported in one request: (id, seconds to import)."""
        h = self.auth(token or self.token)
        resp = requests.post(self.url + "/api/projects", headers=h, timeout=TIMEOUT,
                             json={"title": title, "label_config": LABEL_CONFIG, "maximum_annotations": 1,
                                   "sampling": "Sequential sampling"})
        assert resp.status_code == 201, resp.text
        pid = resp.json()["id"]
        tasks = [{"data": {"image": f"http://127.0.0.1/images/{title}/s{i:06d}.png"}} for i in range(n)]
        t0 = time.perf_counter()
        resp = requests.post(f"{self.url}/api/projects/{pid}/import", headers=h, json=tasks, timeout=TIMEOUT)
        seconds = time.perf_counter() - t0
        assert resp.status_code == 201, resp.text
        assert resp.json()["task_count"] == n, resp.text  # Community edition imports synchronously
        return pid, seconds


class Annotator:
    """Label Studio's annotator loop, a fresh connection per request. Under concurrent writers
    SQLite answers "database is locked" as a 500: the client retries it, as ours retries a 503,
    and counts it."""

    def __init__(self, ls, token):
        self.base, self.headers = ls.url, LabelStudio.auth(token)
        self.retried_500 = 0

    def request(self, method, path, **kw):
        for _ in range(50):
            resp = requests.request(method, self.base + path, headers=self.headers, timeout=TIMEOUT, **kw)
            if resp.status_code < 500:
                return resp
            self.retried_500 += 1
            time.sleep(0.05)
        return resp

    def claim(self, project):
        resp = self.request("GET", f"/api/projects/{project}/next")
        if resp.status_code == 404:  # nothing left for this user
            return None
        assert resp.status_code == 200, resp.text
        return resp.json()

    def submit(self, task):
        resp = self.request("POST", f"/api/tasks/{task['id']}/annotations",
                            json={"result": RESULT, "lead_time": 1.0})
        assert resp.status_code == 201, resp.text
        return resp.json()


def one_annotator(ls, project, cycles):
    a = Annotator(ls, ls.token)
    claims, submits = [], []
    t0 = time.perf_counter()
    for _ in range(cycles):
        t1 = time.perf_counter()
        task = a.claim(project)
        t2 = time.perf_counter()
        assert task, "nothing left"
        a.submit(task)
        claims.append(t2 - t1)
        submits.append(time.perf_counter() - t2)
    seconds = time.perf_counter() - t0
    return {"cycles": cycles, "seconds": round(seconds, 2), "cycles_per_s": round(cycles / seconds, 2),
            "claim": latency(claims), "submit": latency(submits), "load": load()}


def team(ls, project, n_samples, tokens):
    done, claim_lat, lock = [], [], threading.Lock()
    start = threading.Barrier(len(tokens) + 1)

    annotators = [Annotator(ls, token) for token in tokens]

    def work(a):
        start.wait()
        while True:
            t0 = time.perf_counter()
            task = a.claim(project)
            dt = time.perf_counter() - t0
            if task is None:
                return
            a.submit(task)
            with lock:
                claim_lat.append(dt)
                done.append(task["id"])

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return {"annotators": len(tokens), "samples": n_samples, "annotations": len(done),
            "extra_annotations": len(done) - len(set(done)), "unannotated": n_samples - len(set(done)),
            "seconds": round(seconds, 2), "annotations_per_s": round(len(done) / seconds, 2),
            "server_errors_retried": sum(a.retried_500 for a in annotators),
            "claim": {"median_ms": round(1000 * sorted(claim_lat)[len(claim_lat) // 2], 1),
                      "p95_ms": round(1000 * pct(claim_lat, 0.95), 1)}, "load": load()}


def version(venv):
    out = subprocess.run([str(Path(venv) / "bin" / "python"), "-m", "pip", "show", "label-studio"],
                         capture_output=True, text=True)
    return next((line.split()[1] for line in out.stdout.splitlines() if line.startswith("Version:")), None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ls-venv", default=os.environ.get("LS_VENV"),
                        help="virtualenv holding label-studio (default: $LS_VENV)")
    parser.add_argument("--sizes", default="100,1000", help="one-annotator task sizes")
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--register", default="1000,10000", help="import sizes, timed")
    parser.add_argument("--team", type=int, default=8)
    parser.add_argument("--team-samples", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if not args.ls_venv:
        print("bench/labelstudio.py: no Label Studio venv given (--ls-venv or LS_VENV): skipped")
        return 0
    if args.quick:
        args.sizes, args.cycles, args.register, args.team_samples = "100", 40, "1000", 120
    data_dir = Path(tempfile.mkdtemp(prefix="bench-labelstudio-"))
    log = open(data_dir / "label-studio.log", "w")
    ls = LabelStudio(args.ls_venv, data_dir / "data", log)
    print(f"label-studio {version(args.ls_venv)} on {ls.url}, data and log in {data_dir}", flush=True)
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "label_studio": version(args.ls_venv), "database": "SQLite",
               "client": "GET /next then POST annotations, a fresh connection per request",
               "load_at_start": load(), "sizes": {}, "registration": {}}
    started = time.time()
    try:
        ls.start()
        print(f"[{time.time() - started:5.0f}s] started", flush=True)
        tokens = list(ls.add_users([f"team{i}" for i in range(args.team)]).values())
        pid, _ = ls.project(f"team-{args.team_samples}", args.team_samples)
        results["team"] = team(ls, pid, args.team_samples, tokens)
        print(f"[{time.time() - started:5.0f}s] team: {results['team']}", flush=True)
        for n in [int(s) for s in args.register.split(",")]:
            _, seconds = ls.project(f"register-{n}", n)
            results["registration"][str(n)] = {"samples": n, "seconds": round(seconds, 2),
                                               "samples_per_s": round(n / seconds, 1), "load": load()}
            print(f"[{time.time() - started:5.0f}s] registered {n} in {seconds:.2f} s", flush=True)
        for n in [int(s) for s in args.sizes.split(",")]:
            pid, seconds = ls.project(f"size-{n}", n)
            run = one_annotator(ls, pid, min(args.cycles, n))
            results["sizes"][str(n)] = {"registration_seconds": round(seconds, 2), "one_annotator": run}
            print(f"[{time.time() - started:5.0f}s] {n}: {run['cycles_per_s']} cycles/s", flush=True)
    finally:
        ls.stop()
        log.close()
    results["seconds"] = round(time.time() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {out}")
    shutil.rmtree(data_dir / "data", ignore_errors=True)
    return 0


def print_table(r):
    print(f"\nLabel Studio {r['label_studio']} ({r['database']}; {r['client']})")
    for n, s in r["sizes"].items():
        one = s["one_annotator"]
        print(f"  one annotator, {int(n):,} tasks: {one['cycles_per_s']} cycles/s (next "
              f"{one['claim']['median_ms']} ms, submit {one['submit']['median_ms']} ms median), load {one['load']}")
    for n, g in r["registration"].items():
        print(f"  import {int(n):,} tasks: {g['seconds']} s, load {g['load']}")
    t = r["team"]
    print(f"  {t['annotators']} annotators, {t['samples']} tasks: {t['annotations_per_s']} annotations/s, "
          f"next p95 {t['claim']['p95_ms']} ms, {t['extra_annotations']} extra, {t['unannotated']} left, "
          f"{t['server_errors_retried']} server errors retried, load {t['load']}")


if __name__ == "__main__":
    sys.exit(main())
