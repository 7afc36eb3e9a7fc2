"""Fault injection on the claim and submit paths.

Every DynamoDB and S3 call made while serving one request fails in turn, in four ways:
throttled, a 500, a connection reset (all before the call reaches the backend), and a
timeout after the call landed. The caller must see 503 with Retry-After (never a 500, never a
wrong success), and repeating the same request must converge: no lost annotation, no double
count, no sample stuck leased or unavailable.
"""
import uuid

import botocore.client
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from conftest import polygon

from chalicelib import reconcile


def throttled(op):
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, op)


def server_error(op):
    return ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"},
                        "ResponseMetadata": {"HTTPStatusCode": 500}}, op)


def reset(op):
    return ConnectionClosedError(endpoint_url="http://backend")


FAULTS = {"throttled": (throttled, False), "500": (server_error, False),
          "reset": (reset, False), "timeout_after_write": (None, True)}


class Injector:
    """Fails the k-th AWS call (counted from arming) once."""

    def __init__(self, monkeypatch):
        self.target, self.calls, self.fired, self.fault = None, 0, False, None
        real = botocore.client.BaseClient._make_api_call

        def call(client, op, params):
            self.calls += 1
            if self.target is not None and self.calls == self.target and not self.fired:
                self.fired = True
                make, after = self.fault
                if after:
                    real(client, op, params)
                    raise ReadTimeoutError(endpoint_url="http://backend")
                raise make(op)
            return real(client, op, params)
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)

    def arm(self, k, fault):
        self.target, self.calls, self.fired, self.fault = k, 0, False, FAULTS[fault]

    def disarm(self):
        self.target = None


@pytest.fixture
def inject(monkeypatch, aws):
    return Injector(monkeypatch)


def _expect_503_or_ok(status, data, fired):
    if fired:
        assert status == 503, (status, data)
        assert data["error"]["code"] in ("unavailable",)
    else:
        assert status == 200, (status, data)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_submit_converges_after_any_single_fault(api, inject, fault):
    k = 1
    while True:
        task = f"t{k}"
        api.make_task(task, n_samples=2)
        _, c = api.claim(task, "alice")
        sid, sub_id = c["sample"]["id"], uuid.uuid4().hex
        inject.arm(k, fault)
        status, data = api.submit(task, "alice", c, annotation=polygon(x=k), submission_id=sub_id)
        fired = inject.fired
        inject.disarm()
        assert status != 500
        _expect_503_or_ok(status, data, fired)
        status, data = api.submit(task, "alice", c, annotation=polygon(x=k), submission_id=sub_id)
        assert status == 200, (k, fault, data)
        versions = [v for v in api.ok("GET", f"/tasks/{task}/samples/{sid}")["versions"]
                    if v["kind"] == "submitted"]
        assert len(versions) == 1 and versions[0]["by"] == "alice"
        p = api.progress(task)
        assert (p["annotations"], p["completed"], p["in_progress"], p["available"]) == (1, 1, 0, 1)
        assert reconcile.drift(task) == {}
        # nothing stuck: the other sample is still handed out, the done one never again
        status, other = api.claim(task, "bob")
        assert status == 200 and other["sample"]["id"] != sid
        if not fired:
            break  # k went past the last call of the request
        k += 1
    assert k > 5  # the submit path really made several calls that each failed once


@pytest.mark.parametrize("fault", list(FAULTS))
def test_claim_converges_after_any_single_fault(api, inject, fault):
    k = 1
    while True:
        task = f"c{k}"
        api.make_task(task, n_samples=2)
        inject.arm(k, fault)
        status, data = api.claim(task, "alice")
        fired = inject.fired
        inject.disarm()
        assert status != 500
        _expect_503_or_ok(status, data, fired)
        status, first = api.claim(task, "alice")
        assert status == 200
        status, again = api.claim(task, "alice")
        assert again["lease"] == first["lease"]  # the retry holds exactly one lease
        p = api.progress(task)
        assert (p["in_progress"], p["available"]) == (1, 1)
        status, other = api.claim(task, "bob")
        assert status == 200 and other["sample"]["id"] != first["sample"]["id"]
        assert api.submit(task, "alice", first)[0] == 200
        if not fired:
            break
        k += 1
    assert k > 3
