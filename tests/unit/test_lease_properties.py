"""Property-based test of the lease state machine: random interleavings of claim, heartbeat,
release, draft, submit and clock jumps by several annotators keep every invariant."""
import uuid

from chalice.test import Client
from conftest import Api, polygon
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from moto import mock_aws

from chalicelib import bootstrap, clock, reconcile
from chalicelib.leases import live_leases, needed
from chalicelib.models import Member, Sample, Task

USERS = ["ann", "ben", "cat"]
LEASE = 100


class Leases(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        bootstrap.main()
        self.t = 1_800_000_000
        self.real_now = clock.now
        clock.now = lambda: self.t
        from app import app
        self.client = Client(app)
        self.api = Api(self.client)
        self.held = {}  # user -> claim answer, as the user's browser knows it

    def teardown(self):
        clock.now = self.real_now
        self.mock.stop()

    @initialize(n=st.integers(1, 3), samples=st.integers(1, 2))
    def make(self, n, samples):
        self.n = n
        self.api.make_task("p", n_samples=samples, annotations_per_sample=n, lease_seconds=LEASE)

    def _eligible_exists(self, user):
        task = Task.get("p")
        for s in Sample.query("p"):
            live = live_leases(s, self.t)
            if user not in (s.submitters or set()) and user not in live and \
                    needed(task, s) - s.done - len(live) > 0:
                return True
        return False

    @rule(user=st.sampled_from(USERS))
    def claim(self, user):
        member = Member.get("p", user) if Member.count("p", Member.user == user) else None
        had_live = bool(member and member.lease_id and member.lease_exp > self.t)
        could = self._eligible_exists(user)
        status, got = self.api.claim("p", user)
        if had_live:
            assert status == 200 and got["lease"]["id"] == member.lease_id
        else:
            assert status == (200 if could else 204), (status, got)
        if status == 200:
            self.held[user] = got

    def _holder(self, pick):
        """One of the users holding a lease (as their page believes), so actions are not no-ops."""
        users = sorted(self.held)
        return users[pick % len(users)] if users else None

    @rule(pick=st.integers(0, 9))
    def heartbeat(self, pick):
        user = self._holder(pick)
        c = self.held.get(user)
        if c:
            status, _ = self.api.call("POST", f"/tasks/p/samples/{c['sample']['id']}/heartbeat",
                                      user=user, body={"lease_id": c["lease"]["id"]})
            assert status in (200, 409)

    @rule(pick=st.integers(0, 9))
    def release(self, pick):
        user = self._holder(pick)
        c = self.held.pop(user, None)
        if c:
            status, _ = self.api.call("POST", f"/tasks/p/samples/{c['sample']['id']}/release",
                                      user=user, body={"lease_id": c["lease"]["id"]})
            assert status in (200, 409)

    @rule(pick=st.integers(0, 9))
    def draft(self, pick):
        user = self._holder(pick)
        c = self.held.get(user)
        if c:
            status, _ = self.api.call("PUT", f"/tasks/p/samples/{c['sample']['id']}/draft",
                                      user=user, body={"lease_id": c["lease"]["id"],
                                                       "annotation": polygon()})
            assert status in (200, 409)

    @rule(pick=st.integers(0, 9), repeat=st.booleans())
    def submit(self, pick, repeat):
        user = self._holder(pick)
        c = self.held.pop(user, None)
        if c:
            before = Task.get("p").annotations
            sub_id = uuid.uuid4().hex
            status, got = self.api.submit("p", user, c, submission_id=sub_id)
            assert status in (200, 409)
            assert Task.get("p").annotations == before + (status == 200)
            if repeat:
                status2, got2 = self.api.submit("p", user, c, submission_id=sub_id)
                assert status2 == status and (status != 200 or got2["version"] == got["version"])
                assert Task.get("p").annotations == before + (status == 200)

    @rule(seconds=st.sampled_from([1, 30, LEASE - 1, LEASE + 1, 3 * LEASE]))
    def wait(self, seconds):
        self.t += seconds

    @invariant()
    def consistent(self):
        if not hasattr(self, "n"):
            return
        task = Task.get("p")
        live_total, users_with_lease, free = 0, [], 0
        for s in Sample.query("p"):
            live = live_leases(s, self.t)
            submitters = s.submitters or set()
            assert len(submitters) == s.done <= needed(task, s)
            assert s.done + len(live) <= needed(task, s), "over-leased sample"
            assert not submitters & set(live), "leased to someone who submitted it"
            live_total += len(live)
            users_with_lease += list(live)
            free += s.done < needed(task, s) and needed(task, s) - s.done - len(live) > 0
        assert len(users_with_lease) == len(set(users_with_lease)), "two leases for one user"
        assert reconcile.drift("p") == {}
        p = self.api.progress("p")
        assert p["in_progress"] == live_total
        assert p["available"] == free


TestLeases = Leases.TestCase
TestLeases.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                               suppress_health_check=[HealthCheck.too_slow])
