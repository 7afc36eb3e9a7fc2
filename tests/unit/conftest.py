"""Unit tests: the Chalice app in-process (chalice.test.Client) on moto's in-process mock.

The unit environment is set before chalicelib is imported, and again before each test
(`unit_settings`).
"""
import os

UNIT_ENV = dict(TABLE_PREFIX="unit-", DATA_BUCKET="unit-data", AWS_DEFAULT_REGION="us-east-1",
                AWS_ACCESS_KEY_ID="unit", AWS_SECRET_ACCESS_KEY="unit",
                JWT_SECRET="unit-test-secret-at-least-32-bytes-long")
os.environ.update(UNIT_ENV)
os.environ.pop("AWS_ENDPOINT_URL", None)

import json  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib import bootstrap, clock, config, leases, models, storage  # noqa: E402
from chalicelib.auth import mint_token  # noqa: E402
from tests.shapes import polygon  # noqa: E402,F401 -- re-exported for the tests here


class Api:
    """A thin JSON client over chalice.test.Client with per-user tokens."""

    def __init__(self, client):
        self.client = client

    def call(self, method, path, user="admin", body=None, raw=None, token=None, roles=None):
        if token is None and user is not None:
            token = mint_token(user, roles=roles if roles is not None else
                               (["admin"] if user == "admin" else []))
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        resp = self.client.http.request(method, path, headers=headers, body=payload)
        data = json.loads(resp.body) if resp.body else None
        return resp.status_code, data

    def ok(self, method, path, expect=200, **kw):
        status, data = self.call(method, path, **kw)
        assert status == expect, (status, data)
        return data

    # conveniences for the annotator loop
    def make_task(self, task_id="t1", n_samples=3, **fields):
        self.ok("POST", "/tasks", 201, body={"id": task_id, "name": task_id, **fields})
        if n_samples:
            self.ok("POST", f"/tasks/{task_id}/samples", 201, body={"samples": [
                {"id": f"s{i:03d}", "files": {"image.png": f"uploads/{task_id}/s{i:03d}/image.png"}}
                for i in range(n_samples)]})
        return task_id

    def claim(self, task_id, user):
        return self.call("POST", f"/tasks/{task_id}/claim", user=user)

    def submit(self, task_id, user, claimed, annotation=None, submission_id=None):
        sid = claimed["sample"]["id"]
        return self.call("POST", f"/tasks/{task_id}/samples/{sid}/submit", user=user, body={
            "lease_id": claimed["lease"]["id"], "annotation": annotation or polygon(),
            "submission_id": submission_id or uuid.uuid4().hex})

    def progress(self, task_id):
        return self.ok("GET", f"/tasks/{task_id}/progress")



class Clock:
    """Moves the lease clock forward without sleeping."""

    def __init__(self, monkeypatch):
        import time
        self.offset = 0
        monkeypatch.setattr(clock, "now", lambda: int(time.time()) + self.offset)

    def advance(self, seconds):
        self.offset += seconds


@pytest.fixture(autouse=True)
def unit_settings(monkeypatch):
    """Each unit test starts from the unit environment, with settings and clients made from it:
    in a full run the suites before this one use chalicelib in-process under their own stacks'
    settings, and settings and clients are cached once made."""
    for name, value in UNIT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config.reload()
    storage._clients.clear()
    monkeypatch.setattr(models, "_connection", None)
    for model in models.ALL_MODELS:
        monkeypatch.setattr(model, "_connection", None, raising=False)
    monkeypatch.setattr(leases, "_races", leases._Races())  # races another test lost


@pytest.fixture
def aws():
    with mock_aws():
        bootstrap.main()
        yield


@pytest.fixture
def api(aws):
    from app import app
    with Client(app) as client:
        yield Api(client)


@pytest.fixture
def time_travel(monkeypatch):
    return Clock(monkeypatch)
