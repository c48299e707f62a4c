"""Calibration against history: ABC-SMC with pyabc, and the posterior that projections draw
their parameters from (`--posterior DIR`)."""
