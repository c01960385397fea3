"""The in-process moving window (the embedded mode's rate limits): hits past the limit in
any window are refused until the oldest leaves it, a peek counts nothing, and keys whose hits
all left their window are dropped."""

from __future__ import annotations

from orderline.core.ratelimit import MovingWindows


def test_hits_past_the_limit_are_refused_until_the_oldest_leaves_the_window() -> None:
    windows = MovingWindows()
    answers = [windows.hit("k", limit=3, window_seconds=60, now=t) for t in (0, 10, 20, 30)]
    assert [allowed for allowed, _ in answers] == [True, True, True, False]
    assert answers[-1][1] == 60  # when the hit at 0 leaves the window
    assert not windows.hit("k", limit=3, window_seconds=60, now=59.9)[0]
    assert windows.hit("k", limit=3, window_seconds=60, now=60)[0]  # the hit at 0 is out
    assert not windows.hit("k", limit=3, window_seconds=60, now=61)[0]  # 10, 20, 60 inside
    assert windows.hit("other", limit=3, window_seconds=60, now=61)[0]


def test_a_peek_counts_nothing() -> None:
    windows = MovingWindows()
    for _ in range(5):
        assert windows.hit("k", limit=1, window_seconds=60, now=0, take=False)[0]
    assert windows.hit("k", limit=1, window_seconds=60, now=0)[0]
    assert windows.hit("k", limit=1, window_seconds=60, now=1, take=False) == (False, 60)


def test_keys_whose_hits_left_their_window_are_dropped() -> None:
    windows = MovingWindows()
    for n in range(MovingWindows.SWEEP_EVERY - 1):
        windows.hit(f"buyer:{n}", limit=5, window_seconds=60, now=0)
    assert len(windows) == MovingWindows.SWEEP_EVERY - 1
    windows.hit("late", limit=5, window_seconds=60, now=100)  # the sweep runs on this call
    assert len(windows) == 1
