"""The defects a hostile probe found (issue 8), each in the probe's own words, kept out for good.

Races are reproduced deterministically: a request is made to decide on a state read just
before another request changed it (what two requests at once do), by handing it a stale copy
of the sample once.
"""
import base64
import copy
import json
import uuid

import pytest

from chalicelib import config, leases, reconcile, signing_keys
from chalicelib.auth import mint_token
from chalicelib.models import Invite, Sample, Task
from conftest import polygon


def key(task_id, name="image.png", sample="s"):
    return f"uploads/{task_id}/{sample}/{name}"


@pytest.fixture
def stale_once(monkeypatch):
    """stale_once(task_id, sample_id): the next read of that sample returns its state now."""
    def arm(task_id, sample_id):
        snapshot = copy.deepcopy(Sample.get(task_id, sample_id, consistent_read=True))
        real = leases.get_sample
        calls = {"n": 0}

        def get_sample(t, s):
            calls["n"] += 1
            if calls["n"] == 1 and (t, s) == (task_id, sample_id):
                return snapshot
            return real(t, s)
        monkeypatch.setattr(leases, "get_sample", get_sample)
    return arm


@pytest.fixture(autouse=True)
def counters_match_a_recount_after_each_test(aws):
    """Whatever a test did, `python -m chalicelib.reconcile` would find nothing to fix."""
    yield
    for task in Task.scan():
        assert_no_drift(task.task_id)


def assert_no_drift(task_id):
    report = reconcile.drift(task_id)
    assert report == {}, report


# --- isolation -----------------------------------------------------------------------------

def test_an_invite_token_does_not_work_on_owner_routes_of_other_tasks(api):
    a_owner = mint_token("a-owner", email="a-owner@example.org")
    api.ok("POST", "/tasks", 201, body={"id": "task-a", "name": "A", "owners": ["a-owner@example.org"]})
    api.ok("POST", "/tasks", 201, body={"id": "task-d", "name": "D", "owners": ["a-owner@example.org"]})
    api.ok("POST", "/tasks", 201, body={"id": "task-b", "name": "B", "owners": ["owner-b"]})
    assert api.call("GET", "/tasks/task-a/leases", token=a_owner)[0] == 200  # a real owner of A
    [invite] = api.ok("POST", "/tasks/task-b/invites", 201, user="owner-b",
                      body={"emails": ["a-owner@example.org"]})["invites"]
    token = invite["token"]
    status, data = api.call("PATCH", "/tasks/task-a", token=token,
                            body={"owners": ["a-owner@example.org", "owner-b"]})
    assert status == 403, data
    assert api.call("DELETE", "/tasks/task-d?confirm=task-d", token=token)[0] == 403
    for method, path in [("GET", "/tasks/task-a/leases"), ("GET", "/tasks/task-a/invites"),
                         ("POST", "/tasks/task-a/samples"), ("GET", "/tasks/task-a/samples"),
                         ("DELETE", "/tasks/task-a/leases/s"), ("POST", "/tasks/task-a/uploads"),
                         ("GET", "/tasks/task-a/sources"), ("GET", "/tasks/task-a/samples/s/view")]:
        assert api.call(method, path, token=token, body={})[0] == 403, (method, path)
    assert {t["id"] for t in api.ok("GET", "/tasks", token=token)["tasks"]} == {"task-b"}
    # On its own task an invite carries annotator rights only, whatever its email owns elsewhere.
    api.ok("PATCH", "/tasks/task-b", user="owner-b", body={"owners": ["owner-b", "a-owner@example.org"]})
    assert api.call("GET", "/tasks/task-b/leases", token=token)[0] == 403
    assert api.call("GET", "/tasks/task-b", token=token)[0] == 200
    assert Task.get("task-a").owners == ["admin", "a-owner@example.org"]


def test_a_task_owner_cannot_register_or_read_another_tasks_objects(api):
    api.make_task("task-a", n_samples=0, owners=["owner-a"])
    api.make_task("task-b", n_samples=0, owners=["owner-b"])
    for ref in ("uploads/task-a/secret/img.png", "img/x.png", "annotations/task-a/s/v.json",
                "derived/unit-data/uploads/task-a/s/x.png/display.png", "uploads/task-bb/s/x.png"):
        status, data = api.call("POST", "/tasks/task-b/samples", user="owner-b",
                                body={"samples": [{"id": "s", "files": {"f.png": ref}}]})
        assert status == 403 and data["error"]["code"] == "foreign_file", (ref, data)
    assert api.progress("task-b")["total"] == 0
    api.ok("POST", "/tasks/task-b/samples", 201, user="owner-b",
           body={"samples": [{"id": "s", "files": {"f.png": key("task-b")}}]})
    # A row that names a foreign key (written before this check existed) is never signed.
    Sample("task-b", "s").update(actions=[Sample.files.set({"f.png": "uploads/task-a/secret/img.png"})])
    for method, path in [("GET", "/tasks/task-b/samples/s/view"), ("POST", "/tasks/task-b/claim")]:
        status, data = api.call(method, path, user="owner-b")
        assert status == 403 and data["error"]["code"] == "foreign_file", data


def test_owners_import_only_from_prefixes_an_admin_granted(api, monkeypatch):
    import boto3
    monkeypatch.setattr(config, "IMPORT_BUCKETS", ("lab-archive",))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lab-archive")
    api.make_task("granted", n_samples=0, owners=["olga"], sources=["s3://lab-archive/olga/"])
    assert api.call("GET", "/tasks/granted/sources?uri=s3://lab-archive/olga/", user="olga")[0] == 200
    for uri in ("s3://lab-archive/", "s3://lab-archive/other/", "s3://lab-archive/olga-not/"):
        status, data = api.call("GET", f"/tasks/granted/sources?uri={uri}", user="olga")
        assert status == 403 and data["error"]["code"] == "source_not_granted", (uri, data)
    status, data = api.call("POST", "/tasks/granted/imports", user="olga", body={
        "samples": [{"id": "s", "files": {"x.png": "s3://lab-archive/other/x.png"}}]})
    assert status == 403 and data["error"]["code"] == "source_not_granted"
    # Only admins grant sources.
    status, data = api.call("PATCH", "/tasks/granted", user="olga", body={"sources": ["s3://lab-archive/"]})
    assert status == 403 and data["error"]["code"] == "not_admin"


def test_annotators_see_only_what_they_need(api):
    api.make_task("priv", n_samples=3, owners=["olga@lab.org"], annotators=["ann", "bea@lab.org"],
                  sample_visibility="public")
    _, a = api.claim("priv", "ann")
    api.submit("priv", "ann", a)
    bea = mint_token("bea", email="bea@lab.org")
    _, b = api.call("POST", "/tasks/priv/claim", token=bea)
    api.call("POST", f"/tasks/priv/samples/{b['sample']['id']}/submit", token=bea, body={
        "lease_id": b["lease"]["id"], "annotation": polygon(), "submission_id": uuid.uuid4().hex})
    seen = api.ok("GET", "/tasks/priv", user="ann")
    assert "owners" not in seen and "annotators" not in seen
    assert seen["progress"]["by_annotator"] == {"ann": {"submitted": 1}}
    listed = api.ok("GET", "/tasks", user="ann")["tasks"][0]
    assert "owners" not in listed and "annotators" not in listed
    assert api.ok("GET", "/tasks/priv/progress", user="ann")["by_annotator"] == {"ann": {"submitted": 1}}
    detail = api.ok("GET", f"/tasks/priv/samples/{b['sample']['id']}", user="ann")
    assert {v["by"] for v in detail["versions"]} == {None}
    mine = api.ok("GET", f"/tasks/priv/samples/{a['sample']['id']}", user="ann")
    assert {v["by"] for v in mine["versions"]} == {"ann"}
    # owners and admins see everything
    full = api.ok("GET", "/tasks/priv", user="olga@lab.org", roles=[])
    assert full["annotators"] == ["ann", "bea@lab.org"] and set(full["progress"]["by_annotator"]) == {"ann", "bea"}


# --- transactions that report the truth ---------------------------------------------------

def test_two_identical_submits_at_once_both_answer_the_first_outcome(api, monkeypatch):
    api.make_task("t", n_samples=2)
    _, c = api.claim("t", "alice")
    sid, sub_id = c["sample"]["id"], uuid.uuid4().hex
    first = api.submit("t", "alice", c, submission_id=sub_id)
    assert first[0] == 200
    # The second read no submission record and the lease as it was before the first landed.
    real_previous, calls = leases.previous_submission, []

    def not_yet_once(*args):  # the second read before the first had written its record
        calls.append(args)
        return None if len(calls) == 1 else real_previous(*args)
    monkeypatch.setattr(leases, "previous_submission", not_yet_once)
    stale = _stale_state(monkeypatch, "t", sid)
    status, data = api.submit("t", "alice", c, submission_id=sub_id)
    assert stale["used"]
    assert (status, data["version"]) == (200, first[1]["version"]), data
    assert api.progress("t")["annotations"] == 1
    assert_no_drift("t")


def _stale_state(monkeypatch, task_id, sample_id):
    """Make the next lease check see the caller's lease as still held (it was just submitted)."""
    real_own = leases._own_lease
    state = {"used": False}

    def own(task, user, s, lease_id):
        if not state["used"]:
            state["used"] = True
            # The sample as it was before the caller's own submit landed.
            sample = copy.deepcopy(Sample.get(task_id, sample_id))
            sample.leases = {user: 2 ** 31}
            sample.submitters = set(sample.submitters) - {user}
            sample.revision, sample.done, sample.latest_version = \
                sample.revision - 1, sample.done - 1, sample.latest_version - 1
            return leases.Lease(sample, lease_id, 2 ** 31, 0)
        return real_own(task, user, s, lease_id)
    monkeypatch.setattr(leases, "_own_lease", own)
    return state


def test_a_submit_that_lost_the_race_is_409_lease_lost_not_404(api, monkeypatch):
    api.make_task("t", n_samples=2)
    _, c = api.claim("t", "alice")
    assert api.submit("t", "alice", c)[0] == 200
    stale = _stale_state(monkeypatch, "t", c["sample"]["id"])
    status, data = api.submit("t", "alice", c)  # another submission id
    assert stale["used"]
    assert status == 409 and data["error"]["code"] == "lease_lost", data
    assert_no_drift("t")


def test_a_draft_racing_the_holders_heartbeat_is_saved(api, stale_once):
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    sid = c["sample"]["id"]
    stale_once("t", sid)  # the draft decides on the sample as it was before the heartbeat
    api.ok("POST", f"/tasks/t/samples/{sid}/heartbeat", user="alice", body={"lease_id": c["lease"]["id"]})
    status, data = api.call("PUT", f"/tasks/t/samples/{sid}/draft", user="alice",
                            body={"lease_id": c["lease"]["id"], "annotation": polygon()})
    assert status == 200 and data["version"] == 1, data


def test_idempotency_records_do_not_survive_task_deletion(api):
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    sub_id = uuid.uuid4().hex
    assert api.submit("t", "alice", c, submission_id=sub_id)[0] == 200
    api.ok("DELETE", "/tasks/t?confirm=t")
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    status, data = api.submit("t", "alice", c, submission_id=sub_id)
    assert status == 200
    assert api.progress("t")["annotations"] == 1
    assert [v["kind"] for v in api.ok("GET", "/tasks/t/samples/s000")["versions"]] == ["submitted"]


def test_a_submission_id_reused_on_another_sample_submits_that_sample(api):
    api.make_task("t", n_samples=2)
    sub_id = uuid.uuid4().hex
    _, c1 = api.claim("t", "alice")
    assert api.submit("t", "alice", c1, submission_id=sub_id)[0] == 200
    _, c2 = api.claim("t", "alice")
    status, data = api.submit("t", "alice", c2, submission_id=sub_id)
    assert status == 200 and data["version"] == 1
    assert api.progress("t")["completed"] == 2
    # The same key with different content on the same sample is a mistake, not a retry.
    status, data = api.submit("t", "alice", c2, submission_id=sub_id, annotation=polygon(x=99))
    assert status == 409 and data["error"]["code"] == "submission_id_reused", data
    assert api.progress("t")["completed"] == 2


def test_registration_lands_whole_or_says_what_was_stored(api, monkeypatch):
    from chalicelib import samples
    api.make_task("t", n_samples=0)
    body = {"samples": [{"id": f"x{i:04d}", "files": {"i.png": key("t", sample=f"x{i:04d}")}}
                        for i in range(250)]}
    real = samples._write_chunk
    calls = {"n": 0}

    def lands_then_times_out(*args, **kwargs):
        calls["n"] += 1
        real(*args, **kwargs)
        if calls["n"] == 2:  # the second transaction landed, its answer was lost
            from botocore.exceptions import ReadTimeoutError
            from pynamodb.exceptions import TransactWriteError
            raise TransactWriteError("lost", ReadTimeoutError(endpoint_url="http://backend"))
    monkeypatch.setattr(samples, "_write_chunk", lands_then_times_out)
    status, data = api.call("POST", "/tasks/t/samples", body=body)
    assert status == 503, data  # retryable: repeat the same request
    monkeypatch.setattr(samples, "_write_chunk", real)
    status, data = api.call("POST", "/tasks/t/samples", body=body)
    # What the first attempt stored is there already, identical: listed, not a conflict.
    assert status == 201 and data["created"] + len(data["existing"]) == 250, data
    assert 0 < len(data["existing"]) < 250
    assert api.progress("t")["total"] == 250
    assert_no_drift("t")
    # A different sample under an id that exists is a real conflict, reported exactly.
    body2 = {"samples": [{"id": "x0000", "files": {"i.png": key("t", "other.png", "x0000")}},
                         {"id": "y", "files": {"i.png": key("t", sample="y")}}]}
    status, data = api.call("POST", "/tasks/t/samples", body=body2)
    assert status == 409 and data["error"]["code"] == "sample_exists" and "x0000" in data["error"]["message"]
    assert api.progress("t")["total"] == 250


def test_invites_cannot_grow_the_task_row_without_limit(api):
    from chalicelib import invites
    api.make_task("big", n_samples=0, annotators=[f"a{i}@lab.org" for i in range(invites.MAX_ANNOTATORS - 50)])
    before = list(Invite.query("big"))
    status, data = api.call("POST", "/tasks/big/invites", body={"emails": [f"n{i}@lab.org" for i in range(100)]})
    assert status == 400 and data["error"]["code"] == "too_many_annotators", data
    assert list(Invite.query("big")) == before
    assert len(Task.get("big").annotators) == invites.MAX_ANNOTATORS - 50


# --- no 5xx for a caller's mistake --------------------------------------------------------

def deep(n):
    return "[" * n + "]" * n


@pytest.mark.parametrize("method,path", [("POST", "/tasks"), ("PATCH", "/tasks/t"),
                                         ("POST", "/tasks/t/samples"), ("PUT", "/tasks/t/samples/s000/draft"),
                                         ("POST", "/tasks/t/samples/s000/submit"), ("POST", "/tasks/t/invites")])
def test_json_nested_too_deep_is_400(api, method, path):
    api.make_task("t", n_samples=1)
    for raw in (deep(5000), '{"a":' * 3000 + "1" + "}" * 3000):
        status, data = api.call(method, path, raw=raw)
        assert status == 400 and data["error"]["code"] == "invalid_json", (status, data)


def _submit_raw(api, annotation):
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    return api.call("POST", "/tasks/t/samples/s000/submit", user="alice", body={
        "lease_id": c["lease"]["id"], "annotation": annotation, "submission_id": uuid.uuid4().hex})


def test_a_400_digit_coordinate_is_400(api):
    huge = 10 ** 400
    ring = [[0, 0], [huge, 0], [0, 1], [0, 0]]
    raw = polygon()
    raw["features"][0]["geometry"]["coordinates"] = [ring]
    status, data = _submit_raw(api, raw)
    assert status == 400 and data["error"]["code"] == "invalid_body", data


def test_properties_nested_400_deep_is_400(api):
    raw = polygon()
    nested = {}
    for _ in range(400):
        nested = {"x": nested}
    raw["features"][0]["properties"]["extra"] = nested
    status, data = _submit_raw(api, raw)
    assert status == 400 and data["error"]["code"] == "invalid_json", data


@pytest.mark.parametrize("fields", [{"client_config": {"blob": "x" * (1024 * 1024)}},
                                    {"annotators": [f"user-{i}@lab.org" for i in range(10_000)]},
                                    {"owners": [f"o{i}" for i in range(1000)]},
                                    {"tags": [f"t{i}" for i in range(1000)]}])
def test_a_task_row_over_the_item_limit_is_refused_up_front(api, fields):
    status, data = api.call("POST", "/tasks", body={"name": "x", **fields})
    assert status in (400, 413) and data["error"]["code"] in ("invalid_body", "body_too_large"), data
    assert api.ok("GET", "/tasks")["tasks"] == []
    api.make_task("t", n_samples=0)
    status, data = api.call("PATCH", "/tasks/t", body=fields)
    assert status in (400, 413), data


@pytest.mark.parametrize("claims", [{"sub": "x", "email": ["a@b.org"]}, {"sub": "x", "tasks": [], "inv": "i"},
                                    {"sub": ""}, {"sub": "x" * 2000}, {"sub": "x", "tasks": ["t", 3]},
                                    {"sub": "x", "roles": "admin"}, {"sub": "x", "inv": 5, "tasks": ["t"]},
                                    {"sub": "x", "inv": "i", "tasks": ["t", "u"]}, {"sub": "a\x00b"}])
def test_correctly_signed_tokens_with_malformed_claims_are_401(api, claims):
    import jwt
    import time
    token = jwt.encode({"exp": int(time.time()) + 60, **claims}, signing_keys.signing_key(), algorithm="HS256")
    api.make_task("t", n_samples=1)
    for method, path in [("GET", "/tasks"), ("GET", "/tasks/t"), ("POST", "/tasks/t/claim")]:
        status, data = api.call(method, path, token=token)
        assert status == 401 and data["error"]["code"] == "invalid_token", (claims, status, data)


def test_an_import_from_a_configured_but_missing_bucket_is_400(api, monkeypatch):
    monkeypatch.setattr(config, "IMPORT_BUCKETS", ("not-created",))
    api.make_task("t", n_samples=0)
    status, data = api.call("POST", "/tasks/t/imports", body={
        "samples": [{"id": "s", "files": {"x.png": "s3://not-created/a.png"}}]})
    assert status == 400 and data["error"]["code"] == "invalid_source", data
    assert api.call("GET", "/tasks/t/samples/s")[0] == 404


@pytest.mark.parametrize("cursor", [base64.urlsafe_b64encode(b"123").decode(),
                                    base64.urlsafe_b64encode(b"[1,2]").decode(),
                                    base64.urlsafe_b64encode(json.dumps({"task_id": {"N": "1"}}).encode()).decode(),
                                    base64.urlsafe_b64encode(json.dumps({"a": {"S": "x"}}).encode()).decode(),
                                    "%%%", "x" * 5000])
def test_a_cursor_that_can_never_work_is_400_not_503(api, cursor):
    api.make_task("t", n_samples=2)
    status, data = api.call("GET", f"/tasks/t/samples?cursor={cursor}")
    assert status == 400 and data["error"]["code"] == "invalid_cursor", data


def test_a_sources_cursor_with_a_nul_is_400(api, monkeypatch):
    import boto3
    monkeypatch.setattr(config, "IMPORT_BUCKETS", ("lab-archive",))
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="lab-archive")
    api.make_task("t", n_samples=0)
    status, data = api.call("GET", "/tasks/t/sources?uri=s3://lab-archive/&cursor=a%00b")
    assert status == 400 and data["error"]["code"] == "invalid_cursor", data


def test_any_content_type_is_read_as_json_and_framework_answers_use_the_envelope(api):
    api.make_task("t", n_samples=1)
    token = mint_token("alice")
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Authorization": f"Bearer {token}", **({"Content-Type": ctype} if ctype else {})}
        resp = api.client.http.request("POST", "/tasks/t/claim", headers=headers, body=None)
        assert resp.status_code == 200, (ctype, resp.body)
    resp = api.client.http.request("PUT", "/tasks", headers={"Authorization": f"Bearer {token}"}, body=b"")
    body = json.loads(resp.body)
    assert resp.status_code == 405 and body["error"]["code"] == "method_not_allowed", body


def test_creating_a_task_checks_who_before_what(api):
    status, data = api.call("POST", "/tasks", user="alice", body={"colour": "red"})
    assert status == 403 and data["error"]["code"] == "not_admin"


# --- limits and abuse ---------------------------------------------------------------------

def test_claim_and_skip_cycling_is_bounded_per_minute(api, time_travel):
    time_travel.advance(60 - int(__import__("time").time()) % 60)  # start of a minute
    api.make_task("t", n_samples=3)
    for _ in range(leases.MAX_CLAIMS_PER_MINUTE):
        _, c = api.claim("t", "alice")
        api.ok("POST", f"/tasks/t/samples/{c['sample']['id']}/release", user="alice",
               body={"lease_id": c["lease"]["id"]})
    status, data = api.claim("t", "alice")
    assert status == 429 and data["error"]["code"] == "rate_limited", data
    assert api.progress("t")["in_progress"] == 0
    assert api.claim("t", "bob")[0] == 200  # per annotator
    time_travel.advance(60)
    assert api.claim("t", "alice")[0] == 200


def test_drafts_per_lease_are_bounded_per_minute(api, time_travel):
    time_travel.advance(60 - int(__import__("time").time()) % 60)
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    path, body = "/tasks/t/samples/s000/draft", {"lease_id": c["lease"]["id"], "annotation": polygon()}
    for _ in range(leases.MAX_DRAFTS_PER_MINUTE):
        api.ok("PUT", path, user="alice", body=body)
    status, data = api.call("PUT", path, user="alice", body=body)
    assert status == 429 and data["error"]["code"] == "rate_limited", data
    versions = api.ok("GET", "/tasks/t/samples/s000")["versions"]
    assert len(versions) == leases.MAX_DRAFTS_PER_MINUTE  # the refused one stored nothing
    time_travel.advance(60)
    assert api.call("PUT", path, user="alice", body=body)[0] == 200


def test_the_task_list_is_paginated_and_reads_no_progress(api):
    for i in range(5):
        api.make_task(f"t{i}", n_samples=0)
    page = api.ok("GET", "/tasks?limit=2")
    assert [t["id"] for t in page["tasks"]] == ["t0", "t1"] and page["cursor"] == "t1"
    assert set(page["tasks"][0]["progress"]) == {"total", "completed", "annotations"}
    rest = api.ok("GET", f"/tasks?limit=10&cursor={page['cursor']}")
    assert [t["id"] for t in rest["tasks"]] == ["t2", "t3", "t4"] and rest["cursor"] is None
    status, data = api.call("GET", "/tasks?cursor=gone")
    assert status == 400 and data["error"]["code"] == "invalid_cursor"


def test_every_transaction_carries_a_token_derived_from_its_content(api, monkeypatch):
    """DynamoDB answers a retried TransactWriteItems with the same ClientRequestToken with the
    first outcome (for 10 minutes): an SDK retry of a write that landed cannot fail its own
    conditions. The token must be there on every transaction and follow the content."""
    import botocore.client
    from chalicelib.models import Transaction
    sent = []
    real = botocore.client.BaseClient._make_api_call

    def spy(client, op, params):
        if op == "TransactWriteItems":
            sent.append(params.get("ClientRequestToken"))
        return real(client, op, params)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    api.make_task("t", n_samples=2)
    _, c = api.claim("t", "alice")
    sid, lease = c["sample"]["id"], {"lease_id": c["lease"]["id"]}
    api.ok("POST", f"/tasks/t/samples/{sid}/heartbeat", user="alice", body=lease)
    api.ok("PUT", f"/tasks/t/samples/{sid}/draft", user="alice", body={**lease, "annotation": polygon()})
    assert api.submit("t", "alice", c)[0] == 200
    _, c2 = api.claim("t", "alice")
    api.ok("POST", f"/tasks/t/samples/{c2['sample']['id']}/release", user="alice",
           body={"lease_id": c2["lease"]["id"]})
    assert len(sent) == 7 and all(sent) and len(set(sent)) == 7  # register, claim x2, ...
    one, two = Transaction(), Transaction()
    for tx in (one, two):
        tx.update(Task("t"), actions=[Task.total.add(1)], name="task")
    tokens = []
    for tx in (one, two):
        monkeypatch.setattr(tx._connection, "transact_write_items",
                            lambda **kw: tokens.append(kw["client_request_token"]))
        tx._commit()
    assert tokens[0] == tokens[1] and len(tokens[0]) <= 36
