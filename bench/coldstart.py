"""Cold start: what `import app` costs a fresh Lambda, and how big the deployment package is.

    make bench                      # or: .venv/bin/python bench/coldstart.py [--runs 10]

Builds (once per requirements.txt, in bench/.lambda-venv) a virtualenv holding only
requirements.txt plus boto3, as the Lambda runtime provides it, and chalice's runtime module:
none of the dev tools (moto
brings cryptography, which PyJWT would otherwise import). Then, in that environment, from
the project root as Lambda's task root, with the deployed stage's settings:
- `import app`, timed inside each of `--runs` fresh processes (median, min, max), and the
  same processes' wall time next to a bare interpreter's;
- which heavy modules that import leaves loaded (numpy, PIL must not be among them);
- the zipped size of `chalice package` (the API function's deployment.zip, dependencies
  included), as chalice makes it and as infra/deploy.py uploads it (without the botocore the
  runtime has), and of the worker functions' layer (requirements-worker.txt: numpy, Pillow).

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
sys.path.insert(0, str(ROOT))
from infra import deploy  # noqa: E402  (the deploy's own packaging steps, measured)

RESULTS = ROOT / "bench" / "results" / "coldstart.json"
LAMBDA_VENV = ROOT / "bench" / ".lambda-venv"
BOTO3 = "boto3==1.44.*"  # what requirements-dev.txt pins; the runtime ships its own
# `chalice package` puts chalice's runtime module (chalice/app.py) into the deployment; its
# command-line dependencies are not deployed, hence --no-deps.
CHALICE = "chalice==1.34.0"
# Settings a deployed stage gives the function (values are irrelevant to import cost).
STAGE_ENV = {"TABLE_PREFIX": "cloud-annotator-prod-", "DATA_BUCKET": "cold-start-bench",
             "AWS_DEFAULT_REGION": "us-east-1", "JWT_SECRET": "cold-start-bench-secret-32-bytes-long"}
PACKAGE_TIMEOUT = 1200  # seconds; chalice may build wheels it cannot download
PROBE = """
import sys, time, json
t0, c0 = time.perf_counter(), time.process_time()
import app
took, cpu = time.perf_counter() - t0, time.process_time() - c0
heavy = sorted(m for m in ("numpy", "PIL", "cryptography", "boto3", "s3transfer", "pydantic")
               if m in sys.modules)
print(json.dumps({"import_s": took, "cpu_s": cpu, "modules": len(sys.modules), "heavy_loaded": heavy}))
"""


def lambda_python():
    """The Lambda-like virtualenv's interpreter, (re)built when requirements.txt changed."""
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes()
                            + (BOTO3 + CHALICE).encode()).hexdigest()
    stamp = LAMBDA_VENV / ".requirements-sha256"
    python = LAMBDA_VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(LAMBDA_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(LAMBDA_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r",
                        str(ROOT / "requirements.txt"), BOTO3], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", CHALICE],
                       check=True)
        stamp.write_text(wanted)
    return python


def fresh_processes(python, runs):
    env = {"PATH": os.environ.get("PATH", ""), **STAGE_ENV, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run([str(python), "-c", PROBE], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # byte-compiles once, as the deployed package is
    imports, cpus, walls, bare = [], [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([str(python), "-c", PROBE], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True).stdout
        walls.append(time.perf_counter() - t0)
        probe = json.loads(out)
        imports.append(probe["import_s"])
        cpus.append(probe["cpu_s"])
        t0 = time.perf_counter()
        subprocess.run([str(python), "-c", "pass"], cwd=ROOT, env=env, check=True)
        bare.append(time.perf_counter() - t0)
    ms = lambda xs: {"median_ms": round(1000 * statistics.median(xs), 1),  # noqa: E731
                     "min_ms": round(1000 * min(xs), 1), "max_ms": round(1000 * max(xs), 1)}
    return {"runs": runs, "import_app": ms(imports), "import_app_cpu": ms(cpus),
            "load_average": os.getloadavg(), "process_wall": ms(walls),
            "bare_interpreter_wall": ms(bare), "modules_loaded": probe["modules"],
            "heavy_modules_loaded": probe["heavy_loaded"]}


def package_size():
    """`chalice package` into a temp dir; the zipped deployment and what is largest in it."""
    chalice = Path(sys.executable).with_name("chalice")
    with tempfile.TemporaryDirectory(prefix="coldstart-package-") as out:
        try:
            done = subprocess.run([str(chalice), "package", "--stage", "prod", out], cwd=ROOT,
                                  capture_output=True, text=True, timeout=PACKAGE_TIMEOUT,
                                  env={**os.environ, "AWS_DEFAULT_REGION": STAGE_ENV["AWS_DEFAULT_REGION"]})
        except subprocess.TimeoutExpired:
            return {"error": f"chalice package took over {PACKAGE_TIMEOUT} s"}
        if done.returncode != 0:
            return {"error": (done.stderr or done.stdout).strip()[-800:]}
        archive = Path(out) / "deployment.zip"
        packaged = archive.stat().st_size
        deploy.strip_runtime_libraries(archive)  # what `make deploy` uploads
        tops = {}
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                top = info.filename.split("/")[0]
                tops[top] = tops.get(top, 0) + info.compress_size
        largest = sorted(tops.items(), key=lambda kv: -kv[1])[:8]
        layer = deploy.worker_layer_zip(Path(out) / "layers")
        return {"chalice_package_zip_mb": round(packaged / 2**20, 2),
                "deployment_zip_mb": round(archive.stat().st_size / 2**20, 2),
                "image_libraries_in_api_package": sorted(
                    t for t in tops if t.split("-")[0].lower() in ("numpy", "pil", "pillow")),
                "requirements_not_included": _missing(tops),
                "largest_mb": {k: round(v / 2**20, 2) for k, v in largest},
                "worker_layer_zip_mb": round(layer.stat().st_size / 2**20, 2)}


def _missing(names_in_zip):
    """Requirements with no .dist-info in the package: chalice leaves out what it can neither
    download for Lambda nor build here (and reuses its cached zip without saying so again)."""
    dists = {n.split("-")[0].lower().replace("_", "-") for n in names_in_zip if n.endswith(".dist-info")}
    wanted = [line.split("==")[0].split("[")[0].strip() for line in
              (ROOT / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#")]
    return [name for name in wanted if name.lower().replace("_", "-") not in dists]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    python = lambda_python()
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "environment": f"virtualenv with requirements.txt + {BOTO3} + {CHALICE} (no deps) only",
               **fresh_processes(python, args.runs), "package": package_size()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    i, w, b = results["import_app"], results["process_wall"], results["bare_interpreter_wall"]
    print(f"import app: median {i['median_ms']} ms (min {i['min_ms']}, max {i['max_ms']}) over "
          f"{args.runs} fresh processes, CPU {results['import_app_cpu']['median_ms']} ms "
          f"(load average {results['load_average'][0]:.1f}); process wall {w['median_ms']} ms, bare interpreter "
          f"{b['median_ms']} ms; heavy modules loaded: {results['heavy_modules_loaded']}")
    print(f"chalice package: {results['package']}")
    print(f"wrote {out}")
    heavy = {"numpy", "PIL"} & set(results["heavy_modules_loaded"])
    return 1 if heavy or results["package"].get("image_libraries_in_api_package") else 0


if __name__ == "__main__":
    sys.exit(main())
