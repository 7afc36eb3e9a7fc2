"""Static sites the browser tests serve from this process: the built annotator and a stand-in Kaibu.

The annotator's config.json is answered here (pointing at the stack's API) rather than written into
frontend/dist, so tests never modify the build and can point single pages elsewhere with page.route.
"""
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, config=None, **kwargs):
        self.config = config
        super().__init__(*args, **kwargs)

    def do_GET(self):
        if self.config is not None and self.path.split("?")[0].endswith("/config.json"):
            body = json.dumps(self.config()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):  # keep pytest output for failures
        pass


class StaticSite:
    """Serves `directory` on 127.0.0.1 (free port); `config` is a callable returning config.json."""

    def __init__(self, directory: Path, config=None):
        handler = functools.partial(_Handler, directory=str(directory), config=config)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
