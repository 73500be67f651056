"""Benchmarks: each module prints figures (``python -m bench.NAME``); nothing here is asserted in tests."""
