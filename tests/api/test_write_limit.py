"""The write rate limit counts events, not requests (spec §9.5; issue 8 finding 3): a batch
costs one write per event, and a batch over the token's remaining allowance is refused whole
(429 with a Retry-After saying when it would fit), never half-applied."""

from __future__ import annotations

import math
from pathlib import Path

from api.limits import RateLimiter, retry_after
from tests.api.test_api import app_env, assert_problem


def test_a_batch_costs_one_write_per_event_and_is_refused_whole_over_the_limit(
    tmp_path: Path,
) -> None:
    """The finding: two 300-event batches passed a 1/s limit, as two writes."""
    with app_env(f"sqlite:///{tmp_path}/l.db", write_rate=1, write_burst=20) as e:
        bwm = e.partner["bwm"]
        size = e.ledger.size()
        first = e.post_batch([e.create().envelope for _ in range(15)], bwm)
        assert [r["status"] for r in first.json()["results"]] == [201] * 15
        # 5 writes left: a batch of 15 is refused whole, nothing of it applied
        second = e.post_batch([e.create().envelope for _ in range(15)], bwm)
        body = assert_problem(second, 429, "rate_limited")
        assert "15" in body["detail"]
        # it would fit once 10 more writes have refilled at 1/s
        assert 9 <= int(second.headers["retry-after"]) <= 10
        assert e.ledger.size() == size + 15
        # the 5 left are still there, for single events or a smaller batch
        assert e.post_event(e.create(), bwm).status_code == 201
        four = e.post_batch([e.create().envelope for _ in range(4)], bwm)
        assert [r["status"] for r in four.json()["results"]] == [201] * 4
        assert e.ledger.size() == size + 20
        # empty bucket: single events and batches (even empty ones) are refused
        assert_problem(e.post_event(e.create(), bwm), 429, "rate_limited")
        assert_problem(e.post_batch([], bwm), 429, "rate_limited")
        # another token has its own bucket
        assert e.post_batch([e.create().envelope for _ in range(20)], e.admin).status_code == 200
        assert e.ledger.size() == size + 40


def test_a_batch_larger_than_the_burst_is_413_as_it_can_never_fit(tmp_path: Path) -> None:
    with app_env(f"sqlite:///{tmp_path}/l.db", write_rate=1000, write_burst=5) as e:
        size = e.ledger.size()
        six = e.post_batch([e.create().envelope for _ in range(6)], e.admin)
        body = assert_problem(six, 413, "too_large")
        assert "at most 5" in body["detail"]
        assert e.ledger.size() == size
        five = e.post_batch([e.create().envelope for _ in range(5)], e.admin)
        assert [r["status"] for r in five.json()["results"]] == [201] * 5


def test_invalid_events_in_a_batch_cost_their_write(tmp_path: Path) -> None:
    """Every event sent is parsed and checked, accepted or not, so every one is charged."""
    with app_env(f"sqlite:///{tmp_path}/l.db", write_rate=0.001, write_burst=3) as e:
        bwm = e.partner["bwm"]
        bad = e.post_batch([{"not": "an event"}, {"nor": "this"}], bwm)
        assert [r["status"] for r in bad.json()["results"]] == [400, 400]
        assert e.post_event(e.create(), bwm).status_code == 201
        refused = e.post_event(e.create(), bwm)
        assert_problem(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) > 60  # 1 write per 1000 s


def test_the_bucket_takes_all_or_nothing_and_says_how_long_to_wait() -> None:
    bucket = RateLimiter(rate=2, burst=5)
    assert bucket.take("t", 3) == 0.0
    wait = bucket.take("t", 4)  # 2 left: nothing taken, 1 s until 4 are there
    assert 0.9 < wait <= 1.0
    assert bucket.wait("t", 2) == 0.0 and bucket.take("t", 2) == 0.0  # still 2: wait takes none
    assert bucket.take("t", 6) == math.inf  # over the burst: never
    assert bucket.take("other", 5) == 0.0  # per key
    assert [retry_after(s) for s in (0.01, 1.0, 1.2, math.inf)] == ["1", "1", "2", "86400"]
    assert RateLimiter(rate=0, burst=0).take("t") == math.inf
