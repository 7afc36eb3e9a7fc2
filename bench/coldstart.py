"""Cold start: what `import app` costs a fresh Lambda, and how big the deployment package is.

    make bench                      # or: .venv/bin/python bench/coldstart.py [--runs 10]

Builds (once per requirements.txt, in bench/.lambda-venv) a virtualenv holding only
requirements.txt plus boto3, as the Lambda runtime provides it: none of the dev tools (moto
brings cryptography, which PyJWT would otherwise import). Then, in that environment, from
the project root as Lambda's task root, with the deployed stage's settings:
- `import app`, timed inside each of `--runs` fresh processes (median, min, max), and the
  same processes' wall time next to a bare interpreter's;
- which heavy modules that import leaves loaded (numpy, PIL must not be among them);
- the zipped size of `chalice package` (the Lambda's deployment.zip, dependencies included).

Writes bench/results/coldstart.json and prints a summary.
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "coldstart.json"
LAMBDA_VENV = ROOT / "bench" / ".lambda-venv"
BOTO3 = "boto3==1.44.*"  # what requirements-dev.txt pins; the runtime ships its own
# Settings a deployed stage gives the function (values are irrelevant to import cost).
STAGE_ENV = {"TABLE_PREFIX": "cloud-annotator-prod-", "DATA_BUCKET": "cold-start-bench",
             "AWS_DEFAULT_REGION": "us-east-1", "JWT_SECRET": "cold-start-bench-secret-32-bytes-long"}
PROBE = """
import sys, time, json
t0 = time.perf_counter()
import app
took = time.perf_counter() - t0
heavy = sorted(m for m in ("numpy", "PIL", "cryptography", "boto3", "s3transfer", "pydantic")
               if m in sys.modules)
print(json.dumps({"import_s": took, "modules": len(sys.modules), "heavy_loaded": heavy}))
"""


def lambda_python():
    """The Lambda-like virtualenv's interpreter, (re)built when requirements.txt changed."""
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes() + BOTO3.encode()).hexdigest()
    stamp = LAMBDA_VENV / ".requirements-sha256"
    python = LAMBDA_VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(LAMBDA_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(LAMBDA_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r",
                        str(ROOT / "requirements.txt"), BOTO3], check=True)
        stamp.write_text(wanted)
    return python


def fresh_processes(python, runs):
    env = {"PATH": os.environ.get("PATH", ""), **STAGE_ENV, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run([str(python), "-c", PROBE], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # byte-compiles once, as the deployed package is
    imports, walls, bare = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([str(python), "-c", PROBE], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True).stdout
        walls.append(time.perf_counter() - t0)
        probe = json.loads(out)
        imports.append(probe["import_s"])
        t0 = time.perf_counter()
        subprocess.run([str(python), "-c", "pass"], cwd=ROOT, env=env, check=True)
        bare.append(time.perf_counter() - t0)
    ms = lambda xs: {"median_ms": round(1000 * statistics.median(xs), 1),  # noqa: E731
                     "min_ms": round(1000 * min(xs), 1), "max_ms": round(1000 * max(xs), 1)}
    return {"runs": runs, "import_app": ms(imports), "process_wall": ms(walls),
            "bare_interpreter_wall": ms(bare), "modules_loaded": probe["modules"],
            "heavy_modules_loaded": probe["heavy_loaded"]}


def package_size():
    """`chalice package` into a temp dir; the zipped deployment and what is largest in it."""
    chalice = Path(sys.executable).with_name("chalice")
    with tempfile.TemporaryDirectory(prefix="coldstart-package-") as out:
        done = subprocess.run([str(chalice), "package", "--stage", "prod", out], cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            return {"error": (done.stderr or done.stdout).strip()[-800:]}
        archive = Path(out) / "deployment.zip"
        tops = {}
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                top = info.filename.split("/")[0]
                tops[top] = tops.get(top, 0) + info.compress_size
        largest = sorted(tops.items(), key=lambda kv: -kv[1])[:8]
        return {"deployment_zip_mb": round(archive.stat().st_size / 2**20, 2),
                "largest_mb": {k: round(v / 2**20, 2) for k, v in largest}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    python = lambda_python()
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "environment": "virtualenv with requirements.txt + " + BOTO3 + " only",
               **fresh_processes(python, args.runs), "package": package_size()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    i, w, b = results["import_app"], results["process_wall"], results["bare_interpreter_wall"]
    print(f"import app: median {i['median_ms']} ms (min {i['min_ms']}, max {i['max_ms']}) over "
          f"{args.runs} fresh processes; process wall {w['median_ms']} ms, bare interpreter "
          f"{b['median_ms']} ms; heavy modules loaded: {results['heavy_modules_loaded']}")
    print(f"chalice package: {results['package']}")
    print(f"wrote {out}")
    return 1 if {"numpy", "PIL"} & set(results["heavy_modules_loaded"]) else 0


if __name__ == "__main__":
    sys.exit(main())
