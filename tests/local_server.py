"""An HTTP server on 127.0.0.1 (a free port) in a thread, for tests of clients: a function of the
request decides every answer, and the requests are kept for the test to read."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    """`answer(method, path, body) -> (status, headers dict, body bytes)`; `requests` lists
    (method, path, body) in the order they came."""

    def __init__(self, answer):
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((self.command, self.path, body))
                status, headers, payload = answer(self.command, self.path, body)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def scripted(answers):
    """An `answer` giving the next of `answers` to each request, the last one repeating."""
    queue = list(answers)
    return lambda method, path, body: queue.pop(0) if len(queue) > 1 else queue[0]
