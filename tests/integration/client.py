"""A small HTTP client for integration tests: one annotator or admin over real HTTP."""
import time
import uuid

from annotator_cli.client import Http
from tests.settings import HTTP_TIMEOUT
from tests.shapes import polygon  # noqa: F401 -- re-exported for the tests here


# How tests call the API: like a well-behaved client, the same request again on 503 after
# Retry-After (capped short: a test only wants the outcome); a 429 is an answer to look at.
RETRY = {"timeout": HTTP_TIMEOUT, "attempts": 20, "statuses": (503,), "max_wait": 0.2}


class User(Http):
    """One annotator or admin; answers come back as requests.Response."""

    def __init__(self, stack, token):
        super().__init__(stack.api_url, token, **RETRY)

    def claim(self, task):
        resp = self.call("POST", f"/tasks/{task}/claim")
        assert resp.status_code in (200, 204), resp.text
        return resp.json() if resp.status_code == 200 else None

    def on(self, task, claimed, action, method="POST", **body):
        sid = claimed["sample"]["id"]
        return self.call(method, f"/tasks/{task}/samples/{sid}/{action}",
                         json={"lease_id": claimed["lease"]["id"], **body})

    def submit(self, task, claimed, annotation=None, submission_id=None):
        return self.on(task, claimed, "submit", annotation=annotation or polygon(),
                       submission_id=submission_id or uuid.uuid4().hex)


def admin(stack):
    return User(stack, stack.tokens["admin"])


def annotator(stack, sub):
    return User(stack, stack.annotator_token(sub))


def make_task(stack, task_id, n_samples, **fields):
    a = admin(stack)
    resp = a.call("POST", "/tasks", json={"id": task_id, "name": task_id, **fields})
    assert resp.status_code == 201, resp.text
    for start in range(0, n_samples, 1000):
        batch = [{"id": f"s{i:05d}", "files": {"image.png": f"uploads/{task_id}/s{i:05d}/image.png"}}
                 for i in range(start, min(n_samples, start + 1000))]
        resp = a.call("POST", f"/tasks/{task_id}/samples", json={"samples": batch})
        assert resp.status_code == 201, resp.text
    return task_id


def finish_with_fresh_annotators(stack, task_id, n_samples, lease_seconds):
    """Submit what is left of a task as fresh annotators; returns (annotator, sample) pairs.

    Leases (and reservations) of closed tabs lapse by time alone; the deadline only bounds a
    hang (a lease that never lapses), never the machine's speed."""
    a, done = admin(stack), []
    deadline = time.time() + 3 * lease_seconds + HTTP_TIMEOUT
    while a.call("GET", f"/tasks/{task_id}/progress").json()["completed"] < n_samples:
        assert time.time() < deadline, "samples stuck leased or reserved"
        name = f"mop-{uuid.uuid4().hex[:6]}"
        mop = annotator(stack, name)
        claimed = mop.claim(task_id)
        if claimed is None:
            time.sleep(0.5)  # what is left is held by closed tabs: wait for the lapse
            continue
        assert mop.submit(task_id, claimed).status_code == 200
        done.append((name, claimed["sample"]["id"]))
    return done
