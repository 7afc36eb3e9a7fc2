"""The one retry rule of the Python callers (annotator_cli.client.Http: CLI, tests, benches)
against a real local HTTP server: what is repeated, after how long, and what is not."""
import json

import pytest

from annotator_cli import client as client_module
from annotator_cli.client import ApiError, Client, Http
from tests.local_server import LocalServer, scripted


def _answer(status, retry_after):
    body = {"error": {"code": "busy", "message": "Try again."}} if status >= 400 else {"ok": True}
    headers = {"Content-Type": "application/json",
               **({"Retry-After": str(retry_after)} if retry_after is not None else {})}
    return status, headers, json.dumps(body).encode()


@pytest.fixture
def slept(monkeypatch):
    """The pauses the client takes, recorded instead of slept."""
    pauses = []
    monkeypatch.setattr(client_module.time, "sleep", pauses.append)
    return pauses


@pytest.fixture
def serve():
    servers = []

    def start(*answers):
        """A server answering (status, Retry-After) after (status, Retry-After), the last repeating."""
        servers.append(LocalServer(scripted([_answer(*a) for a in answers])))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def test_busy_and_rate_limited_answers_are_repeated_after_retry_after(serve, slept):
    server = serve((503, 7), (429, 2), (200, None))
    http = Http(server.url, "t")
    assert http.call("GET", "/x").status_code == 200
    assert len(server.requests) == 3 and http.retried == 2
    # Never sooner than the server asked; spread by at most half again.
    assert 7 <= slept[0] <= 10.5 and 2 <= slept[1] <= 3


def test_max_wait_caps_the_pause_and_the_last_answer_comes_back_as_it_came(serve, slept):
    server = serve((503, 30))
    answer = Http(server.url, "t", attempts=4, max_wait=0.2).call("GET", "/x")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert len(server.requests) == 4 and len(slept) == 3 and max(slept) <= 0.3


def test_only_the_named_statuses_and_never_a_caller_mistake_are_repeated(serve, slept):
    limited = serve((429, 1), (200, None))
    assert Http(limited.url, "t", statuses=(503,)).call("GET", "/x").status_code == 429
    refused = serve((400, None), (200, None))
    assert Http(refused.url, "t").call("GET", "/x").status_code == 400
    assert len(limited.requests) == len(refused.requests) == 1 and slept == []


def test_one_attempt_for_one_call_sends_it_once(serve, slept):
    server = serve((503, 1), (200, None))
    http = Http(server.url, "t", attempts=20)
    assert http.call("GET", "/x", attempts=1, timeout=30).status_code == 503
    assert len(server.requests) == 1 and slept == []
    assert http.call("GET", "/x").status_code == 200  # the instance's rule again


def test_the_client_decodes_the_envelope_after_the_retries(serve, slept):
    server = serve((503, 1))
    with pytest.raises(ApiError) as err:
        Client(server.url, "t", attempts=2).request("GET", "/x")
    assert (err.value.status, err.value.code, err.value.message) == (503, "busy", "Try again.")
    assert Client(serve((200, None)).url, "t").request("GET", "/x") == {"ok": True}


def test_nobody_listening_is_unreachable_after_the_attempts(serve, slept):
    server = serve((200, None))
    url = server.url
    server.close()
    with pytest.raises(ApiError) as err:
        Http(url, "t", attempts=3).call("GET", "/x")
    assert err.value.code == "unreachable" and url in err.value.message and len(slept) == 2
