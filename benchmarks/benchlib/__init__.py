"""Helpers shared by the benchmark scripts (not a benchmark itself)."""
