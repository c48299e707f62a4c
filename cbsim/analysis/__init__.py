"""Analysis of a finished sweep: statistics with intervals, sensitivity indices, scenario
discovery (PRIM), figures and the report. Reads Parquet; knows nothing of how runs ran."""
