"""The original ImJoy cloud-annotation clients against /legacy on the real local stack:
chalice local in front of the moto server, real presigned PUTs and GETs."""
import json
import os
import time

import pytest
import requests
from client import admin, annotator
from legacy_clients import (HTTP_TIMEOUT, Failure, Plugin, Script, compact, feature_collection,
                            png, signed_put_key, write_dataset)

CLIENT_CONFIG = {"draw_enable": True, "draw_label": "cell", "draw_shape_type": "polygon",
                 "draw_freehand": True, "draw_edge_color": "#0BF737"}


def dashboard_task(task_id, **changes):
    """What the Task-Dashboard's New Task + Save sends: its template after the form turned the
    lists into strings and back and the numbers through parseInt."""
    return {"type": "annotation", "name": f"Task {task_id}", "description": "[TODO]",
            "dataset_dir": None, "input_files": ["dapi.png"], "target_files": ["annotation.json"],
            "task_visibility": "public", "sample_visibility": "protected",
            "sampling_method": "sequential", "min_completion_time": 0, "user_per_sample": 1,
            "allow_user_upload": False, "owners": [], "client_config": CLIENT_CONFIG,
            "expires_in": 3600, "sample_status_file": None, "black_list": [], "white_list": [],
            "tags": [], "id": task_id, **changes}


def create(stack, task_id, **changes):
    return Plugin(stack, stack.tokens["admin"]).call("PUT", f"/task/{task_id}",
                                                    dashboard_task(task_id, **changes))


def fails(status, fn, *args):
    with pytest.raises(Failure) as caught:
        fn(*args)
    assert caught.value.status == status, caught.value
    return caught.value.detail


def bucket(stack):
    return stack.env["DATA_BUCKET"]


# --- Task-Dashboard ------------------------------------------------------------------------

def test_dashboard_create_update_with_the_whole_object_and_delete(stack):
    owner = Plugin(stack, stack.tokens["admin"])
    assert "leg-dash" not in owner.get("/tasks")
    created = owner.call("PUT", "/task/leg-dash", dashboard_task("leg-dash"))
    assert created["id"] == "leg-dash" and created["owners"] == ["admin"]
    assert "leg-dash" in owner.get("/tasks?reload=1")

    info = owner.get("/task/leg-dash")
    assert (info["completed_count"], info["all_count"], info["available_count"]) == (0, 0, 0)
    for field, value in dashboard_task("leg-dash").items():
        if field not in ("owners", "dataset_dir", "sample_status_file"):
            assert info[field] == value, field

    # The dashboard sends back everything it read, counts included, with the user's edits.
    edited = {**info, "name": "Nuclei, round 2", "user_per_sample": 2, "expires_in": 600,
              "sampling_method": "random", "task_visibility": "protected",
              "white_list": ["bob@lab.org"], "tags": ["production"]}
    owner.call("POST", "/task/leg-dash/update", edited)
    info = owner.get("/task/leg-dash")
    assert (info["name"], info["user_per_sample"], info["expires_in"], info["sampling_method"],
            info["task_visibility"], info["white_list"]) == \
        ("Nuclei, round 2", 2, 600, "random", "protected", ["bob@lab.org"])
    native = admin(stack).call("GET", "/tasks/leg-dash").json()
    assert (native["annotations_per_sample"], native["lease_seconds"], native["sampling"],
            native["annotators"]) == (2, 600, "random", ["bob@lab.org"])
    # Back to public: the hidden white_list the form still sends is ignored.
    owner.call("POST", "/task/leg-dash/update", {**info, "task_visibility": "public"})
    assert admin(stack).call("GET", "/tasks/leg-dash").json()["annotators"] is None
    info = owner.get("/task/leg-dash")

    # Real mistakes are refused, in the plugin's terms, and change nothing.
    assert "user_per_sample" in fails(400, owner.call, "POST", "/task/leg-dash/update",
                                      {**info, "user_per_sample": 0})
    assert "black_list" in fails(400, owner.call, "POST", "/task/leg-dash/update",
                                 {**info, "black_list": ["eve@lab.org"]})
    assert "colour" in fails(400, owner.call, "POST", "/task/leg-dash/update",
                             {**info, "colour": "red"})
    assert "dataset_dir" in fails(400, owner.call, "POST", "/task/leg-dash/update",
                                  {**info, "dataset_dir": "/data/nuclei"})
    assert "leg-dash" in fails(400, owner.call, "POST", "/task/leg-dash/update",
                               {**info, "id": "other-task"})
    assert "exists" in fails(409, owner.call, "PUT", "/task/leg-dash", dashboard_task("leg-dash"))
    assert owner.get("/task/leg-dash") == info

    assert "confirmation" in fails(400, owner.call, "DELETE", "/task/leg-dash")
    assert owner.call("DELETE", "/task/leg-dash?confirmation=leg-dash") == {"deleted": "leg-dash"}
    assert "leg-dash" not in owner.get("/tasks")
    fails(404, owner.get, "/task/leg-dash")


# --- upload-dataset.py ---------------------------------------------------------------------

def test_upload_script_on_a_folder_dataset_then_again_with_exist_ok(stack, tmp_path):
    create(stack, "leg-up")
    dataset = write_dataset(tmp_path / "dataset", {
        "sample_1": {"dapi.png": png(60), "annotation.json": compact(feature_collection(2))},
        "sample_2": {"dapi.png": png(90), "annotation.json": compact(feature_collection(3, 9))},
        "sample_3": {"dapi.png": png(120)},  # no target file: registered without a v0
    })
    script = Script(stack, stack.tokens["admin"])
    urls = script.upload(dataset, "leg-up")
    assert sorted(urls) == ["sample_1", "sample_2", "sample_3"]
    for sample_id, answer in urls.items():  # unsigned content type, keys of this task's sample
        assert signed_put_key(answer["input_files"]["dapi.png"], bucket(stack)) == \
            f"uploads/leg-up/{sample_id}/dapi.png"
        assert signed_put_key(answer["target_files"]["annotation.json"], bucket(stack)) == \
            f"uploads/leg-up/{sample_id}/annotation.json"

    native = admin(stack)
    listed = native.call("GET", "/tasks/leg-up/samples").json()["samples"]
    assert [(s["id"], s["status"]) for s in listed] == \
        [("sample_1", "available"), ("sample_2", "available"), ("sample_3", "available")]
    versions = {sid: native.call("GET", f"/tasks/leg-up/samples/{sid}").json()["versions"]
                for sid in urls}
    assert [(v["version"], v["kind"], v["features"]) for v in versions["sample_2"]] == \
        [(0, "pre", 2)]
    assert versions["sample_3"] == []

    # The same run again (exist_ok=1): every call succeeds, nothing is registered twice.
    script.upload(dataset, "leg-up")
    progress = native.call("GET", "/tasks/leg-up/progress").json()
    assert progress["total"] == 3
    assert native.call("GET", "/tasks/leg-up/samples/sample_2").json()["versions"] == \
        versions["sample_2"]
    # Without exist_ok an existing sample is a conflict the script reports.
    resp, answer = script.get("/task/leg-up/sample/sample_1/upload")
    assert resp.status_code == 409 and answer["success"] is False and "exist_ok" in answer["detail"]


def test_refresh_refuses_what_is_missing_or_invalid_and_registers_nothing(stack, tmp_path):
    create(stack, "leg-bad")
    script = Script(stack, stack.tokens["admin"])
    # Refreshed before its image was uploaded: refused, not registered, fixable.
    resp, answer = script.post("/task/leg-bad/sample/early/refresh")
    assert resp.status_code == 400 and "upload it first" in answer["detail"]
    _, urls = script.get("/task/leg-bad/sample/early/upload?exist_ok=1")
    assert requests.put(urls["result"]["input_files"]["dapi.png"], data=png(10),
                        timeout=HTTP_TIMEOUT).status_code == 200
    _, answer = script.post("/task/leg-bad/sample/early/enable")  # the older name
    assert answer == {"success": True, "result": {"sample_id": "early", "created": True}}

    dataset = write_dataset(tmp_path / "bad", {
        "open-ring": {"dapi.png": png(50), "annotation.json": compact(
            {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
                "label": "cell"}, "geometry": {"type": "Polygon", "coordinates": [
                    [[0, 0], [4, 0], [4, 4], [0, 3]]]}}]})},
    })
    with pytest.raises(AssertionError, match="closed"):
        script.upload(dataset, "leg-bad")
    resp, answer = script.get("/task/leg-bad/sample/bad id!/upload")
    assert resp.status_code == 400 and answer["success"] is False
    assert admin(stack).call("GET", "/tasks/leg-bad/progress").json()["total"] == 1


# --- ImJoy-Cloud-Annotator -----------------------------------------------------------------

def test_annotator_plugin_invalid_annotation_then_valid_one(stack, tmp_path):
    create(stack, "leg-ann", min_completion_time=0)
    pre = feature_collection(4)
    Script(stack, stack.tokens["admin"]).upload(write_dataset(tmp_path / "d", {
        "only": {"dapi.png": png(70, (64, 48)), "annotation.json": compact(pre)}}), "leg-ann")

    plugin = Plugin(stack, stack.annotator_token("leg-alice"))
    tasks = plugin.get("/tasks")  # Login, then pick the task from the dropdown
    assert tasks["leg-ann"]["client_config"] == CLIENT_CONFIG
    info = plugin.get("/task/leg-ann")
    assert (info["completed_count"], info["all_count"], info["available_count"]) == (0, 1, 1)
    assert plugin.get("/task/leg-ann/all") == ["only"]

    sample = plugin.get("/task/leg-ann/sample")  # Get Sample
    image = requests.get(sample["input_files"]["dapi.png"], timeout=HTTP_TIMEOUT)
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    start = requests.get(sample["placeholder_files"]["annotation.json"], timeout=HTTP_TIMEOUT)
    assert start.json() == pre
    put_key = signed_put_key(sample["target_files"]["annotation.json"], bucket(stack))
    assert put_key.startswith("annotations/leg-ann/only/")

    # Submit with a broken drawing: the PUT lands, complete refuses it, the sample stays hers.
    broken = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
              "geometry": {"type": "Point", "coordinates": [1, 2]}}]}
    plugin.save_annotation(sample["target_files"]["annotation.json"], broken)
    detail = fails(400, plugin.complete, "leg-ann", sample["session_id"])
    assert "label" in detail
    again = plugin.get("/task/leg-ann/sample")
    assert again["session_id"] == sample["session_id"]
    saved = requests.get(again["placeholder_files"]["annotation.json"], timeout=HTTP_TIMEOUT)
    assert saved.json() == broken  # she continues from what she saved
    assert plugin.get("/task/leg-ann")["completed_count"] == 0

    drawn = feature_collection(4, 20)
    plugin.save_annotation(again["target_files"]["annotation.json"], drawn)
    done = plugin.complete("leg-ann", sample["session_id"])
    assert done["target_version"] == "v1" and done["sample_id"] == "only"
    assert plugin.complete("leg-ann", sample["session_id"]) == done  # a retry counts nothing
    info = plugin.get("/task/leg-ann")
    assert (info["completed_count"], info["all_count"], info["available_count"]) == (1, 1, 0)
    progress = admin(stack).call("GET", "/tasks/leg-ann/progress").json()
    assert progress["annotations"] == 1 and progress["by_annotator"] == {"leg-alice": {"submitted": 1}}
    assert "left" in fails(404, plugin.get, "/task/leg-ann/sample")


def test_open_a_named_sample_only_on_public_sample_visibility(stack):
    owner = Plugin(stack, stack.tokens["admin"])
    create(stack, "leg-open", sample_visibility="public")
    admin(stack).call("POST", "/tasks/leg-open/samples", json={"samples": [
        {"id": f"n{i}", "files": {"dapi.png": f"uploads/leg-open/n{i}/dapi.png"}} for i in range(3)]})
    bob = Plugin(stack, stack.annotator_token("leg-bob"))
    opened = bob.get("/task/leg-open/sample/n2/update")  # double-click in the sample tree
    assert opened["sample_id"] == "n2" and opened["session_id"].startswith("n2@")
    assert opened["placeholder_files"] == {}
    bob.save_annotation(opened["target_files"]["annotation.json"], feature_collection(5))
    # Another double-click: the plugin leaves n2 for good, so its lease goes back to the pool
    # and what was saved stays as a draft version to continue from.
    assert bob.get("/task/leg-open/sample/n0/update")["sample_id"] == "n0"
    native = admin(stack)
    assert [(l["sample_id"], l["user"]) for l in
            native.call("GET", "/tasks/leg-open/leases").json()["leases"]] == [("n0", "leg-bob")]
    versions = native.call("GET", "/tasks/leg-open/samples/n2").json()["versions"]
    assert [(v["version"], v["kind"], v["by"]) for v in versions] == [(1, "draft", "leg-bob")]
    # A sample that cannot be opened leaves the current session as it was.
    carol = Plugin(stack, stack.annotator_token("leg-carol-open"))
    assert carol.get("/task/leg-open/sample/n1/update")["sample_id"] == "n1"
    fails(409, bob.get, "/task/leg-open/sample/n1/update")
    assert bob.get("/task/leg-open/sample")["sample_id"] == "n0"
    back = bob.get("/task/leg-open/sample/n2/update")
    assert requests.get(back["placeholder_files"]["annotation.json"],
                        timeout=HTTP_TIMEOUT).json() == feature_collection(5)
    owner.call("POST", "/task/leg-open/update", {**owner.get("/task/leg-open"),
                                                  "sample_visibility": "protected"})
    assert "Get Sample" in fails(403, bob.get, "/task/leg-open/sample/n1/update")


# --- download-dataset.py -------------------------------------------------------------------

def test_download_script_gets_every_file_and_version_byte_for_byte(stack, tmp_path):
    create(stack, "leg-down")
    files = {
        "a": {"dapi.png": png(30), "annotation.json": compact(feature_collection(1))},
        "b": {"dapi.png": png(200)},
    }
    Script(stack, stack.tokens["admin"]).upload(write_dataset(tmp_path / "up", files), "leg-down")
    annotated = {}
    for user in ("leg-carol", "leg-dan"):
        plugin = Plugin(stack, stack.annotator_token(user))
        sample = plugin.get("/task/leg-down/sample")
        drawing = feature_collection(len(annotated) + 7)
        plugin.save_annotation(sample["target_files"]["annotation.json"], drawing)
        plugin.complete("leg-down", sample["session_id"])
        annotated[sample["sample_id"]] = (user, drawing)
    # A later annotator's open session shows in the status record, not as a version.
    admin(stack).call("POST", "/tasks/leg-down/samples/a/reopen")
    eve = Plugin(stack, stack.annotator_token("leg-eve"))
    open_session = eve.get("/task/leg-down/sample")["session_id"]

    saved = tmp_path / "down"
    assert sorted(Script(stack, stack.tokens["admin"]).download("leg-down", saved)) == ["a", "b"]
    for sample_id, sample_files in files.items():
        folder = saved / sample_id
        assert (folder / "dapi.png").read_bytes() == sample_files["dapi.png"]  # the original
        user, drawing = annotated[sample_id]
        expected = {"target_files_v1": compact(drawing)}
        if "annotation.json" in sample_files:
            expected["target_files_v0"] = sample_files["annotation.json"]
        got = {d: (folder / d / "annotation.json").read_bytes()
               for d in os.listdir(folder) if d.startswith("target_files_")}
        assert got == expected
        status = json.loads((folder / "sample_status.json").read_text())
        done = [a for a in status["actions"] if a["completed"]]
        assert [(a["user_id"], a["target_version"], a["session_id"]) for a in done] == \
            [(user, "v1", f"{sample_id}@v1")]
        assert done[0]["completed_at"] >= int(time.time()) - 600
        assert status["users"][user] == {"completed": True, "versions": ["v1"]}
    status_a = json.loads((saved / "a" / "sample_status.json").read_text())
    assert status_a["completed"] is False  # reopened for one more annotator
    assert [a["session_id"] for a in status_a["actions"] if not a["completed"]] == [open_session]
    status_b = json.loads((saved / "b" / "sample_status.json").read_text())
    assert status_b["completed"] is True and status_b["completed_at"] is not None

    script = Script(stack, stack.tokens["admin"])
    resp, answer = script.get("/task/leg-down/sample/a?target_version=v0")
    assert list(answer["result"]["target_files"]["annotation.json"]) == ["v0"]
    resp, answer = script.get("/task/leg-down/sample/a?target_version=v9")
    assert resp.status_code == 404 and "v0, v1" in answer["detail"]


# --- one state, two protocols --------------------------------------------------------------

def test_native_and_legacy_claims_interleaved_never_share_a_sample(stack):
    create(stack, "leg-mix", input_files=["image.png"])
    native_admin = admin(stack)
    native_admin.call("POST", "/tasks/leg-mix/samples", json={"samples": [
        {"id": f"m{i}", "files": {"image.png": f"uploads/leg-mix/m{i}/image.png"}} for i in range(6)]})
    got, native_claims, legacy_claims = [], [], []
    for i in range(3):
        nat = annotator(stack, f"mix-native-{i}")
        claimed = nat.claim("leg-mix")
        got.append(claimed["sample"]["id"])
        native_claims.append((nat, claimed))
        leg = Plugin(stack, stack.annotator_token(f"mix-legacy-{i}"))
        session = leg.get("/task/leg-mix/sample")
        got.append(session["sample_id"])
        legacy_claims.append((leg, session))
    assert len(set(got)) == 6
    assert annotator(stack, "mix-late").claim("leg-mix") is None
    fails(404, Plugin(stack, stack.annotator_token("mix-late-2")).get, "/task/leg-mix/sample")

    def counts_agree(completed):
        info = Plugin(stack, stack.tokens["admin"]).get("/task/leg-mix")
        progress = native_admin.call("GET", "/tasks/leg-mix/progress").json()
        assert (info["completed_count"], info["all_count"], info["available_count"]) == \
            (progress["completed"], progress["total"], progress["available"]) == (completed, 6, 0)
    counts_agree(0)
    nat, claimed = native_claims[0]
    assert nat.submit("leg-mix", claimed).status_code == 200
    leg, session = legacy_claims[0]
    leg.save_annotation(session["target_files"]["annotation.json"], feature_collection(3))
    leg.complete("leg-mix", session["session_id"])
    counts_agree(2)
    # A legacy session is the native lease: the native routes see it, and it cannot be
    # submitted natively by someone else.
    leases = {l["sample_id"]: l["user"]
              for l in native_admin.call("GET", "/tasks/leg-mix/leases").json()["leases"]}
    assert leases[legacy_claims[1][1]["sample_id"]] == "mix-legacy-1"


def test_a_lapsed_session_taken_by_someone_else_cannot_complete(stack):
    create(stack, "leg-lapse", expires_in=5)
    admin(stack).call("POST", "/tasks/leg-lapse/samples", json={"samples": [
        {"id": "x", "files": {"dapi.png": "uploads/leg-lapse/x/dapi.png"}}]})
    slow = Plugin(stack, stack.annotator_token("lapse-slow"))
    session = slow.get("/task/leg-lapse/sample")
    time.sleep(6)  # the lease expires by time alone
    quick = annotator(stack, "lapse-quick")
    claimed = quick.claim("leg-lapse")
    assert claimed["sample"]["id"] == "x"
    slow.save_annotation(session["target_files"]["annotation.json"], feature_collection(1))
    assert "no longer valid" in fails(409, slow.complete, "leg-lapse", session["session_id"])
    assert quick.submit("leg-lapse", claimed).status_code == 200


# --- who may not ---------------------------------------------------------------------------

def test_who_may_not(stack):
    create(stack, "leg-mine")
    create(stack, "leg-theirs", task_visibility="protected", white_list=["friend@lab.org"])
    outsider = Plugin(stack, stack.annotator_token("leg-outsider"))
    for method, path, body in [
            ("PUT", "/task/leg-new", dashboard_task("leg-new")),
            ("POST", "/task/leg-mine/update", dashboard_task("leg-mine")),
            ("DELETE", "/task/leg-mine?confirmation=leg-mine", None),
            ("GET", "/task/leg-mine/sample/s1/upload?exist_ok=1", None),
            ("POST", "/task/leg-mine/sample/s1/refresh", None),
            ("GET", "/task/leg-mine/sample/s1?target_version=all", None),
            ("GET", "/task/leg-theirs", None),
            ("GET", "/task/leg-theirs/sample", None),
            ("GET", "/task/leg-theirs/all", None)]:
        assert fails(403, outsider.call, method, path, body), path
    assert "leg-theirs" not in outsider.get("/tasks")

    invite = admin(stack).call("POST", "/tasks/leg-theirs/invites",
                               json={"emails": ["friend@lab.org"]}).json()["invites"][0]["token"]
    friend = Plugin(stack, invite)
    assert list(friend.get("/tasks")) == ["leg-theirs"]
    assert friend.get("/task/leg-theirs/all") == []
    fails(403, friend.get, "/task/leg-mine")  # the invite is for one task only
    fails(403, friend.get, "/task/leg-mine/sample")

    for token in (None, "not-a-jwt"):
        resp = requests.get(f"{stack.api_url}/legacy/tasks", timeout=HTTP_TIMEOUT,
                            headers={"Authorization": f"Bearer {token}"} if token else {})
        assert resp.status_code == 401 and resp.json()["success"] is False
        assert resp.json()["detail"]
        assert resp.headers["Access-Control-Allow-Origin"] == "*"  # the plugin can read it
    # The plugins run on ImJoy's origin: their requests with a token are preflighted.
    preflight = requests.options(f"{stack.api_url}/legacy/task/leg-mine/sample/s1/complete",
                                 timeout=HTTP_TIMEOUT, headers={
                                     "Origin": "https://lib.imjoy.io",
                                     "Access-Control-Request-Method": "POST",
                                     "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    # A session id that is not one; someone else's session, uploaded and all.
    admin(stack).call("POST", "/tasks/leg-mine/samples", json={"samples": [
        {"id": "s1", "files": {"dapi.png": "uploads/leg-mine/s1/dapi.png"}}]})
    bob = Plugin(stack, stack.annotator_token("leg-bob-2"))
    session = bob.get("/task/leg-mine/sample")
    bob.save_annotation(session["target_files"]["annotation.json"], feature_collection(2))
    fails(400, outsider.complete, "leg-mine", "no-at-sign")
    assert "no longer valid" in fails(409, outsider.complete, "leg-mine", session["session_id"])
    assert bob.complete("leg-mine", session["session_id"])["target_version"] == "v1"
