"""schemathesis runs the OpenAPI description (docs/openapi.json, which the first test proves is
what GET /openapi.json serves) against the local stack, as an admin and as an annotator: no
answer may be a 5xx, and every answer must be one the description lists (status, content type,
schema).

Bounded by MAX_EXAMPLES per operation and role (and deterministic, so a failure repeats), never
by time. Path ids are fixed to tasks, samples and an invite seeded here, so requests reach real
objects; a body's lease_id is swapped for a lease the caller holds, so the annotator loop answers
200s as well as 409s. Inputs it found stay as regular tests in test_openapi_regressions.py.
"""
import base64
import json
import os
import time

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from client import User, polygon
from schemathesis.checks import (content_type_conformance, not_a_server_error,
                                 response_schema_conformance, status_code_conformance)
from schemathesis.config import SchemathesisConfig

from chalicelib import openapi
from tests.settings import HTTP_TIMEOUT

# Per operation and role; FUZZ_EXAMPLES=100 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
N_SAMPLES = 40  # each successful submit finishes one
RETRIES_ON_503 = 5
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Each role works on its own task, so an admin's PATCH cannot lock the annotator out.
ROLES = {"admin": ("openapi-fuzz-admin", None),
         "annotator": ("openapi-fuzz-open", "fuzz-annotator")}


def _token(stack, role):
    sub = ROLES[role][1]
    return stack.tokens["admin"] if sub is None else stack.annotator_token(sub)


def _seed(stack, task_id):
    admin = User(stack, stack.tokens["admin"])
    resp = admin.call("POST", "/tasks", timeout=HTTP_TIMEOUT,
                      json={"id": task_id, "name": task_id, "sample_visibility": "public"})
    assert resp.status_code == 201, resp.text
    samples = [{"id": f"s{i:03d}", "files": {"image.png": f"uploads/{task_id}/s{i:03d}/image.png"},
                **({"annotation": polygon()} if i % 2 else {})} for i in range(N_SAMPLES)]
    resp = admin.call("POST", f"/tasks/{task_id}/samples", timeout=HTTP_TIMEOUT,
                      json={"samples": samples})
    assert resp.status_code == 201, resp.text
    resp = admin.call("POST", f"/tasks/{task_id}/invites", timeout=HTTP_TIMEOUT,
                      json={"emails": ["fuzz@example.org"]})
    assert resp.status_code == 201, resp.text
    return resp.json()["invites"][0]["id"]


@pytest.fixture(scope="module")
def invites(stack):
    return {role: _seed(stack, task_id) for role, (task_id, _) in ROLES.items()}


schema = schemathesis.openapi.from_path(openapi.DOC_PATH, config=SchemathesisConfig.from_dict({
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none",
                   "mode": "all"},
    "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": False}},
    "request-timeout": HTTP_TIMEOUT,
}))


# Cursors are opaque, but easy to tamper with: also send base64 of arbitrary JSON.
ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                        lambda inner: st.lists(inner, max_size=3) |
                        st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
TAMPERED_CURSOR = ANY_JSON.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode())


@schema.hook
def flatmap_query(context, query):
    if not query or "cursor" not in query:
        return st.just(query)
    return st.one_of(st.just(query), TAMPERED_CURSOR.map(lambda c: {**query, "cursor": c}))


def _hold_lease(user, case):
    """Claim (or get back) the caller's lease and point the case at it."""
    resp = user.call("POST", f"/tasks/{case.path_parameters['task_id']}/claim",
                     timeout=HTTP_TIMEOUT)
    if resp.status_code == 200:
        claimed = resp.json()
        case.path_parameters["sample_id"] = claimed["sample"]["id"]
        case.body["lease_id"] = claimed["lease"]["id"]


def test_the_served_document_is_the_file_in_the_repo(stack):
    # No token: anyone may read it.
    resp = requests.get(f"{stack.api_url}/openapi.json", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers.get("Access-Control-Allow-Origin") == "*"  # viewers on other origins
    assert resp.json() == json.loads(openapi.DOC_PATH.read_text())


@pytest.mark.parametrize("role", list(ROLES))
@schema.parametrize()
def test_every_answer_is_documented_and_none_is_a_5xx(case, role, stack, invites):
    token = _token(stack, role)
    case.path_parameters = {**(case.path_parameters or {}), **{
        name: value for name, value in (("task_id", ROLES[role][0]), ("sample_id", "s000"),
                                        ("invite_id", invites[role]))
        if name in (case.path_parameters or {})}}
    if isinstance(case.body, dict) and "lease_id" in case.body:
        _hold_lease(User(stack, token), case)
    headers = {"Authorization": f"Bearer {token}"}
    # A 503 says "retry the same request": do, as a client would; one that stays is a failure.
    for _ in range(RETRIES_ON_503):
        response = case.call(base_url=stack.api_url, headers=headers)
        if response.status_code != 503:
            break
        time.sleep(min(float(response.headers.get("retry-after", ["1"])[0]), 1.0))
    case.validate_response(response, checks=CHECKS)
