"""The OpenAPI description names exactly the routes the app registers, and docs/openapi.json is
what GET /openapi.json serves (tests/integration/test_openapi_fuzz.py runs it against the stack)."""
import json
import subprocess
import sys

from app import app
from chalicelib import openapi

# The original system's protocol keeps its own envelope and is not part of the native API.
NOT_DESCRIBED = "/legacy"


def registered() -> set[tuple[str, str]]:
    return {(method, path) for path, methods in app.routes.items() for method in methods
            if path != NOT_DESCRIBED and not path.startswith(NOT_DESCRIBED + "/")}


def described() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in openapi.document()["paths"].items()
            for method in ops}


def test_every_registered_route_is_described_and_nothing_else():
    assert len(registered()) >= 27  # blueprint routes included: the comparison is not vacuous
    assert registered() - described() == set(), \
        "routes without an entry in chalicelib.openapi.OPERATIONS: add one"
    assert described() - registered() == set(), "OPERATIONS names routes the app does not have"


def test_the_file_in_the_repo_is_the_current_document():
    assert json.loads(openapi.DOC_PATH.read_text()) == openapi.document(), \
        "docs/openapi.json is stale: run `python -m chalicelib.openapi --write`"


def test_every_error_answer_is_the_envelope_and_every_token_route_documents_401():
    doc = openapi.document()
    for code, response in doc["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == \
            {"$ref": "#/components/schemas/Error"}, code
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            anonymous = op.get("security") == []
            assert anonymous == (path in ("/health", "/openapi.json", "/auth/config")), (method, path)
            assert ("401" in op["responses"]) != anonymous, (method, path)
            assert all(int(s) < 500 or s == "503" for s in op["responses"]), (method, path)


def test_request_bodies_are_the_models_the_routes_validate_with():
    doc = openapi.document()
    body = doc["paths"]["/tasks/{task_id}/samples/{sample_id}/submit"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/SubmitBody"}
    submit = doc["components"]["schemas"]["SubmitBody"]
    assert submit["required"] == ["lease_id", "annotation", "submission_id"]
    assert submit["additionalProperties"] is False  # unknown fields are a 400
    assert "FeatureCollection" in doc["components"]["schemas"]


def test_the_document_is_built_on_first_request_not_at_import():
    """The Lambda's cold start imports app.py: building the document must wait for a request."""
    probe = ("import app; from chalicelib import openapi; "
             "print(openapi.document.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=openapi.DOC_PATH.parents[1])
    assert out.stdout.strip() == "0"
