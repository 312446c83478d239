"""apps.core.api.caching.ResponseCache: fresh answers served as kept, a stale one refreshed by one
caller while the others keep getting it, expiry times spread over the last quarter of the
freshness, nothing served past twice its freshness, and a bound on how many answers are kept.
Times are passed in, so nothing here sleeps."""

from __future__ import annotations

import threading

from apps.core.api.caching import CachedAnswer, ResponseCache

FRESH = 5.0


def _answer(body: bytes = b"{}", at: float = 100.0) -> CachedAnswer:
    return CachedAnswer(body, "application/json", '"etag"', stored_at=at)


def test_a_missing_answer_is_for_the_caller_to_render():
    cache = ResponseCache(max_entries=4)

    assert cache.lookup("/a", fresh_seconds=FRESH, now=100.0) == (None, True)


def test_a_fresh_answer_is_served_as_kept():
    cache = ResponseCache(max_entries=4)
    cache.store("/a", _answer(b"A"))

    answer, must_render = cache.lookup("/a", fresh_seconds=FRESH, now=103.7)

    assert (answer.content, must_render) == (b"A", False)


def test_a_stale_answer_is_refreshed_by_the_first_caller_only():
    cache = ResponseCache(max_entries=4)
    cache.store("/a", _answer(b"old"))

    first = cache.lookup("/a", fresh_seconds=FRESH, now=106.0)
    others = [cache.lookup("/a", fresh_seconds=FRESH, now=106.1) for _ in range(3)]

    assert first == (_answer(b"old"), True)
    assert others == [(_answer(b"old"), False)] * 3
    cache.store("/a", _answer(b"new", at=106.2))
    assert cache.lookup("/a", fresh_seconds=FRESH, now=106.3) == (_answer(b"new", at=106.2), False)


def test_answers_kept_together_go_stale_at_different_times_within_the_last_quarter():
    cache = ResponseCache(max_entries=200)
    for index in range(200):
        cache.store(f"/{index}", _answer())

    def newly_stale_at(now: float) -> int:
        # A stale answer is handed to one refresher, so each key is counted once, when it turns.
        return sum(cache.lookup(f"/{index}", fresh_seconds=FRESH, now=now)[1] for index in range(200))

    at_three_quarters, half_way_through, at_full = (
        newly_stale_at(103.74),
        newly_stale_at(104.375),
        newly_stale_at(105.0),
    )

    assert at_three_quarters == 0
    assert 0 < half_way_through < 200  # some, not all
    assert half_way_through + at_full == 200


def test_an_abandoned_refresh_passes_to_the_next_caller():
    cache = ResponseCache(max_entries=4)
    cache.store("/a", _answer())
    assert cache.lookup("/a", fresh_seconds=FRESH, now=106.0)[1] is True

    cache.abandon("/a")

    assert cache.lookup("/a", fresh_seconds=FRESH, now=106.1)[1] is True


def test_nothing_is_served_at_twice_its_freshness():
    cache = ResponseCache(max_entries=4)
    cache.store("/a", _answer())

    assert cache.lookup("/a", fresh_seconds=FRESH, now=110.0) == (None, True)
    assert len(cache) == 0


def test_the_least_recently_used_answer_goes_first():
    cache = ResponseCache(max_entries=2)
    cache.store("/a", _answer(b"A"))
    cache.store("/b", _answer(b"B"))
    cache.lookup("/a", fresh_seconds=FRESH, now=101.0)  # /a is now the more recent

    cache.store("/c", _answer(b"C"))

    assert len(cache) == 2
    assert cache.lookup("/b", fresh_seconds=FRESH, now=101.0) == (None, True)
    assert cache.lookup("/a", fresh_seconds=FRESH, now=101.0)[0].content == b"A"


def test_among_many_threads_one_refreshes_a_stale_answer():
    cache = ResponseCache(max_entries=4)
    cache.store("/a", _answer())
    start = threading.Barrier(16)
    refreshers = []

    def look() -> None:
        start.wait()
        if cache.lookup("/a", fresh_seconds=FRESH, now=107.0)[1]:
            refreshers.append(threading.current_thread().name)

    threads = [threading.Thread(target=look) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(refreshers) == 1
