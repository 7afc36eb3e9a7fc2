"""The CLI's presigned PUT (annotator_cli.upload._put) against a real local HTTP server: a 4xx
fails at once, a 5xx is retried up to PUT_ATTEMPTS times, and the bytes of failed attempts are
taken back from the progress bar."""
import pytest
import requests

from annotator_cli import upload
from annotator_cli.client import ApiError
from tests.local_server import LocalServer, scripted


@pytest.fixture
def put(tmp_path, monkeypatch):
    monkeypatch.setattr(upload.time, "sleep", lambda seconds: None)  # the back-off, not the HTTP
    path = tmp_path / "a.png"
    path.write_bytes(b"x" * 1000)
    servers, sent = [], []

    def run(statuses):
        """(the size _put returned or the ApiError it raised, the server, net bytes reported)"""
        server = LocalServer(scripted([(status, {}, b"") for status in statuses]))
        servers.append(server)
        progress = upload.Progress(bytes_sent=sent.append)
        with requests.Session() as http:
            try:
                outcome = upload._put(http, {"url": server.url + "/k", "headers": {}}, path, progress)
            except ApiError as err:
                outcome = err
        return outcome, server, sum(sent)
    yield run
    for server in servers:
        server.close()


def test_a_refused_put_fails_at_once_and_takes_its_bytes_back(put):
    err, server, sent = put([403, 200])
    assert isinstance(err, ApiError) and err.code == "upload_failed" and "HTTP 403" in err.message
    assert len(server.requests) == 1 and sent == 0


def test_a_server_error_is_retried_then_the_upload_lands(put):
    size, server, sent = put([503, 500, 200])
    assert size == 1000 and len(server.requests) == 3 and server.requests[-1][2] == b"x" * 1000
    assert sent == 1000  # the two failed attempts were taken back


def test_server_errors_on_every_attempt_fail_after_the_last(put):
    err, server, sent = put([503])
    assert isinstance(err, ApiError) and err.code == "upload_failed" and "HTTP 503" in err.message
    assert len(server.requests) == upload.PUT_ATTEMPTS and sent == 0
