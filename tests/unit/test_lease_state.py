"""The derived lease state (chalicelib/lease_state.py) on model instances built in memory: no
database, no processes (a PURE_TESTS member of `make check`)."""
import pytest

from chalicelib.errors import TooMany
from chalicelib.lease_state import (dispatch_key, eligible, free_slots, latest_head, live_leases, slots,
                                    needed, next_version, rank, start_head, status, within_rate)
from chalicelib.models import Sample, Task

T = 1_800_000_000


def task(**fields) -> Task:
    return Task("t", name="t", **{"annotations_per_sample": 1, **fields})


def sample(sample_id="s1", order=3, **fields) -> Sample:
    return Sample("t", sample_id, order=order, **fields)


def test_live_leases_drop_expired_ones_by_time_alone():
    s = sample(leases={"ann": T + 1, "ben": T, "cat": T - 5})
    assert set(live_leases(s, T)) == {"ann"}  # a lease expiring exactly now is over
    assert set(live_leases(s, T - 10)) == {"ann", "ben", "cat"}


def test_slots_stored_before_they_were_bare_expiries_read_as_their_expiry():
    s = sample(leases={"ann": {"id": "L", "exp": T + 1, "at": T - 5, "drafts": 2}, "ben": T - 1})
    assert slots(s) == {"ann": T + 1, "ben": T - 1}
    assert live_leases(s, T) == {"ann": T + 1}


def test_free_slots_count_overlap_reopenings_submissions_and_live_leases():
    s = sample(done=1, extra_annotations=1, leases={"ann": T + 9, "old": T - 9})
    assert needed(task(annotations_per_sample=2), s) == 3
    assert free_slots(task(annotations_per_sample=2), s, T) == 1  # 3 - 1 done - 1 live
    assert free_slots(task(annotations_per_sample=1), s, T) == 0


def test_eligible_excludes_submitters_holders_and_full_samples():
    t2 = task(annotations_per_sample=2)
    s = sample(submitters={"ann"}, done=1, leases={"ben": T + 9})
    assert not eligible(t2, s, "ann", T)  # submitted it already
    assert not eligible(t2, s, "ben", T)  # holds it
    assert not eligible(t2, s, "cat", T)  # 2 needed: 1 done + 1 leased
    assert eligible(t2, s, "cat", T + 9)  # ben's lease lapsed
    assert not eligible(task(), sample(done=1), "cat", T)


def test_rank_sequential_is_registration_order_random_is_stable_per_task():
    assert rank(task(), "s", 42) == "0000000000000042"
    r = rank(task(sampling="random"), "s", 42)
    assert r == rank(task(sampling="random"), "s", 7) != rank(task(sampling="random"), "x", 42)
    assert len(r) == 16


def test_dispatch_key_orders_fresh_then_given_back_and_hides_finished_ones():
    fresh = dispatch_key(task(), sample(order=3), T)
    assert fresh == "0000000000#000#0000000000000003"
    assert dispatch_key(task(), sample(requeued_at=T - 5), T).startswith(f"{T - 5:010d}#")
    # Every slot leased: free again at the earliest expiry, so a claim at `now` skips it.
    full = dispatch_key(task(annotations_per_sample=2), sample(leases={
        "a": T + 50, "b": T + 20}), T)
    assert full.startswith(f"{T + 20:010d}#000#")
    assert full > f"{T:010d}~" > fresh
    assert dispatch_key(task(), sample(done=1), T) is None
    assert dispatch_key(task(), sample(problem="unreadable"), T) is None


@pytest.mark.parametrize("fields, expected", [
    ({}, "available"),
    ({"leases": {"a": T + 1}}, "in_progress"),
    ({"leases": {"a": T}}, "available"),
    ({"done": 1}, "complete"),
    ({"problem": "bad file"}, "problem"),
])
def test_status(fields, expected):
    assert status(task(), sample(**fields), T) == expected


HEADS = {"pre": {"v": 0, "key": "pre"}, "any": {"v": 4, "key": "ben4"},
         "u:ann": {"v": 2, "key": "ann2"}}


def test_a_claim_starts_from_own_work_then_anyones_when_alone_then_the_pre_annotation():
    s = sample(heads=HEADS)
    assert start_head(task(), s, "ann")["key"] == "ann2"
    assert start_head(task(), s, "cat")["key"] == "ben4"
    # Independent annotators never see each other's work.
    assert start_head(task(annotations_per_sample=2), s, "cat")["key"] == "pre"
    assert start_head(task(), sample(), "cat") is None


def test_owners_see_the_latest_version_by_anyone():
    assert latest_head(sample(heads=HEADS))["key"] == "ben4"
    assert latest_head(sample(heads={"pre": HEADS["pre"]}))["key"] == "pre"
    assert latest_head(sample()) is None


def test_next_version_moves_both_heads_and_keeps_the_others():
    version, heads = next_version(sample(latest_version=4, heads=HEADS), "cat", "cat5")
    assert version == 5
    assert heads["any"] == heads["u:cat"] == {"v": 5, "key": "cat5"}
    assert heads["u:ann"] == HEADS["u:ann"] and heads["pre"] == HEADS["pre"]


def test_a_submission_keeps_no_head_of_its_author():
    version, heads = next_version(sample(latest_version=4, heads=HEADS), "ann", "ann5",
                                  submitted=True)
    assert version == 5 and heads["any"] == {"v": 5, "key": "ann5"}
    assert "u:ann" not in heads and heads["pre"] == HEADS["pre"]


def test_rate_counts_within_the_minute_and_refuses_past_the_limit():
    minute = T // 60
    assert within_rate(None, None, T, 3, "things") == 1
    assert within_rate(minute, 2, T, 3, "things") == 3
    assert within_rate(minute - 1, 3, T, 3, "things") == 1  # a new minute starts over
    with pytest.raises(TooMany) as refused:
        within_rate(minute, 3, T, 3, "things")
    assert "At most 3 things per minute" in refused.value.message
