"""bench/loadgen.py against a local server: the closed loop finds a rate, the open loop holds its
schedule and counts the time a request waits behind a slow server (no coordinated omission)."""

from __future__ import annotations

import pytest

from bench.loadgen import closed_loop, open_loop
from tests.bench.servers import local_server


def test_closed_loop_sends_back_to_back_and_reads_whole_answers():
    with local_server() as port:
        result = closed_loop("ok", port, "/", connections=2, duration=0.5)

    assert result.requests > 20
    assert result.errors == 0
    assert len(result.latencies) == result.requests
    assert 0.4 < result.seconds < 2
    assert result.client_cpu_seconds > 0


def test_open_loop_sends_exactly_its_schedule():
    with local_server() as port:
        result = open_loop("ok", port, "/", rate=200, duration=0.5)

    assert result.requests == 100  # 200/s for 0.5 s, whatever the answers' speed
    assert result.errors == 0
    assert result.rate == pytest.approx(200, rel=0.15)
    assert result.percentile(0.50) < 50


def test_open_loop_takes_several_paths_in_turn():
    asked: list[str] = []
    with local_server(paths=asked) as port:
        result = open_loop("pages", port, ["/a", "/b", "/c"], rate=60, duration=0.1)

    assert result.requests == 6
    assert sorted(asked) == ["/a", "/a", "/b", "/b", "/c", "/c"]


def test_open_loop_latency_includes_waiting_behind_a_slow_server():
    # 20 requests scheduled over 0.5 s on one connection to a server taking 50 ms each: it
    # serves 20/s, so each request waits longer than the one before for its turn (those still
    # waiting at the end are not sent). Measured from the send (coordinated omission) every
    # latency would read ~50 ms.
    with local_server(delay=0.05) as port:
        result = open_loop("slow", port, "/", rate=40, duration=0.5, max_connections=1)

    assert result.requests == 20
    assert result.percentile(0.50) > 150


def test_answers_other_than_200_are_errors():
    with local_server(status=404) as port:
        result = open_loop("missing", port, "/", rate=50, duration=0.2)

    assert result.requests == 10
    assert result.errors == 10


def test_a_refused_connection_is_an_error_not_a_crash():
    with local_server() as port:
        pass  # closed: nothing listens on the port now
    result = open_loop("refused", port, "/", rate=50, duration=0.1)

    assert result.requests == 5
    assert result.errors == 5


def test_an_open_loop_phase_stops_on_time_behind_a_server_that_cannot_keep_up():
    # 100 requests scheduled over 0.5 s on one connection to a server taking 50 ms each: it can
    # answer ~10 of them in the phase. The rest are not sent: errors, with the wait they had.
    with local_server(delay=0.05) as port:
        result = open_loop("overloaded", port, "/", rate=200, duration=0.5, max_connections=1)

    assert result.requests == 100
    assert 80 <= result.errors <= 95
    assert result.seconds < 1.5
    assert result.percentile(0.99) > 300
