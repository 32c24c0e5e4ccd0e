"""Benchmarks against a floor (issue 7): `make bench` -> bench/results.json and bench/RESULTS.md."""
