"""`make dev`: the local stack in the foreground, seeded with the demo task.

Ports come from API_PORT, SITE_PORT, MOTO_PORT (8000, 8080, 5000), the snapshot folder
from LOCAL_DATA_DIR (.local-data). Ctrl-C or SIGTERM stops every process it started;
moto writes its final snapshot on the way out.
"""
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack import demo  # noqa: E402
from devstack.stack import ROOT, LocalStack  # noqa: E402


def banner(stack, data_dir):
    annotator = stack.annotator_token()
    return "\n".join([
        "",
        "Local stack is up (Ctrl-C to stop; state is kept in %s)" % data_dir,
        f"  API        {stack.api_url}",
        f"  Site       {stack.site_url}/",
        f"  Annotate   {stack.site_url}/?task={demo.TASK_ID}#token={annotator}",
        f"  moto       {stack.moto_url}  (counters: {stack.moto_url}/_devstack/stats)",
        "",
        f"  Admin token      {stack.admin_token()}",
        f"  Annotator token  {annotator}",
        "",
    ])


def main():
    ports = {name: int(os.environ.get(var, default)) for name, var, default in (
        ("moto_port", "MOTO_PORT", 5000), ("api_port", "API_PORT", 8000),
        ("site_port", "SITE_PORT", 8080))}
    data_dir = Path(os.environ.get("LOCAL_DATA_DIR", ROOT / ".local-data")).resolve()

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    with LocalStack().start(data_dir=data_dir, **ports) as stack:
        print("demo task:", "seeded" if demo.seed(stack) else "already there", flush=True)
        print(banner(stack, data_dir), flush=True)
        stop.wait()
        print("stopping (final snapshot)...", flush=True)
    print("stopped.", flush=True)


if __name__ == "__main__":
    main()
