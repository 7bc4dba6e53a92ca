"""Benchmarks: each bench/bench_*.py measures one performance goal and prints a table (never asserts timings)."""
