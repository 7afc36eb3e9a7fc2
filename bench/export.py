"""Export benchmark: samples exported per second and the worker's peak memory, for tasks of
1,000 and 10,000 samples with one polygon-heavy annotation each (50 objects x 40 vertices on a
512 x 512 image).

    make bench                        # every bench/*.py
    .venv/bin/python bench/export.py [--sizes 1000 10000] [--format all]

Runs on the local stack (devstack's LocalStack, whose moto server carries the emulator
fixes of devstack/moto_patches.py, so that registering 10,000 samples does not take an hour): the export
is asked for over HTTP and built by the stack's export worker process, exactly as `make dev`
runs it. The worker is restarted before each size, and its peak resident memory (VmHWM from
/proc) is what the worker process needed for the whole export: the Python interpreter with
the app imported, one page of samples and one multipart part.

Samples are registered with their annotation as the pre-annotation (version 0), through the
API, in requests of 60, and exported with `status=all` (they are not completed) and
`images=false` (the timing is of the annotations: GeoJSON, two masks per sample, COCO; copying
the images would measure S3 throughput). Writes bench/results/export.json.
"""
import argparse
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devstack.processes import free_ports, stop_group  # noqa: E402
from devstack.stack import LocalStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "export.json"
SIZE, OBJECTS, VERTICES, PER_REQUEST = 512, 50, 40, 60


def annotation(seed: int) -> dict:
    """50 non-overlapping 40-vertex blobs on a 10 x 5 grid, coordinates with one decimal."""
    rng = np.random.default_rng(seed)
    features = []
    for k in range(OBJECTS):
        cx, cy = (k % 10 + 0.5) * SIZE / 10, (k // 10 + 0.5) * SIZE / 5
        radius = rng.uniform(8, 20) * (1 + 0.25 * np.sin(np.arange(VERTICES) * 2 * math.pi / 8))
        angles = np.arange(VERTICES) * 2 * math.pi / VERTICES
        ring = [[round(cx + r * math.cos(a), 1), round(cy + r * math.sin(a), 1)]
                for r, a in zip(radius, angles)]
        features.append({"type": "Feature", "properties": {"label": ("cell", "debris")[k % 2]},
                         "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
    return {"type": "FeatureCollection", "features": features}


def seed_task(stack, admin, task_id: str, n: int) -> float:
    started = time.monotonic()
    requests.post(f"{stack.api_url}/tasks", headers=admin, timeout=60, json={
        "id": task_id, "name": task_id, "labels": ["cell", "debris"]}).raise_for_status()
    image = io.BytesIO()
    Image.fromarray(np.zeros((SIZE, SIZE), np.uint8)).save(image, format="PNG")
    key = f"bench/{task_id}/image.png"
    import boto3
    boto3.client("s3", endpoint_url=stack.moto_url, region_name="us-east-1",
                 aws_access_key_id="local", aws_secret_access_key="local").put_object(
        Bucket=stack.env["DATA_BUCKET"], Key=key, Body=image.getvalue())
    shapes = [annotation(s) for s in range(20)]   # reused: generating is not what we measure
    for start in range(0, n, PER_REQUEST):
        body = {"samples": [{"id": f"s{i:06d}", "files": {"image.png": key},
                             "annotation": shapes[i % len(shapes)]}
                            for i in range(start, min(n, start + PER_REQUEST))]}
        answer = requests.post(f"{stack.api_url}/tasks/{task_id}/samples", headers=admin,
                               json=body, timeout=600)
        answer.raise_for_status()
    return time.monotonic() - started


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def export_once(stack, admin, task_id: str, n: int, fmt: str) -> dict:
    # A fresh worker process per size: its peak memory is this export's.
    stop_group(stack.procs.pop("worker"), 5)
    stack._start_worker()
    time.sleep(2)
    worker = stack.procs["worker"].pid
    baseline = peak_rss_mb(worker)
    started = time.monotonic()
    answer = requests.post(f"{stack.api_url}/tasks/{task_id}/exports", headers=admin, timeout=60,
                           json={"format": fmt, "status": "all", "images": False})
    answer.raise_for_status()
    export_id = answer.json()["export_id"]
    while True:
        job = requests.get(f"{stack.api_url}/tasks/{task_id}/exports/{export_id}", headers=admin,
                           timeout=60).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    seconds = time.monotonic() - started
    if job["status"] != "done":
        raise SystemExit(f"export failed: {job['error']}")
    assert job["counts"]["samples_exported"] == n, job["counts"]
    return {"samples": n, "format": fmt, "seconds": round(seconds, 1),
            "samples_per_second": round(n / seconds, 1), "archive_mb": round(job["size"] / 1e6, 1),
            "files": job["counts"]["files"], "worker_peak_rss_mb": round(peak_rss_mb(worker), 1),
            "worker_rss_before_mb": round(baseline, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--format", default="all", choices=["all", "geojson", "masks", "coco"])
    args = parser.parse_args(argv)
    logs = tempfile.mkdtemp(prefix="bench-export-")
    print(f"logs: {logs}", flush=True)
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "page_samples": int(os.environ.get("EXPORT_PAGE_SAMPLES", "100")),
               "annotation": {"objects": OBJECTS, "vertices": VERTICES, "image": [SIZE, SIZE],
                              "bytes": len(json.dumps(annotation(0)))}, "runs": []}
    moto_port, api_port = free_ports(2)
    with LocalStack(log_dir=logs).start(moto_port=moto_port, api_port=api_port) as stack:
        admin = stack.auth(stack.admin_token())
        for n in args.sizes:
            task_id = f"bench-export-{n}"
            registered = seed_task(stack, admin, task_id, n)
            print(f"{n:>6} samples registered in {registered:.0f} s", flush=True)
            run = export_once(stack, admin, task_id, n, args.format)
            run["registration_seconds"] = round(registered, 1)
            results["runs"].append(run)
            print(f"{n:>6} samples: exported in {run['seconds']} s ({run['samples_per_second']}/s), "
                  f"{run['archive_mb']} MB, {run['files']} files, worker peak "
                  f"{run['worker_peak_rss_mb']} MB (idle {run['worker_rss_before_mb']} MB)", flush=True)
            RESULTS.parent.mkdir(exist_ok=True)   # after each size: a long run keeps what it has
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
