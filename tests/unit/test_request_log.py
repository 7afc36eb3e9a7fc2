"""Structured logs: one access line per request with who, which task and what answer; the
request's identity on other lines too; never a token or a body."""
import io
import json
import logging

import pytest

from chalicelib import request_log


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(request_log.RequestContext())
    handler.setFormatter(request_log.JsonFormatter())
    logger = logging.getLogger(request_log.APP_LOGGER)
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_access_lines_name_the_request_user_and_task_and_nothing_secret(api, lines):
    api.make_task("logged", n_samples=1)
    claimed = api.ok("POST", "/tasks/logged/claim", user="ann-1")
    api.submit("logged", "ann-1", claimed)
    api.call("GET", "/tasks/logged", user=None, token="not-a-token")
    api.ok("GET", "/health")
    access = [line for line in lines() if line["message"] == "request"]
    by_route = {(a["method"], a["route"], a["user"]): a for a in access}
    claim = by_route[("POST", "/tasks/{task_id}/claim", "ann-1")]
    assert (claim["task"], claim["status"], claim["level"]) == ("logged", 200, "INFO")
    assert isinstance(claim["ms"], int) and claim["request_id"]
    refused = by_route[("GET", "/tasks/{task_id}", None)]  # no verified user: none named
    assert (refused["status"], refused["task"]) == (401, "logged")
    assert by_route[("GET", "/health", None)]["task"] is None
    assert len({a["request_id"] for a in access}) == len(access)
    text = json.dumps(lines())
    assert "Bearer" not in text and "eyJ" not in text and "coordinates" not in text


def test_context_is_gone_after_the_request(api, lines):
    api.ok("GET", "/tasks", user="someone")
    logging.getLogger(request_log.APP_LOGGER).error("between requests")
    last = lines()[-1]
    assert (last["message"], last["user"], last["request_id"]) == ("between requests", None, None)


def test_retryable_backend_failures_are_logged_with_the_request(api, lines, monkeypatch):
    from botocore.exceptions import ClientError
    from chalicelib import progress

    def throttled(task, **_):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "Query")
    api.make_task("busy", n_samples=0)
    monkeypatch.setattr(progress, "full", throttled)
    assert api.call("GET", "/tasks/busy/progress")[0] == 503
    warning, = [x for x in lines() if x["level"] == "WARNING"]
    assert "ThrottlingException" in warning["message"]
    assert (warning["user"], warning["task"], warning["logger"]) == ("admin", "busy", "cloud-annotator.http")
