"""Admin views and repairs: live leases, ending one, reopening, counter reconciliation."""
from chalicelib import reconcile
from chalicelib.models import Member, Task


def test_admin_sees_and_ends_leases(api):
    api.make_task("t", n_samples=3)
    _, a = api.claim("t", "alice")
    _, b = api.claim("t", "bob")
    live = api.ok("GET", "/tasks/t/leases")["leases"]
    assert {(l["user"], l["sample_id"]) for l in live} == {("alice", "s000"), ("bob", "s001")}
    assert api.call("GET", "/tasks/t/leases", user="alice")[0] == 403
    assert api.ok("DELETE", "/tasks/t/leases/s000") == {"ended": ["alice"]}
    status, data = api.submit("t", "alice", a)
    assert status == 409 and data["error"]["code"] == "lease_lost"
    assert api.progress("t")["in_progress"] == 1
    assert [l["user"] for l in api.ok("GET", "/tasks/t/leases")["leases"]] == ["bob"]
    # the freed sample goes behind fresh work; alice gets a new one
    _, again = api.claim("t", "alice")
    assert again["sample"]["id"] == "s002"
    assert api.ok("DELETE", "/tasks/t/leases/s000") == {"ended": []}
    assert api.call("DELETE", "/tasks/t/leases/nope")[0] == 404


def test_reopen_a_completed_sample(api):
    api.make_task("t", n_samples=1)
    _, a = api.claim("t", "alice")
    api.submit("t", "alice", a)
    assert api.claim("t", "bob")[0] == 204
    status, data = api.call("POST", "/tasks/t/samples/s000/reopen", user="bob")
    assert status == 403
    assert api.ok("POST", "/tasks/t/samples/s000/reopen")["status"] == "available"
    assert api.progress("t")["completed"] == 0
    assert api.claim("t", "alice")[0] == 204  # never again to someone who submitted it
    status, b = api.claim("t", "bob")
    assert status == 200 and b["sample"]["annotation"]["features"]  # starts from alice's work
    api.submit("t", "bob", b)
    p = api.progress("t")
    assert (p["completed"], p["annotations"]) == (1, 2)
    status, data = api.call("POST", "/tasks/t/samples/s000/reopen")
    assert status == 200
    api.make_task("u", n_samples=1)
    status, data = api.call("POST", "/tasks/u/samples/s000/reopen")
    assert status == 409 and data["error"]["code"] == "sample_not_complete"
    assert reconcile.drift("t") == {} and reconcile.drift("u") == {}


def test_reconcile_finds_and_fixes_injected_drift(api, capsys):
    api.make_task("t", n_samples=4)
    for user in ("alice", "bob"):
        _, c = api.claim("t", user)
        api.submit("t", user, c)
    assert reconcile.main(["t"]) == 0
    Task("t").update(actions=[Task.completed.add(5), Task.total.add(-1)])
    Member("t", "bob").update(actions=[Member.submitted.add(2)])
    found = reconcile.drift("t")
    assert found == {"completed": (7, 2), "total": (3, 4), "by_annotator.bob": (3, 1)}
    assert reconcile.main(["t"]) == 1
    assert '"recounted": 2' in capsys.readouterr().out
    assert reconcile.main(["t", "--fix"]) == 0
    assert reconcile.drift("t") == {}
    p = api.progress("t")
    assert (p["total"], p["completed"], p["by_annotator"]["bob"]["submitted"]) == (4, 2, 1)


def test_nothing_left_for_one_annotator_is_answered_without_reading_the_task(api, monkeypatch):
    """With overlap 2, an annotator who submitted every unfinished sample hears 204 at once:
    the claim reads no candidates, however many samples wait for someone else."""
    from chalicelib import leases
    api.make_task("o", n_samples=30, annotations_per_sample=2)
    for _ in range(30):
        _, c = api.claim("o", "alice")
        api.submit("o", "alice", c)
    picks = []
    real_pick = leases._pick
    monkeypatch.setattr(leases, "_pick", lambda *a: picks.append(a) or real_pick(*a))
    assert api.claim("o", "alice")[0] == 204 and picks == []
    status, b = api.claim("o", "bob")  # the others still get work
    assert status == 200 and len(picks) == 1
    api.submit("o", "bob", b)  # completes a sample: alice's open count drops with it
    assert reconcile.drift("o") == {}
    api.ok("POST", f"/tasks/o/samples/{b['sample']['id']}/reopen")  # and rises again
    assert reconcile.drift("o") == {}
    assert api.claim("o", "alice")[0] == 204 and len(picks) == 1
