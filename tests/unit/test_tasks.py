"""Tasks API: create/read/update/delete, visibility, and bad input answered with 4xx."""
import pytest

from chalicelib.auth import mint_token


def test_health_needs_no_token(api):
    assert api.ok("GET", "/health", user=None) == {"status": "ok"}


def test_create_and_read_task_with_defaults(api):
    task = api.ok("POST", "/tasks", 201, body={"id": "cells", "name": "Cells", "labels": ["cell", "dirt"]})
    assert task["id"] == "cells"
    assert task["sampling"] == "sequential" and task["annotations_per_sample"] == 1
    assert task["lease_seconds"] == 3600 and task["client_config"]["draw_shape_type"] == "polygon"
    assert task["owners"] == ["admin"]
    assert task["progress"] == {"total": 0, "completed": 0, "in_progress": 0, "available": 0,
                                "annotations": 0, "by_annotator": {}}
    got = api.ok("GET", "/tasks/cells", user="alice")
    assert got["labels"] == ["cell", "dirt"]
    assert [t["id"] for t in api.ok("GET", "/tasks", user="alice")["tasks"]] == ["cells"]


def test_generated_id_from_name(api):
    task = api.ok("POST", "/tasks", 201, body={"name": "Nuclei in DAPI!"})
    assert task["id"].startswith("nuclei-in-dapi-")


@pytest.mark.parametrize("body,code", [
    ({"name": "x", "colour": "red"}, "invalid_body"),
    ({"id": "Bad_Id", "name": "x"}, "invalid_body"),
    ({"name": "x", "annotations_per_sample": 0}, "invalid_body"),
    ({"name": "x", "sampling": "shuffled"}, "invalid_body"),
    ({"name": "x", "lease_seconds": 4}, "invalid_body"),
    ({"name": "x", "labels": []}, "invalid_body"),
])
def test_bad_task_bodies_are_400(api, body, code):
    status, data = api.call("POST", "/tasks", body=body)
    assert status == 400 and data["error"]["code"] == code, data
    assert data["error"]["message"]
    assert api.ok("GET", "/tasks")["tasks"] == []


def test_malformed_json_is_400(api):
    status, data = api.call("POST", "/tasks", raw="{not json")
    assert status == 400 and data["error"]["code"] == "invalid_json"
    status, data = api.call("POST", "/tasks", raw="[1, 2]")
    assert status == 400 and data["error"]["code"] == "invalid_json"


def test_duplicate_task_id_is_409(api):
    api.make_task("dup", n_samples=0)
    status, data = api.call("POST", "/tasks", body={"id": "dup", "name": "again"})
    assert status == 409 and data["error"]["code"] == "task_exists"


def test_auth_errors(api):
    status, data = api.call("GET", "/tasks", user=None)
    assert status == 401 and data["error"]["code"] == "missing_token"
    status, data = api.call("GET", "/tasks", token="garbage")
    assert status == 401 and data["error"]["code"] == "invalid_token"
    expired = mint_token("alice", ttl_seconds=-10)
    status, data = api.call("GET", "/tasks", token=expired)
    assert status == 401 and data["error"]["code"] == "token_expired"
    forged = mint_token("alice", roles=["admin"], secret="another-secret-of-at-least-32-bytes")
    assert api.call("POST", "/tasks", token=forged, body={"name": "x"})[0] == 401
    status, data = api.call("POST", "/tasks", user="alice", body={"name": "x"})
    assert status == 403 and data["error"]["code"] == "not_admin"


def test_annotator_lists_and_invite_scoping(api):
    api.make_task("open", n_samples=0)
    api.make_task("closed", n_samples=0, annotators=["bob", "carol@lab.org"])
    assert {t["id"] for t in api.ok("GET", "/tasks", user="alice")["tasks"]} == {"open"}
    assert {t["id"] for t in api.ok("GET", "/tasks", user="bob")["tasks"]} == {"open", "closed"}
    carol = mint_token("c-123", email="carol@lab.org")
    assert api.call("GET", "/tasks/closed", token=carol)[0] == 200
    status, data = api.call("GET", "/tasks/closed", user="alice")
    assert status == 403 and data["error"]["code"] == "not_invited"
    assert api.call("POST", "/tasks/closed/claim", user="alice")[0] == 403
    invite = mint_token("bob", tasks=["open"])
    assert api.call("GET", "/tasks/closed", token=invite)[0] == 403
    assert api.call("GET", "/tasks/open", token=invite)[0] == 200


def test_unknown_task_is_404(api):
    status, data = api.call("GET", "/tasks/nope")
    assert status == 404 and data["error"]["code"] == "task_not_found"
    assert api.call("POST", "/tasks/nope/claim", user="alice")[0] == 404


def test_patch_task(api):
    api.make_task("p", n_samples=2)
    got = api.ok("PATCH", "/tasks/p", body={"instructions": "Outline every nucleus.",
                                            "lease_seconds": 600})
    assert got["instructions"] == "Outline every nucleus." and got["lease_seconds"] == 600
    status, data = api.call("PATCH", "/tasks/p", body={"annotations_per_sample": 3})
    assert status == 409 and data["error"]["code"] == "task_fixed"
    assert api.call("PATCH", "/tasks/p", body={"bogus": 1})[0] == 400
    assert api.call("PATCH", "/tasks/p", body={"name": "x"}, user="alice")[0] == 403
    assert api.ok("GET", "/tasks/p")["annotations_per_sample"] == 1


def test_delete_requires_confirmation(api):
    api.make_task("gone", n_samples=2)
    status, data = api.call("DELETE", "/tasks/gone")
    assert status == 400 and data["error"]["code"] == "confirmation_required"
    assert api.ok("GET", "/tasks/gone")["progress"]["total"] == 2
    api.ok("DELETE", "/tasks/gone?confirm=gone")
    assert api.call("GET", "/tasks/gone")[0] == 404
    api.make_task("gone", n_samples=1)  # the id is free again, with no leftovers
    assert api.ok("GET", "/tasks/gone/progress")["total"] == 1
