"""The annotator loop in-process: claim, heartbeat, release, draft, submit, and progress."""
import uuid

import pytest
from conftest import polygon


def test_claim_returns_signed_image_and_lease(api):
    api.make_task("t")
    status, got = api.claim("t", "alice")
    assert status == 200
    assert got["sample"]["id"] == "s000"  # sequential: registration order
    url = got["sample"]["files"]["image.png"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=900" in url and "uploads/t/s000/image.png" in url
    assert got["sample"]["annotation"] is None and got["sample"]["version"] == 0
    assert got["lease"]["id"] and got["lease"]["expires_at"] > 0


def test_second_claim_returns_the_same_lease(api):
    api.make_task("t")
    _, first = api.claim("t", "alice")
    _, again = api.claim("t", "alice")
    assert again["sample"]["id"] == first["sample"]["id"]
    assert again["lease"] == first["lease"]
    assert api.progress("t")["in_progress"] == 1


def test_two_annotators_get_different_samples(api):
    api.make_task("t")
    ids = {api.claim("t", u)[1]["sample"]["id"] for u in ("alice", "bob", "carol")}
    assert len(ids) == 3
    assert api.claim("t", "dave")[0] == 204
    p = api.progress("t")
    assert (p["in_progress"], p["available"]) == (3, 0)


def test_draft_then_submit_stores_versions_and_counts(api):
    api.make_task("t", n_samples=2)
    _, c = api.claim("t", "alice")
    sid, lid = c["sample"]["id"], c["lease"]["id"]
    d = api.ok("PUT", f"/tasks/t/samples/{sid}/draft", user="alice",
               body={"lease_id": lid, "annotation": polygon(x=1)})
    assert d == {"version": 1}
    # reopening the page brings the draft back
    _, again = api.claim("t", "alice")
    assert again["sample"]["annotation"]["features"][0]["geometry"]["coordinates"][0][0] == [1, 10]
    assert again["sample"]["version"] == 1
    status, s = api.submit("t", "alice", c, annotation=polygon(x=2))
    assert status == 200 and s["version"] == 2
    assert s["progress"]["completed"] == 1 and s["progress"]["annotations"] == 1
    assert s["progress"]["by_annotator"] == {"alice": {"submitted": 1}}
    detail = api.ok("GET", f"/tasks/t/samples/{sid}")
    assert detail["status"] == "complete"
    assert [(v["version"], v["by"], v["kind"]) for v in detail["versions"]] == [
        (1, "alice", "draft"), (2, "alice", "submitted")]


def test_submitted_sample_is_never_handed_out_again(api):
    api.make_task("t", n_samples=2)
    seen = []
    for user in ("alice", "bob", "carol"):
        status, c = api.claim("t", user)
        if status == 204:
            break
        seen.append(c["sample"]["id"])
        assert api.submit("t", user, c)[0] == 200
    assert sorted(seen) == ["s000", "s001"]
    assert api.claim("t", "dave")[0] == 204
    p = api.progress("t")
    assert (p["total"], p["completed"], p["available"], p["in_progress"]) == (2, 2, 0, 0)


def test_expired_lease_is_claimable_again_without_a_sweeper(api, time_travel):
    api.make_task("t", n_samples=1, lease_seconds=60)
    _, a = api.claim("t", "alice")
    assert api.claim("t", "bob")[0] == 204
    time_travel.advance(61)
    assert api.progress("t")["in_progress"] == 0 and api.progress("t")["available"] == 1
    status, b = api.claim("t", "bob")
    assert status == 200 and b["sample"]["id"] == a["sample"]["id"]
    # alice's lease is lost: everything she does on it is a 409 that says so
    sid = a["sample"]["id"]
    for method, path, body in [
            ("POST", "heartbeat", {"lease_id": a["lease"]["id"]}),
            ("PUT", "draft", {"lease_id": a["lease"]["id"], "annotation": polygon()})]:
        status, data = api.call(method, f"/tasks/t/samples/{sid}/{path}", user="alice", body=body)
        assert status == 409 and data["error"]["code"] == "lease_lost", data
    status, data = api.submit("t", "alice", a)
    assert status == 409 and data["error"]["code"] == "lease_lost"
    assert api.progress("t")["annotations"] == 0
    assert api.submit("t", "bob", b)[0] == 200


def test_expired_but_untaken_lease_can_still_be_submitted(api, time_travel):
    api.make_task("t", n_samples=1, lease_seconds=60)
    _, a = api.claim("t", "alice")
    time_travel.advance(600)
    status, s = api.submit("t", "alice", a)
    assert status == 200 and s["progress"]["completed"] == 1


def test_heartbeat_extends_and_release_gives_back(api, time_travel):
    api.make_task("t", n_samples=2, lease_seconds=60)
    _, a = api.claim("t", "alice")
    sid, lid = a["sample"]["id"], a["lease"]["id"]
    time_travel.advance(50)
    hb = api.ok("POST", f"/tasks/t/samples/{sid}/heartbeat", user="alice", body={"lease_id": lid})
    assert hb["expires_at"] >= a["lease"]["expires_at"] + 50
    time_travel.advance(50)  # past the first expiry, within the extended one
    _, b = api.claim("t", "bob")
    assert b["sample"]["id"] != sid
    api.ok("POST", f"/tasks/t/samples/{sid}/release", user="alice", body={"lease_id": lid})
    assert api.progress("t")["in_progress"] == 1
    # a released sample goes to the back of the queue: alice gets it back only when nothing else is left
    _, again = api.claim("t", "alice")
    assert again["sample"]["id"] == sid and again["lease"]["id"] != lid
    assert api.call("POST", f"/tasks/t/samples/{sid}/heartbeat", user="alice",
                    body={"lease_id": lid})[0] == 409


def test_skipped_sample_goes_to_the_back(api):
    api.make_task("t", n_samples=3)
    _, a = api.claim("t", "alice")
    api.ok("POST", f"/tasks/t/samples/{a['sample']['id']}/release", user="alice",
           body={"lease_id": a["lease"]["id"]})
    _, b = api.claim("t", "alice")
    assert (a["sample"]["id"], b["sample"]["id"]) == ("s000", "s001")


def test_submit_is_idempotent_by_submission_id(api):
    api.make_task("t", n_samples=2)
    _, c = api.claim("t", "alice")
    sub_id = uuid.uuid4().hex
    first = api.submit("t", "alice", c, submission_id=sub_id)
    again = api.submit("t", "alice", c, submission_id=sub_id)
    assert first[0] == again[0] == 200 and first[1]["version"] == again[1]["version"]
    p = api.progress("t")
    assert (p["annotations"], p["completed"]) == (1, 1)
    assert len(api.ok("GET", f"/tasks/t/samples/{c['sample']['id']}")["versions"]) == 1
    # Keys are per user and sample: the same id from someone else is their own (lease-less) submit.
    status, data = api.call("POST", f"/tasks/t/samples/{c['sample']['id']}/submit", user="bob",
                            body={"lease_id": "x", "annotation": polygon(), "submission_id": sub_id})
    assert status == 409 and data["error"]["code"] == "lease_lost"


def test_submit_with_next_returns_the_next_claim(api):
    """One request per image: the answer carries what a claim would, and null when nothing is left."""
    api.make_task("t", n_samples=3)
    assert "next" not in api.submit("t", "alice", api.claim("t", "alice")[1])[1]  # only when asked
    _, c = api.claim("t", "alice")
    sid = c["sample"]["id"]
    body = {"lease_id": c["lease"]["id"], "annotation": polygon(), "submission_id": uuid.uuid4().hex, "next": True}
    got = api.ok("POST", f"/tasks/t/samples/{sid}/submit", user="alice", body=body)
    nxt = got["next"]
    assert got["version"] == 1 and nxt["sample"]["id"] != sid
    assert "X-Amz-Signature=" in nxt["sample"]["files"]["image.png"]
    assert api.claim("t", "alice")[1]["lease"] == nxt["lease"]  # it is the caller's live lease
    again = api.ok("POST", f"/tasks/t/samples/{sid}/submit", user="alice", body=body)
    assert again["version"] == 1 and again["next"]["lease"] == nxt["lease"]  # a retry claims nothing more
    assert api.progress("t")["in_progress"] == 1
    last = api.ok("POST", f"/tasks/t/samples/{nxt['sample']['id']}/submit", user="alice", body={
        "lease_id": nxt["lease"]["id"], "annotation": polygon(), "submission_id": uuid.uuid4().hex, "next": True})
    assert last["next"] is None
    status, bad = api.call("POST", f"/tasks/t/samples/{sid}/submit", user="alice",
                           body={**body, "submission_id": uuid.uuid4().hex, "next": "please"})
    assert status == 400 and "next" in bad["error"]["message"]


def test_overlap_needs_distinct_annotators(api):
    api.make_task("t", n_samples=2, annotations_per_sample=2)
    _, a1 = api.claim("t", "alice")
    _, b1 = api.claim("t", "bob")
    assert a1["sample"]["id"] == "s000" and b1["sample"]["id"] == "s000"  # breadth: both slots
    api.submit("t", "alice", a1)
    _, a2 = api.claim("t", "alice")
    assert a2["sample"]["id"] == "s001"  # never the one she submitted
    api.submit("t", "alice", a2)
    assert api.claim("t", "alice")[0] == 204
    api.submit("t", "bob", b1)
    p = api.progress("t")
    assert (p["completed"], p["annotations"]) == (1, 3)
    _, b2 = api.claim("t", "bob")
    assert b2["sample"]["id"] == "s001"
    assert b2["sample"]["annotation"] is None  # independent: alice's work is not shown to bob


def test_min_completion_time(api, time_travel):
    api.make_task("t", n_samples=1, min_completion_time=30)
    _, c = api.claim("t", "alice")
    status, data = api.submit("t", "alice", c)
    assert status == 409 and data["error"]["code"] == "too_fast"
    time_travel.advance(31)
    assert api.submit("t", "alice", c)[0] == 200


def test_public_samples_can_be_opened_by_name(api):
    api.make_task("pub", n_samples=3, sample_visibility="public")
    api.make_task("prot", n_samples=3)
    status, c = api.call("POST", "/tasks/pub/samples/s002/claim", user="alice")
    assert status == 200 and c["sample"]["id"] == "s002"
    status, data = api.call("POST", "/tasks/pub/samples/s002/claim", user="bob")
    assert status == 409 and data["error"]["code"] == "sample_leased"
    status, data = api.call("POST", "/tasks/pub/samples/s001/claim", user="alice")
    assert status == 409 and data["error"]["code"] == "lease_held"
    assert api.call("POST", "/tasks/prot/samples/s002/claim", user="alice")[0] == 403
    assert api.call("GET", "/tasks/prot/samples", user="alice")[0] == 403
    assert len(api.ok("GET", "/tasks/pub/samples", user="alice")["samples"]) == 3


def test_pre_annotation_is_version_zero(api):
    api.make_task("t", n_samples=0)
    api.ok("POST", "/tasks/t/samples", 201, body={"samples": [
        {"id": "a", "files": {"image.png": "uploads/t/dir with space/ü.png"}, "annotation": polygon(x=7)}]})
    _, c = api.claim("t", "alice")
    assert c["sample"]["version"] == 0
    assert c["sample"]["annotation"]["features"][0]["geometry"]["coordinates"][0][0] == [7, 10]
    assert "dir%20with%20space/%C3%BC.png" in c["sample"]["files"]["image.png"]
    versions = api.ok("GET", "/tasks/t/samples/a")["versions"]
    assert [(v["version"], v["kind"]) for v in versions] == [(0, "pre")]


BAD_ANNOTATIONS = [
    ({"type": "FeatureCollection"}, "features"),
    ({"type": "Feature", "features": []}, "type"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"label": "c"},
      "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}}]},
     "closed"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"label": 3},
      "geometry": {"type": "Point", "coordinates": [1, 2]}}]}, "label"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"label": "c"},
      "geometry": {"type": "Circle", "coordinates": [1, 2]}}]}, "type"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"label": "c"},
      "geometry": {"type": "LineString", "coordinates": [[1, 2]]}}]}, "at least 2"),
]


@pytest.mark.parametrize("annotation,hint", BAD_ANNOTATIONS)
def test_bad_annotations_are_400_and_store_nothing(api, annotation, hint):
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    sid = c["sample"]["id"]
    for method, path, extra in [("PUT", "draft", {}), ("POST", "submit", {"submission_id": "abcdefgh12"})]:
        status, data = api.call(method, f"/tasks/t/samples/{sid}/{path}", user="alice",
                                body={"lease_id": c["lease"]["id"], "annotation": annotation, **extra})
        assert status == 400 and hint in data["error"]["message"], data
    assert api.ok("GET", f"/tasks/t/samples/{sid}")["versions"] == []
    assert api.progress("t")["annotations"] == 0


def test_nan_coordinates_are_rejected(api):
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    raw = ('{"lease_id": "%s", "annotation": {"type": "FeatureCollection", "features": [{"type": '
           '"Feature", "properties": {"label": "c"}, "geometry": {"type": "Point", "coordinates": '
           '[NaN, 1]}}]}}' % c["lease"]["id"])
    status, data = api.call("PUT", f"/tasks/t/samples/{c['sample']['id']}/draft", user="alice", raw=raw)
    assert status == 400 and "finite" in data["error"]["message"]


def test_too_large_annotations_are_413(api):
    api.make_task("t", n_samples=1)
    _, c = api.claim("t", "alice")
    many = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"label": "c"}, "geometry": {"type": "Point", "coordinates": [1, 1]}}
    ] * 10_001}
    status, data = api.call("PUT", f"/tasks/t/samples/{c['sample']['id']}/draft", user="alice",
                            body={"lease_id": c["lease"]["id"], "annotation": many})
    assert status == 413 and data["error"]["code"] == "annotation_too_large"
    huge = '{"lease_id": "x", "pad": "' + "x" * (5 * 1024 * 1024) + '"}'
    status, data = api.call("PUT", f"/tasks/t/samples/{c['sample']['id']}/draft", user="alice", raw=huge)
    assert status == 413 and data["error"]["code"] == "body_too_large"


def test_wrong_lease_and_unknown_sample(api):
    api.make_task("t", n_samples=2)
    _, c = api.claim("t", "alice")
    sid = c["sample"]["id"]
    status, data = api.call("POST", f"/tasks/t/samples/{sid}/heartbeat", user="alice", body={"lease_id": "nope"})
    assert status == 409 and data["error"]["code"] == "lease_lost"
    status, data = api.call("POST", f"/tasks/t/samples/{sid}/heartbeat", user="bob",
                            body={"lease_id": c["lease"]["id"]})
    assert status == 409
    status, data = api.call("POST", "/tasks/t/samples/zzz/heartbeat", user="alice", body={"lease_id": "x"})
    assert status == 404 and data["error"]["code"] == "sample_not_found"
    assert api.call("POST", f"/tasks/t/samples/{sid}/heartbeat", user="alice", body={})[0] == 400


def test_sample_registration_rules(api):
    api.make_task("t", n_samples=2)
    body = {"samples": [{"id": "s001", "files": {"image.png": "uploads/t/x.png"}},
                        {"id": "new", "files": {"image.png": "uploads/t/y.png"}}]}
    status, data = api.call("POST", "/tasks/t/samples", body=body)
    assert status == 409 and "s001" in data["error"]["message"]
    assert api.progress("t")["total"] == 2
    got = api.ok("POST", "/tasks/t/samples?exist_ok=1", 201, body=body)
    assert got == {"created": 1, "existing": ["s001"]}
    assert api.progress("t")["total"] == 3
    for bad in [{"samples": []},
                {"samples": [{"id": "a b", "files": {"i.png": "k"}}]},
                {"samples": [{"id": "a", "files": {}}]},
                {"samples": [{"id": "a", "files": {"i.png": "../etc/passwd"}}]},
                {"samples": [{"id": "a", "files": {"i.png": "http://insecure/x.png"}}]},
                {"samples": [{"id": "a", "files": {"i.png": "k"}}, {"id": "a", "files": {"i.png": "k"}}]}]:
        status, data = api.call("POST", "/tasks/t/samples", body=bad)
        assert status == 400, (bad, data)
    status, data = api.call("POST", "/tasks/t/samples", body={"samples": [
        {"id": f"x{i}", "files": {"i.png": "uploads/t/k"}} for i in range(1001)]})
    assert status == 413
    assert api.call("POST", "/tasks/t/samples", user="alice", body=body)[0] == 403
    assert api.progress("t")["total"] == 3


def test_sample_listing_pages_and_filters(api):
    api.make_task("t", n_samples=5)
    _, c = api.claim("t", "alice")
    api.submit("t", "alice", c)
    page = api.ok("GET", "/tasks/t/samples?limit=2")
    assert [s["id"] for s in page["samples"]] == ["s000", "s001"] and page["cursor"]
    rest = api.ok("GET", f"/tasks/t/samples?limit=10&cursor={page['cursor']}")
    assert [s["id"] for s in rest["samples"]] == ["s002", "s003", "s004"] and rest["cursor"] is None
    done = api.ok("GET", "/tasks/t/samples?status=complete")["samples"]
    assert [s["id"] for s in done] == ["s000"]
    assert api.call("GET", "/tasks/t/samples?status=weird")[0] == 400
    assert api.call("GET", "/tasks/t/samples?limit=0")[0] == 400
    assert api.call("GET", "/tasks/t/samples?cursor=%%%")[0] == 400


def test_random_sampling_is_fixed_per_task(api):
    api.make_task("r", n_samples=20, sampling="random")
    order = []
    for i in range(20):
        _, c = api.claim("r", f"u{i}")
        order.append(c["sample"]["id"])
    assert sorted(order) == [f"s{i:03d}" for i in range(20)]
    assert order != sorted(order)
    api.make_task("r2", n_samples=0)  # same ids in a second task: its own order
    from chalicelib.leases import rank
    from chalicelib.models import Task
    assert rank(Task("r", sampling="random"), "s001", 1) == rank(Task("r", sampling="random"), "s001", 1)


def test_claims_spread_over_a_wider_page_while_races_are_lost_lately(api, time_travel, monkeypatch):
    """Claimers that collided lately on a task start at a random sample of a wider page instead
    of the head where the others are; the memory fades, and a lone annotator is back in order.
    Another task is not affected."""
    from chalicelib import clock, leases
    api.make_task("t", n_samples=20)
    api.make_task("other", n_samples=20)
    monkeypatch.setattr(leases.random, "choice", lambda seq: seq[-1])  # the page's last
    for _ in range(2):
        leases._races.lost("t", clock.now())
    assert api.claim("t", "alice")[1]["sample"]["id"] == f"s{leases.FIRST_PAGE * 4 - 1:03d}"
    assert api.claim("other", "alice")[1]["sample"]["id"] == "s000"
    time_travel.advance(leases.RACE_MEMORY + 1)
    assert api.claim("t", "bob")[1]["sample"]["id"] == "s000"


def test_race_memory_is_bounded_by_task_and_by_count():
    from chalicelib.leases import RACE_MEMORY, _Races
    races = _Races(tasks=2)
    for task in ("a", "b", "c"):
        for _ in range(20):
            races.lost(task, 1000)
    assert races.lately("a", 1000) == 0  # forgotten: two tasks at most
    assert races.lately("c", 1000) == 8  # the last few races only
    assert races.lately("c", 1000 + RACE_MEMORY) == 0


def test_a_sample_stores_only_each_slots_expiry_and_the_member_row_the_rest(api, time_travel):
    """The sample item is what every claim and submit writes, by the kilobyte: a slot is its
    holder's expiry; lease id, start and draft counts live in the holder's member row."""
    from chalicelib import leases
    from chalicelib.models import Member, Sample
    api.make_task("t", n_samples=1, annotations_per_sample=3, min_completion_time=5)
    _, a = api.claim("t", "alice")
    time_travel.advance(3)
    _, b = api.claim("t", "bob")
    api.ok("PUT", "/tasks/t/samples/s000/draft", user="alice",
           body={"lease_id": a["lease"]["id"], "annotation": polygon()})
    slots = leases.as_dict(Sample.get("t", "s000").leases)
    alice = Member.get("t", "alice")
    assert slots == {"alice": alice.lease_exp, "bob": b["lease"]["expires_at"]}
    assert (alice.lease_id, alice.drafts) == (a["lease"]["id"], 1)
    # min_completion_time counts from the member row's start: bob is 3 s younger than alice.
    time_travel.advance(2)
    assert api.submit("t", "alice", a)[0] == 200
    status, err = api.submit("t", "bob", b)
    assert status == 409 and err["error"]["code"] == "too_fast"


def test_a_sample_stored_with_the_old_slot_shape_keeps_working_and_is_rewritten_bare(api):
    """Tables written before slots were bare expiries (a developer's .local-data) hold
    {"id", "exp", "at"} per slot: leases on them go on, and the next change stores expiries."""
    from chalicelib import leases
    from chalicelib.models import Sample
    api.make_task("t", n_samples=1, annotations_per_sample=2)
    _, a = api.claim("t", "alice")
    sample = Sample.get("t", "s000")
    exp = a["lease"]["expires_at"]
    sample.update(actions=[Sample.leases.set({"alice": {"id": a["lease"]["id"], "exp": exp, "at": exp - 3600}})])
    assert api.progress("t")["in_progress"] == 1
    _, b = api.claim("t", "bob")
    assert b["sample"]["id"] == "s000"
    assert api.submit("t", "alice", a)[0] == 200
    assert leases.as_dict(Sample.get("t", "s000").leases) == {"bob": b["lease"]["expires_at"]}
