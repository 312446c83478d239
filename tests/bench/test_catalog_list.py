"""The catalog list benchmark's plumbing (bench/catalog_list.py): reading wrk's report, and merging
the alternating rounds. No server and no database: the benchmark itself is run by hand."""

from __future__ import annotations

import shutil

import pytest

from bench.catalog_list import TracingLoad, parse_wrk_report, report_tracing, run_wrk
from bench.loadgen import Result, merged
from tests.bench.servers import local_server

REPORT = """Running 2s test @ http://127.0.0.1:8000/bench/bare/
  8 threads and 8 connections
wrk-total 5 2000000 1
wrk-latency 1500 3
wrk-latency 9000 2
"""


def test_reads_wrks_report_into_a_result():
    result = parse_wrk_report("bare", REPORT)

    assert (result.requests, result.errors, result.seconds) == (5, 1, 2.0)
    assert result.rate == 2.0  # 4 answered in 2 s (1 error)
    assert result.percentile(0.50) == pytest.approx(1.5)  # ms
    assert result.percentile(0.99) == pytest.approx(9.0)


def test_a_wrk_run_without_the_report_is_an_error():
    with pytest.raises(RuntimeError, match="no report"):
        parse_wrk_report("bare", "unable to connect to 127.0.0.1:1 Connection refused\n")


def test_rounds_merge_into_one_result():
    first = Result("list", 10, 0, 2.0, [0.001] * 10)
    second = Result("list", 30, 2, 2.0, [0.003] * 30)

    both = merged("product list, peak", [first, second])

    assert (both.name, both.requests, both.errors, both.seconds) == ("product list, peak", 40, 2, 4.0)
    assert both.rate == 9.5  # answered a second: the 2 errors do not count
    assert both.percentile(0.50) == pytest.approx(3.0)


def _load(answered: int, cpu_seconds: float) -> TracingLoad:
    return TracingLoad([Result("list", answered, 0, 1.0, [0.001] * answered)], cpu_seconds)


def test_tracing_costs_pool_the_server_sets_and_show_each(capsys):
    # Two fresh starts: CPU per request is pooled over every answered request (1.5 s / 1,000
    # off, 1.6 s / 1,000 at 10 %), not averaged over the sets' ratios (+20 % and -0 %).
    first = {"tracing off": _load(500, 0.5), "tracing on, 10 %": _load(500, 0.6)}
    second = {"tracing off": _load(500, 1.0), "tracing on, 10 %": _load(500, 1.0)}
    totals = {label: TracingLoad() for label in first}
    for loads in (first, second):
        for label, load in loads.items():
            totals[label].add(load)

    report_tracing(totals, [first, second])

    cost = capsys.readouterr().out.splitlines()[-1]
    assert cost.startswith("tracing on, 10 %: server CPU per request +6.7% against tracing off")
    assert "(target <= 5 %: NOT met)" in cost
    assert cost.endswith("CPU by server set: +20.0% +0.0%")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_wrk_mode_loads_a_local_server_and_reports():
    with local_server() as port:
        result = run_wrk("ok", port, "/", connections=2, duration=1)

    assert result.requests > 0
    assert result.errors == 0
    assert len(result.latencies) == result.requests
    assert 0.5 < result.seconds < 3
