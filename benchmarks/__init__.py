"""Benchmarks: run each module as a script (see README, Benchmarks)."""
