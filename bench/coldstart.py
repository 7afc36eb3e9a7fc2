"""Cold start: what `import app` costs a fresh Lambda, and how big the deployment package is.

    make bench                      # or: .venv/bin/python bench/coldstart.py [--runs 10]

Makes the API function's zip exactly as `make deploy` uploads it (infra/deploy.py's `package`:
`chalice package --stage prod`, the runtime's botocore stripped, byte code added), unpacks it
into a temp folder as Lambda unpacks it into /var/task, and there, with a deployed stage's
settings and PYTHONDONTWRITEBYTECODE=1 (the task root is read-only: nothing compiled at a cold
start is kept), times `import app` inside `--runs` fresh processes of an interpreter that has
only boto3 besides the standard library (bench/.lambda-venv), as the Lambda runtime has it.
The same zip without its byte code (`__pycache__/`) is timed alongside, in alternating
processes, to show what the byte code saves. Also reports:
- which heavy modules `import app` leaves loaded (numpy, PIL must not be among them), and how
  many of the package's modules it had to compile from source (0 with the byte code);
- the zip's size with and without the byte code, and its largest parts;
- the zipped size of the worker functions' layer (requirements-worker.txt: numpy, Pillow),
  and `import numpy, PIL.Image` from it unpacked, with and without its byte code.

Writes bench/results/coldstart.json and prints a summary; exit status 1 if numpy or PIL is
imported or packaged, or if the uploaded zip left any module to compile.
"""
import argparse
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
BOTO3 = "boto3==1.44.*"  # what requirements-dev.txt pins; the runtime ships its own, precompiled
STAGE, REGION = "prod", "us-east-1"
# Settings a deployed stage gives the function (values are irrelevant to import cost).
STAGE_ENV = {"TABLE_PREFIX": "cloud-annotator-prod-", "DATA_BUCKET": "cold-start-bench",
             "AWS_DEFAULT_REGION": REGION, "JWT_SECRET": "cold-start-bench-secret-32-bytes-long"}
PROBE = """
import os, sys, time, json
t0, c0 = time.perf_counter(), time.process_time()
import app
took, cpu = time.perf_counter() - t0, time.process_time() - c0
heavy = sorted(m for m in ("numpy", "PIL", "cryptography", "boto3", "s3transfer", "pydantic")
               if m in sys.modules)
ours = [m for m in list(sys.modules.values())
        if (getattr(m, "__file__", None) or "").startswith(os.getcwd() + os.sep)
        and m.__file__.endswith(".py")]
from_source = sum(1 for m in ours if not os.path.exists(m.__cached__))
print(json.dumps({"import_s": took, "cpu_s": cpu, "modules": len(sys.modules),
                  "package_modules": len(ours), "compiled_from_source": from_source,
                  "heavy_loaded": heavy}))
"""
# What a worker function adds from its layer (Lambda puts the layer's python/ on sys.path).
LAYER_PROBE = """
import json, time
t0 = time.perf_counter()
import numpy, PIL.Image
print(json.dumps({"import_s": time.perf_counter() - t0}))
"""


def lambda_python():
    """An interpreter with only boto3 (and its dependencies) installed, as Lambda's runtime."""
    stamp, python = LAMBDA_VENV / ".installed", LAMBDA_VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == BOTO3):
        shutil.rmtree(LAMBDA_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(LAMBDA_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", BOTO3], check=True)
        stamp.write_text(BOTO3)
    return python


def uploaded_zip(scratch: Path) -> Path:
    """The API function's zip as `make deploy` makes it for the stage, in a scratch build."""
    build = scratch / "build"
    deploy.copy_runtime(build)
    (build / ".chalice").mkdir()
    shutil.copy2(ROOT / ".chalice" / "config.json", build / ".chalice")
    deploy.package(REGION, build, STAGE)
    archive, = (build / ".chalice" / "deployments").glob("*.zip")
    return archive


def without_bytecode(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for entry in source.infolist():
            if "__pycache__/" not in entry.filename:
                data = source.read(entry)
                out.writestr(entry, data)
    return target


def unpacked(archive: Path, folder: Path) -> Path:
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    return folder


def ms(xs):
    return {"median_ms": round(1000 * statistics.median(xs), 1),
            "min_ms": round(1000 * min(xs), 1), "max_ms": round(1000 * max(xs), 1)}


def fresh_processes(python, tasks: dict, runs: int) -> dict:
    """`import app` in `runs` fresh processes per task root, alternating, and a bare interpreter."""
    env = {"PATH": os.environ.get("PATH", ""), **STAGE_ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    probes, walls, bare = {k: [] for k in tasks}, {k: [] for k in tasks}, []
    for _ in range(runs):
        for name, task in tasks.items():
            t0 = time.perf_counter()
            out = subprocess.run([str(python), "-c", PROBE], cwd=task, env=env, check=True,
                                 capture_output=True, text=True).stdout
            walls[name].append(time.perf_counter() - t0)
            probes[name].append(json.loads(out))
        t0 = time.perf_counter()
        subprocess.run([str(python), "-c", "pass"], cwd=ROOT, env=env, check=True)
        bare.append(time.perf_counter() - t0)
    results = {name: {
        "import_app": ms([p["import_s"] for p in probes[name]]),
        "import_app_cpu": ms([p["cpu_s"] for p in probes[name]]),
        "process_wall": ms(walls[name]),
        "package_modules_imported": probes[name][-1]["package_modules"],
        "compiled_from_source": probes[name][-1]["compiled_from_source"]} for name in tasks}
    last = probes[next(iter(tasks))][-1]
    return {**results, "bare_interpreter_wall": ms(bare), "modules_loaded": last["modules"],
            "heavy_modules_loaded": last["heavy_loaded"], "load_after": os.getloadavg()}


def layer_imports(python, layers: dict, runs: int) -> dict:
    """`import numpy, PIL.Image` from each unpacked layer, in fresh processes, alternating."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    took = {name: [] for name in layers}
    for _ in range(runs):
        for name, layer in layers.items():
            out = subprocess.run([str(python), "-c", LAYER_PROBE], cwd=layer, check=True, text=True,
                                 env={**env, "PYTHONPATH": str(layer / "python")},
                                 capture_output=True).stdout
            took[name].append(json.loads(out)["import_s"])
    return {name: ms(xs) for name, xs in took.items()}


def package_report(archive: Path, source_only: Path, layer: Path) -> dict:
    tops = {}
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            top = info.filename.split("/")[0]
            tops[top] = tops.get(top, 0) + info.compress_size
    largest = sorted(tops.items(), key=lambda kv: -kv[1])[:8]
    return {"deployment_zip_mb": round(archive.stat().st_size / 2**20, 2),
            "deployment_zip_without_bytecode_mb": round(source_only.stat().st_size / 2**20, 2),
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
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        scratch = Path(scratch)
        archive = uploaded_zip(scratch)
        source_only = without_bytecode(archive, scratch / "source-only.zip")
        tasks = {"precompiled": unpacked(archive, scratch / "task"),
                 "source_only": unpacked(source_only, scratch / "task-source-only")}
        load_before = os.getloadavg()
        timed = fresh_processes(python, tasks, args.runs)
        layer = deploy.worker_layer_zip(scratch / "layers")  # after the timing: pip is busy
        layer_source_only = without_bytecode(layer, scratch / "layer-source-only.zip")
        layer_timed = layer_imports(python, {
            "precompiled": unpacked(layer, scratch / "opt"),
            "source_only": unpacked(layer_source_only, scratch / "opt-source-only")}, args.runs)
        results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "cpus": os.cpu_count(), "load_average": {"before": load_before,
                                                            "after": timed.pop("load_after")},
                   "environment": f"the uploaded zip unpacked, PYTHONDONTWRITEBYTECODE=1, "
                                  f"a virtualenv with only {BOTO3}",
                   "runs": args.runs, **timed, "worker_layer_import_numpy_pil": layer_timed,
                   "package": package_report(archive, source_only, layer)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for name in tasks:
        r = results[name]
        print(f"import app ({name}): median {r['import_app']['median_ms']} ms (min "
              f"{r['import_app']['min_ms']}, max {r['import_app']['max_ms']}), CPU "
              f"{r['import_app_cpu']['median_ms']} ms, process wall {r['process_wall']['median_ms']} ms; "
              f"{r['compiled_from_source']} of {r['package_modules_imported']} package modules "
              f"compiled from source")
    print(f"{args.runs} fresh processes each, load average {load_before[0]:.1f} -> "
          f"{results['load_average']['after'][0]:.1f}; bare interpreter "
          f"{results['bare_interpreter_wall']['median_ms']} ms; heavy modules loaded: "
          f"{results['heavy_modules_loaded']}")
    print("worker layer, import numpy, PIL.Image: " + ", ".join(
        f"{name} median {t['median_ms']} ms" for name, t in layer_timed.items()))
    print(f"package: {results['package']}")
    print(f"wrote {out}")
    heavy = {"numpy", "PIL"} & set(results["heavy_modules_loaded"])
    return 1 if (heavy or results["package"]["image_libraries_in_api_package"]
                 or results["precompiled"]["compiled_from_source"]) else 0


if __name__ == "__main__":
    sys.exit(main())
