"""The lease state machine with reservations ahead (leases.reserve) mixed in: random
interleavings of claim, reserve, release, draft, submit (with and without "next"/"ahead") and
clock jumps keep every invariant: no slot held twice, at most one lease and one reservation per
annotator, member rows naming what the samples hold, exact progress, no counter drift."""
import uuid
from collections import Counter

from conftest import polygon
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from test_lease_properties import USERS, Leases

from chalicelib import leases, reconcile
from chalicelib.leases import as_dict, live_leases, needed
from chalicelib.models import Member, Sample, Task


class Reservations(Leases):
    """Margins of zero: reservations are granted down to the last sample, so they collide with
    claims, lapse and get taken as often as possible."""
    MARGIN = (0, 0)  # (AHEAD_HOLDS, AHEAD_SPARE)

    def __init__(self):
        super().__init__()
        self.saved = (leases.AHEAD_HOLDS, leases.AHEAD_SPARE)
        leases.AHEAD_HOLDS, leases.AHEAD_SPARE = self.MARGIN
        self.ahead = {}  # user -> reservation answer, as the user's page knows it

    def teardown(self):
        leases.AHEAD_HOLDS, leases.AHEAD_SPARE = self.saved
        super().teardown()

    def _slots(self):
        """user -> {"lease": sample_id, "ahead": sample_id} of the live slots."""
        out, members = {}, {m.user: m for m in Member.query("p")}
        for s in Sample.query("p"):
            for user in live_leases(s, self.t):
                ahead = members[user].ahead_sample == s.sample_id  # the row names which is which
                out.setdefault(user, {})["ahead" if ahead else "lease"] = s.sample_id
        return out

    def _held_only_ahead(self, user):
        """Samples `user` could work on if nobody's reservation counted."""
        task = Task.get("p")
        found, members = [], {m.user: m for m in Member.query("p")}
        for s in Sample.query("p"):
            live = live_leases(s, self.t)
            leased = [u for u in live if members[u].ahead_sample != s.sample_id]
            if user not in (s.submitters or set()) and user not in live and \
                    needed(task, s) - s.done - len(leased) > 0 and len(leased) < len(live):
                found.append(s.sample_id)
        return found

    @rule(user=st.sampled_from(USERS))
    def claim(self, user):
        before = self._slots().get(user, {})
        reserved = Member.get("p", user).ahead_id if "ahead" in before else None
        could = self._eligible_exists(user)
        status, got = self.api.claim("p", user)
        assert status in (200, 204), (status, got)
        if status == 204:
            assert not before and not could, before
            if self.MARGIN != (0, 0):  # the rule's promise: no reservation keeps work from anyone
                assert not self._held_only_ahead(user)
            return
        if "lease" in before:
            assert got["sample"]["id"] == before["lease"]
        elif reserved:  # the reservation becomes the lease, same id
            assert (got["sample"]["id"], got["lease"]["id"]) == (before["ahead"], reserved)
        self.held[user] = got
        if "lease" not in before and reserved:
            self.ahead.pop(user, None)

    @rule(user=st.sampled_from(USERS))
    def reserve(self, user):
        status, got = self.api.call("POST", "/tasks/p/claim", user=user, body={"ahead": True})
        assert status in (200, 204, 409), (status, got)
        if status == 409:
            assert got["error"]["code"] == "no_lease" and "lease" not in self._slots().get(user, {})
        if status == 200:
            assert got["lease"]["ahead"] is True
            self.ahead[user] = got

    @rule(pick=st.integers(0, 9))
    def release_ahead(self, pick):
        users = sorted(self.ahead)
        user = users[pick % len(users)] if users else None
        r = self.ahead.pop(user, None)
        if r:
            status, _ = self.api.call("POST", f"/tasks/p/samples/{r['sample']['id']}/release",
                                      user=user, body={"lease_id": r["lease"]["id"]})
            assert status in (200, 409)

    @rule(pick=st.integers(0, 9), ahead=st.booleans())
    def submit_next(self, pick, ahead):
        user = self._holder(pick)
        c = self.held.pop(user, None)
        if c:
            before = Task.get("p").annotations
            status, got = self.api.call(
                "POST", f"/tasks/p/samples/{c['sample']['id']}/submit", user=user,
                body={"lease_id": c["lease"]["id"], "annotation": polygon(),
                      "submission_id": uuid.uuid4().hex, "next": True, "ahead": ahead})
            assert status in (200, 409), (status, got)
            assert Task.get("p").annotations == before + (status == 200)
            if status == 200:
                if got["next"]:
                    self.held[user] = got["next"]
                if got.get("ahead"):
                    self.ahead[user] = got["ahead"]

    @invariant()
    def consistent(self):
        if not hasattr(self, "n"):
            return
        task = Task.get("p")
        live_total, holds, free = 0, Counter(), 0
        members = {m.user: m for m in Member.query("p")}
        for s in Sample.query("p"):
            live = live_leases(s, self.t)
            submitters = s.submitters or set()
            assert len(submitters) == s.done <= needed(task, s)
            assert s.done + len(live) <= needed(task, s), "over-leased sample"
            assert not submitters & set(live), "leased to someone who submitted it"
            live_total += len(live)
            # Whose slot is what: the member row names its lease and its reservation.
            holds.update((u, members[u].ahead_sample == s.sample_id) for u in live)
            free += s.done < needed(task, s) and needed(task, s) - s.done - len(live) > 0
        assert max(holds.values(), default=0) <= 1, f"two leases or reservations for one user: {holds}"
        for m in members.values():
            if (m.ahead_exp or 0) > self.t:  # a live reservation is the sample's slot, and vice versa
                slot = as_dict(Sample.get("p", m.ahead_sample).leases).get(m.user)
                assert slot == m.ahead_exp and m.lease_sample != m.ahead_sample, (m.user, slot)
            assert holds[(m.user, True)] == ((m.ahead_exp or 0) > self.t)
        assert reconcile.drift("p") == {}
        p = self.api.progress("p")
        assert p["in_progress"] == live_total
        assert p["available"] == free


class ReservationsWithMargin(Reservations):
    """The real margins on tasks small enough to reach their last stretch: a claim never finds
    nothing while someone's reservation holds work it could do."""
    MARGIN = (leases.AHEAD_HOLDS, leases.AHEAD_SPARE)

    @initialize(n=st.integers(1, 2), samples=st.integers(5, 9))
    def make(self, n, samples):
        Leases.make(self, n, samples)


# Sized for make test on a busy machine (every step of every example goes through the API).
SETTINGS = settings(max_examples=12, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TestReservations = Reservations.TestCase
TestReservations.settings = SETTINGS
TestReservationsWithMargin = ReservationsWithMargin.TestCase
TestReservationsWithMargin.settings = SETTINGS
