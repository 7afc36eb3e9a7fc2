"""moto (S3 + DynamoDB) as its own process on 127.0.0.1, optionally persisted to a folder.

    python -m devstack.moto_server --port 5000 [--data-dir .local-data] [--unpatched-moto]

moto runs with devstack.moto_patches applied (transactions and queries that cost what they
touch, not what is stored); --unpatched-moto runs it as released, for comparisons.

With --data-dir: the folder's snapshot is restored before /_devstack/health says ok,
a snapshot is taken every few seconds while something changed, and a last one on
SIGTERM/SIGINT after user requests have been turned away.
"""
import argparse
import logging
import signal
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from . import moto_patches, snapshot
from .wire import DevstackMiddleware

log = logging.getLogger("devstack.moto")
SNAPSHOT_INTERVAL = 3.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", help="restore from and snapshot to this folder")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--unpatched-moto", action="store_true",
                        help="moto as released, without devstack.moto_patches")
    return parser.parse_args(argv)


class Snapshotter(threading.Thread):
    """Saves the state whenever the middleware saw a write since the last save."""

    def __init__(self, middleware, endpoint_url, region, data_dir, track_tables):
        super().__init__(name="snapshotter", daemon=True)
        # With moto_patches applied, only the tables written since the last save are dumped.
        self.track_tables = track_tables
        self.middleware, self.endpoint_url = middleware, endpoint_url
        self.region, self.data_dir = region, data_dir
        self.stopping = threading.Event()
        self.save_lock = threading.Lock()

    def run(self):
        while not self.stopping.wait(SNAPSHOT_INTERVAL):
            if self.middleware.dirty.is_set():
                self.save()

    def save(self):
        """True when the snapshot was written."""
        with self.save_lock:
            # Cleared before reading, so a write landing mid-snapshot triggers another one.
            self.middleware.dirty.clear()
            changed = moto_patches.take_written_tables() if self.track_tables else None
            try:
                snapshot.save(self.endpoint_url, self.region, self.data_dir, changed)
                return True
            except Exception:
                self.middleware.dirty.set()
                if changed:
                    moto_patches.WRITTEN_TABLES.update(changed)
                log.exception("snapshot failed; will retry")
                return False


def serve(args):
    if not args.unpatched_moto:
        moto_patches.apply()
    middleware = DevstackMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, middleware, threaded=True,
                         request_handler=MotoRequestHandler)
    endpoint_url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    snapshotter = None
    if args.data_dir:
        manifest = snapshot.restore(endpoint_url, args.region, args.data_dir)
        log.info("restored %d tables, %d buckets from %s", len(manifest["tables"]),
                 len(manifest["buckets"]), args.data_dir)
        snapshotter = Snapshotter(middleware, endpoint_url, args.region, args.data_dir,
                                  track_tables=not args.unpatched_moto)
        snapshotter.start()
    middleware.ready.set()
    log.info("moto listening on %s", endpoint_url)

    stop.wait()
    middleware.draining.set()
    if snapshotter:
        snapshotter.stopping.set()
        with snapshotter.save_lock:  # let a periodic save in progress finish first
            pending = middleware.dirty.is_set()
        if pending and snapshotter.save():
            log.info("final snapshot written to %s", args.data_dir)
    server.shutdown()


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    serve(parse_args(argv))


if __name__ == "__main__":
    main()
