"""Benchmarks (not tests): run by hand, report figures for docs/benchmarks.md."""
