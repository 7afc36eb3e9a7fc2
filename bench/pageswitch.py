"""Enter -> next image painted, in the annotator page on the local stack (issue 13).

    .venv/bin/python bench/pageswitch.py [--runs 3]

Runs the browser test that measures it (tests/browser/test_next_without_waiting.py: headless
Chromium, moto + chalice local started by the test fixtures, 20 images per run, the next image
reserved and decoded while the current one is annotated) and keeps what it prints: median and
max of key press -> the map's rendercomplete, and of the part spent waiting for the server.
Writes bench/results/pageswitch.json and prints a summary. Needs `make frontend chromium`.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "pageswitch.json"
TEST = "tests/browser/test_next_without_waiting.py::test_enter_to_next_image_painted"
PRINTED = re.compile(r"over (\d+) images: median (\d+) ms, max (\d+) ms; of which waiting for the "
                     r"server's answer: median (\d+) ms, max (\d+) ms")


def one_run() -> dict:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST],
                          cwd=ROOT, capture_output=True, text=True)
    found = PRINTED.search(done.stdout)
    if done.returncode or not found:
        sys.exit(f"{TEST} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    images, median, worst, wait_median, wait_max = map(int, found.groups())
    return {"images": images, "painted_median_ms": median, "painted_max_ms": worst,
            "answer_wait_median_ms": wait_median, "answer_wait_max_ms": wait_max}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="test runs (20 images each)")
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "load_average_1min": round(os.getloadavg()[0], 1), "test": TEST, "runs": runs,
               "painted_median_ms": statistics.median(r["painted_median_ms"] for r in runs),
               "painted_max_ms": max(r["painted_max_ms"] for r in runs)}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Enter -> next image painted, {args.runs} x {runs[0]['images']} images: median of medians "
          f"{results['painted_median_ms']} ms, max {results['painted_max_ms']} ms "
          f"(load average {results['load_average_1min']}) -> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
