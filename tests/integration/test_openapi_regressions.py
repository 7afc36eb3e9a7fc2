"""Inputs the schemathesis run (test_openapi_fuzz.py) found answered outside the description,
kept as regular tests: each must get the 4xx envelope the description documents."""
import base64
import json

import pytest
from client import admin, make_task

@pytest.fixture(scope="module")
def task(stack):
    return make_task(stack, "regress-cursor", 3)


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("decoded", [
    123,                                         # the issue's own example
    [1, 2],                                      # the issue's own example
    {"items": 439665136},                        # found by the fuzz run: a dict of the wrong shape
    [None, [30628021, {}], -17212],              # found by the fuzz run (shrunk by hand)
], ids=["int", "list", "dict", "nested"])
def test_a_tampered_samples_cursor_is_a_400_not_a_retry(stack, task, decoded):
    resp = admin(stack).call("GET", f"/tasks/{task}/samples",
                             params={"cursor": _cursor(decoded)}, attempts=1)
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert resp.json()["error"]["code"] == "invalid_cursor"
