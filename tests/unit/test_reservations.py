"""The reservation ahead (leases.reserve): the next sample held while the current one is worked
on, so the page can show it at once. It counts like a lease, is one per annotator, becomes the
holder's next lease with the same id, lapses and is given back like one, and is never granted
when the task is in its last stretch."""
from conftest import polygon

from chalicelib import leases, reconcile
from chalicelib.models import Member, Sample


def reserve(api, task_id, user, body=None):
    return api.call("POST", f"/tasks/{task_id}/claim", user=user,
                    body={"ahead": True} if body is None else body)


def submit_next(api, task_id, user, claimed, ahead=True):
    sid = claimed["sample"]["id"]
    return api.ok("POST", f"/tasks/{task_id}/samples/{sid}/submit", user=user, body={
        "lease_id": claimed["lease"]["id"], "annotation": polygon(), "submission_id": f"sub-{sid}-{user}",
        "next": True, "ahead": ahead})


def test_the_reservation_becomes_the_next_lease_with_its_id_and_counts_like_one(api):
    api.make_task("t", n_samples=20)
    _, first = api.claim("t", "alice")
    status, ahead = reserve(api, "t", "alice")
    assert status == 200 and ahead["lease"]["ahead"] is True
    assert ahead["sample"]["id"] != first["sample"]["id"] and ahead["sample"]["files"]
    progress = api.progress("t")
    assert (progress["in_progress"], progress["available"]) == (2, 18)
    # Nobody else gets the reserved sample.
    _, bob = api.claim("t", "bob")
    assert bob["sample"]["id"] not in (first["sample"]["id"], ahead["sample"]["id"])
    # Renewing answers the same reservation (one per annotator), later expiry or the same.
    _, again = reserve(api, "t", "alice")
    assert again["lease"]["id"] == ahead["lease"]["id"]
    assert again["lease"]["expires_at"] >= ahead["lease"]["expires_at"]
    answer = submit_next(api, "t", "alice", first)
    assert answer["next"]["sample"]["id"] == ahead["sample"]["id"]
    assert answer["next"]["lease"] == {"id": ahead["lease"]["id"],
                                       "expires_at": answer["next"]["lease"]["expires_at"]}
    third = answer["ahead"]
    assert third["lease"]["ahead"] and third["sample"]["id"] not in \
        (first["sample"]["id"], ahead["sample"]["id"], bob["sample"]["id"])
    member = Member.get("t", "alice")
    assert (member.lease_sample, member.ahead_sample) == (ahead["sample"]["id"], third["sample"]["id"])
    # The converted lease works like any: draft and submit with the reservation's id.
    api.ok("PUT", f"/tasks/t/samples/{ahead['sample']['id']}/draft", user="alice",
           body={"lease_id": ahead["lease"]["id"], "annotation": polygon()})
    assert submit_next(api, "t", "alice", answer["next"], ahead=False)["next"]["sample"]["id"] == \
        third["sample"]["id"]
    assert api.progress("t")["in_progress"] == 2  # alice's lease and bob's
    assert reconcile.drift("t") == {}


def test_who_may_not_reserve_and_bad_bodies_get_their_4xx(api):
    api.make_task("t", n_samples=20, annotators=["alice", "bob"])
    status, data = reserve(api, "t", "alice")
    assert status == 409 and data["error"]["code"] == "no_lease", data
    assert reserve(api, "t", "mallory")[0] in (403, 404)
    api.claim("t", "alice")
    for body in ({"ahead": "soon"}, {"ahead": True, "extra": 1}):
        status, data = reserve(api, "t", "alice", body)
        assert status == 400 and data["error"]["message"], data
    status, data = api.call("POST", "/tasks/t/claim", user="alice", raw="[1]")
    assert status == 400
    assert Member.get("t", "alice").ahead_id is None  # nothing was reserved by the refusals
    # An empty body and {"ahead": false} are a plain claim: the lease held, again.
    assert api.call("POST", "/tasks/t/claim", user="alice", body={"ahead": False})[0] == 200


def test_no_reservation_in_the_last_stretch_and_renewal_gives_it_back(api):
    # One annotator at work: reservations need more than 3 x 1 + 2 = 5 unfinished samples.
    api.make_task("small", n_samples=5)
    api.claim("small", "alice")
    assert reserve(api, "small", "alice")[0] == 204
    api.make_task("t", n_samples=6)
    api.claim("t", "alice")
    status, ahead = reserve(api, "t", "alice")
    assert status == 200
    # A second annotator starts: 6 unfinished samples no longer exceed 3 x 2 + 2.
    api.claim("t", "bob")
    assert reserve(api, "t", "alice")[0] == 204
    sample = Sample.get("t", ahead["sample"]["id"])
    assert "alice" not in leases.as_dict(sample.leases) and sample.dispatch_key
    assert Member.get("t", "alice").ahead_id is None
    assert api.progress("t")["in_progress"] == 2
    # Free for the next claimer again, in its original place in the order.
    _, cat = api.claim("t", "cat")
    assert cat["sample"]["id"] == ahead["sample"]["id"]


def test_a_reservation_lapses_like_a_lease(api, time_travel):
    api.make_task("t", n_samples=12, sample_visibility="public")
    _, first = api.claim("t", "alice")
    _, ahead = reserve(api, "t", "alice")
    time_travel.advance(leases.AHEAD_SECONDS + 1)
    assert api.progress("t")["in_progress"] == 1  # the lease (3600 s) only
    # Lapsed but untaken: still alice's, renewed or converted with its id.
    _, again = reserve(api, "t", "alice")
    assert again["lease"]["id"] == ahead["lease"]["id"]
    time_travel.advance(leases.AHEAD_SECONDS + 1)
    # Taken by someone else once lapsed: never two holders; alice's next claim gets another.
    status, bob = api.call("POST", f"/tasks/t/samples/{ahead['sample']['id']}/claim", user="bob")
    assert status == 200, bob
    answer = submit_next(api, "t", "alice", first, ahead=False)
    assert answer["next"]["sample"]["id"] not in (ahead["sample"]["id"], first["sample"]["id"])
    assert answer["next"]["lease"]["id"] != ahead["lease"]["id"]
    status, data = api.call("POST", f"/tasks/t/samples/{ahead['sample']['id']}/release", user="alice",
                            body={"lease_id": ahead["lease"]["id"]})
    assert status == 409 and data["error"]["code"] == "lease_lost"
    assert reconcile.drift("t") == {}


def test_release_and_admin_end_give_a_reservation_back(api):
    api.make_task("t", n_samples=12)
    api.claim("t", "alice")
    _, ahead = reserve(api, "t", "alice")
    sid = ahead["sample"]["id"]
    listed = api.ok("GET", "/tasks/t/leases")["leases"]
    mine = [(l["sample_id"], l.get("ahead", False)) for l in listed if l["user"] == "alice"]
    assert len(mine) == 2 and (sid, True) in mine
    # Bob may not release alice's reservation.
    status, _ = api.call("POST", f"/tasks/t/samples/{sid}/release", user="bob",
                         body={"lease_id": ahead["lease"]["id"]})
    assert status == 409
    api.ok("POST", f"/tasks/t/samples/{sid}/release", user="alice", body={"lease_id": ahead["lease"]["id"]})
    assert api.progress("t")["in_progress"] == 1 and Member.get("t", "alice").lease_id
    _, ahead = reserve(api, "t", "alice")
    assert api.ok("DELETE", f"/tasks/t/leases/{ahead['sample']['id']}")["ended"] == ["alice"]
    member = Member.get("t", "alice")
    assert member.ahead_id is None and member.lease_id  # her current lease is untouched
    assert api.progress("t")["in_progress"] == 1
    assert reconcile.drift("t") == {}


def test_a_submit_that_landed_answers_even_when_no_reservation_can_be_made(api, monkeypatch):
    api.make_task("t", n_samples=12)
    _, first = api.claim("t", "alice")

    def busy(task, user):
        raise leases.Unavailable("The database is busy; retry the same request.")
    monkeypatch.setattr(leases, "reserve", busy)
    answer = submit_next(api, "t", "alice", first)
    assert answer["ahead"] is None and answer["next"]["sample"]["id"] != first["sample"]["id"]
    assert api.progress("t")["annotations"] == 1
