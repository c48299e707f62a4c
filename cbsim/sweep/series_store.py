"""The monthly series a sweep keeps with ``series = true``: long-format Parquet part files.

Layout::

    DIR/series/part-*.parquet   one file per runs/ part, under the same name, holding the
                                monthly series of that part's runs (none for failed runs)

Columns: ``run_id`` (int64), ``month`` (``YYYY-MM``), ``month_index`` (int32, 0 at the
run's first month), ``variable`` (one of `cbsim.sweep.monthly.VARIABLES`) and ``value``
(float64), sorted by run id, month and variable order. A batch's series part is written
first and its runs part second, each atomically: a runs part always has its series partner,
and a series part without one (the sweep stopped between the two writes) is an orphan that
``--resume`` deletes before running those runs again (`drop_orphan_series`), and that readers
skip (`series_parts`). So the series table never holds a run twice, nor a run not in runs/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.months import format_month
from cbsim.sweep.monthly import VARIABLES, Record
from cbsim.sweep.spec import RUNS_DIR, SERIES_DIR, SERIES_KEY, RunResult
from cbsim.sweep.store import pa, pq, write_part

SERIES_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("month", pa.string()),
        ("month_index", pa.int32()),
        ("variable", pa.string()),
        ("value", pa.float64()),
    ]
)
_VARIABLES = np.array(VARIABLES, dtype=object)


def series_table(results: list[RunResult]) -> pa.Table:
    """The monthly series of finished runs in long format, in run-id order."""
    ids: list[np.ndarray] = []
    months: list[np.ndarray] = []
    steps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for run_id, outcomes, _ in sorted(results, key=lambda item: item[0]):
        record: Record | None = None if outcomes is None else outcomes.get(SERIES_KEY)
        if record is None:
            continue  # a failed run: no series
        start, rows = record
        matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(VARIABLES))
        n = matrix.size
        ids.append(np.full(n, run_id, dtype=np.int64))
        labels = np.array([format_month(start + i) for i in range(len(rows))], dtype=object)
        months.append(np.repeat(labels, len(VARIABLES)))
        steps.append(np.repeat(np.arange(len(rows), dtype=np.int32), len(VARIABLES)))
        values.append(matrix.ravel())
    if not ids:
        return SERIES_SCHEMA.empty_table()
    columns = [
        pa.array(np.concatenate(ids), type=pa.int64()),
        pa.array(np.concatenate(months), type=pa.string()),
        pa.array(np.concatenate(steps), type=pa.int32()),
        pa.array(np.tile(_VARIABLES, sum(map(len, values)) // len(VARIABLES)), pa.string()),
        pa.array(np.concatenate(values), type=pa.float64()),
    ]
    return pa.Table.from_arrays(columns, schema=SERIES_SCHEMA)


def write_series_part(out: Path, results: list[RunResult], name: str) -> None:
    """Write the series of a batch's runs as ``series/NAME`` (before runs/NAME is written)."""
    write_part(out / SERIES_DIR, series_table(results), name)


def series_parts(out: Path) -> list[Path]:
    """The series part files whose runs part exists (orphans skipped), sorted by name."""
    folder = out / SERIES_DIR
    if not folder.is_dir():
        return []
    runs = {p.name for p in (out / RUNS_DIR).glob("part-*.parquet")}
    return sorted(p for p in folder.glob("part-*.parquet") if p.name in runs)


def check_series_part(part: Path, runs_part: Path) -> None:
    """A series part must be readable, with the series columns, and hold only runs of its
    runs part (read in this thread: the pool forks its workers from this process); else a
    one-line CbsimError saying how to run those runs again, before anything changes."""
    redo = f"delete it and {runs_part} to run those runs again with --resume"
    try:
        with pq.ParquetFile(part, pre_buffer=False) as handle:
            if handle.schema_arrow.names != SERIES_SCHEMA.names:
                raise CbsimError(f"{part}: not a series part of this sweep; {redo}")
            ids = handle.read(columns=["run_id"], use_threads=False).column("run_id")
        with pq.ParquetFile(runs_part, pre_buffer=False) as handle:
            own = handle.read(columns=["run_id"], use_threads=False).column("run_id")
    except (OSError, pa.ArrowException) as exc:
        why = " ".join(str(exc).split())[:200]
        raise CbsimError(f"{part}: unreadable series part ({why}); {redo}") from None
    strangers = set(ids.to_pylist()) - set(own.to_pylist())
    if strangers:
        raise CbsimError(
            f"{part}: holds run {min(strangers)}, which its runs part does not (copied or "
            f"moved by hand?); {redo}"
        )


def drop_orphan_series(out: Path) -> int:
    """Make series/ match runs/ before a resume: delete series parts without a runs part
    (and write-leftovers); a runs part without its series partner is a damaged folder.
    Returns how many files went."""
    folder = out / SERIES_DIR
    try:
        folder.mkdir(exist_ok=True)
        runs = {p.name for p in (out / RUNS_DIR).glob("part-*.parquet")}
        for name in sorted(runs):
            if (folder / name).is_file():
                check_series_part(folder / name, out / RUNS_DIR / name)
        dropped = 0
        for entry in folder.iterdir():
            if entry.name not in runs:
                entry.unlink()
                dropped += 1
    except OSError as exc:
        raise CbsimError(
            f"{out}: cannot write in the output folder ({exc.strerror or exc})"
        ) from None
    missing = sorted(runs - {p.name for p in folder.iterdir()})
    if missing:
        raise CbsimError(
            f"{folder / missing[0]}: missing (its runs part has no series); move "
            f"{out / RUNS_DIR / missing[0]} away to run those runs again"
        )
    return dropped
