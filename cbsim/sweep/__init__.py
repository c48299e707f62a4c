"""Sweeps: run an experiment's design points x replicates on an engine (serial, a local
process pool, or Dask), streaming results to Parquet; resumable."""
