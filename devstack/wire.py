"""WSGI middleware in front of moto's app: one lock, a dirty flag, request counters.

moto says it is not safe under concurrent requests, and the annotator loop is exactly
a race (many claims at once), so every request runs alone. The counters are taken at
the wire because that is what a real DynamoDB/S3 bill is made of: the benchmark reads
them to show what each API call costs.
"""
import json
import threading
import time
from collections import defaultdict

# Everything else is treated as a write, so an operation we did not think of errs on
# the side of one snapshot too many rather than one too few.
DYNAMODB_READ_ONLY = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems",
    "DescribeTable", "ListTables", "DescribeTimeToLive", "ListTagsOfResource",
    "DescribeEndpoints", "DescribeLimits", "DescribeContinuousBackups",
})
S3_WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})

# Requests from our own snapshot client carry this in their User-Agent: they are
# neither user traffic to count nor changes to save.
INTERNAL_AGENT = "devstack-snapshot"
ROUTE_PREFIX = "/_devstack/"


def dynamodb_operation(environ):
    """'DynamoDB_20120810.PutItem' -> 'PutItem'; None for a non-DynamoDB request."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if not target.startswith("DynamoDB_"):
        return None
    return target.rpartition(".")[2]


def items_in_response(body):
    """(returned, scanned) item counts of a DynamoDB JSON response body."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return 0, 0
    if "Count" in doc:
        returned = doc["Count"]
    elif "Item" in doc:
        returned = 1
    elif isinstance(doc.get("Items"), list):
        returned = len(doc["Items"])
    elif isinstance(doc.get("Responses"), dict):  # BatchGetItem: {table: [items]}
        returned = sum(len(items) for items in doc["Responses"].values())
    elif isinstance(doc.get("Responses"), list):  # TransactGetItems: [{"Item": ...}]
        returned = sum(1 for entry in doc["Responses"] if entry.get("Item"))
    else:
        returned = 0
    # A Query/Scan pays for what it scanned, not for what its filter let through.
    return returned, doc.get("ScannedCount", returned)


class Stats:
    """Thread-safe counters, reset by the benchmark between phases."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._since = time.time()
            self._dynamodb = defaultdict(lambda: {"requests": 0, "errors": 0,
                                                  "items_returned": 0, "items_read": 0})
            self._s3 = defaultdict(lambda: {"requests": 0, "errors": 0})

    def record_dynamodb(self, operation, status, body):
        returned, read = items_in_response(body)
        with self._lock:
            entry = self._dynamodb[operation]
            entry["requests"] += 1
            entry["errors"] += status >= 400
            entry["items_returned"] += returned
            entry["items_read"] += read

    def record_s3(self, method, status):
        with self._lock:
            entry = self._s3[method]
            entry["requests"] += 1
            entry["errors"] += status >= 400

    def as_dict(self):
        with self._lock:
            return {"since": self._since, "seconds": time.time() - self._since,
                    "dynamodb": {k: dict(v) for k, v in self._dynamodb.items()},
                    "s3": {k: dict(v) for k, v in self._s3.items()}}


def keep_form_body(environ):
    """S3 stores a PUT's bytes whatever its Content-Type; moto parses a form-urlencoded one
    as a form and stores an empty object. The original ImJoy annotator's axios PUT is one."""
    if environ["REQUEST_METHOD"] == "PUT" and \
            environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        environ["CONTENT_TYPE"] = "application/octet-stream"


class DevstackMiddleware:
    """Serialises moto, tracks whether its state changed, counts, and serves /_devstack/."""

    def __init__(self, app):
        self.app = app
        self.stats = Stats()
        self.dirty = threading.Event()
        # Health answers 503 until a restore finished, and user requests get 503 once
        # shutdown began, so nothing is written after the final snapshot.
        self.ready = threading.Event()
        self.draining = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(ROUTE_PREFIX):
            return self._own_route(environ, start_response, path[len(ROUTE_PREFIX):])
        internal = INTERNAL_AGENT in environ.get("HTTP_USER_AGENT", "")
        if self.draining.is_set() and not internal:
            return _json(start_response, "503 Service Unavailable", {"status": "stopping"})
        operation = dynamodb_operation(environ)
        method = environ["REQUEST_METHOD"]
        keep_form_body(environ)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        with self._lock:
            result = self.app(environ, capture)
            try:
                # moto may build the body lazily: reading it must happen under the lock too.
                body = b"".join(result)
            finally:
                getattr(result, "close", lambda: None)()
        # SQS (the export queue) is not snapshotted and not part of what the benchmarks count.
        if not internal and not environ.get("HTTP_X_AMZ_TARGET", "").startswith("AmazonSQS."):
            self._observe(operation, method, captured.get("status", 500), body)
        return [body]

    def _observe(self, operation, method, status, body):
        if operation is not None:
            self.stats.record_dynamodb(operation, status, body)
            if operation not in DYNAMODB_READ_ONLY:
                self.dirty.set()
        else:
            self.stats.record_s3(method, status)
            if method in S3_WRITE_METHODS:
                self.dirty.set()

    def _own_route(self, environ, start_response, route):
        method = environ["REQUEST_METHOD"]
        if route == "health" and method == "GET":
            if self.draining.is_set():
                return _json(start_response, "503 Service Unavailable", {"status": "stopping"})
            if not self.ready.is_set():
                return _json(start_response, "503 Service Unavailable", {"status": "restoring"})
            return _json(start_response, "200 OK", {"status": "ok"})
        if route == "stats" and method == "GET":
            return _json(start_response, "200 OK", self.stats.as_dict())
        if route == "stats/reset" and method == "POST":
            self.stats.reset()
            return _json(start_response, "200 OK", {"status": "reset"})
        return _json(start_response, "404 Not Found", {"error": "unknown devstack route"})


def _json(start_response, status, doc):
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]
