"""The sweep's files: Parquet part files, the design, the run table's Arrow schema, and the
check of a sweep folder's results (`check_runs_folder`).

Output folder::

    DIR/manifest.json        experiment, versions, seed, counts, times, status (`manifest`)
    DIR/experiment.toml      copy of the experiment file
    DIR/design.parquet       the sampler's raw matrix, one row per design point
    DIR/runs/part-*.parquet  one row per run; `pandas.read_parquet(DIR / "runs")` reads all
    DIR/series/part-*.parquet  with `series = true`: the same runs' monthly series
                             (`cbsim.sweep.series_store`), each beside its runs/ part's name

Each part file is written atomically when its batch finishes, so an interrupted sweep keeps
every finished run. The folder itself and its lock are `cbsim.sweep.folder`'s business.
This module loads pyarrow for the package (`series_store` takes it from here, so that the
allocator settings below come first).
"""

from __future__ import annotations

import io
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if "pyarrow" not in sys.modules:
    # Arrow's bundled jemalloc (not its default allocator here) starts a purging thread when
    # pyarrow loads; without it this process has no thread when the pool forks its workers.
    os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
    # The tables a sweep builds are a few kB: the C library's allocator is plenty, and the
    # default (mimalloc) would reserve ~6 MB of its own in the process.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from cbsim.inputs.errors import CbsimError  # noqa: E402
from cbsim.inputs.fileio import atomic_write_bytes  # noqa: E402
from cbsim.sweep.manifest import Manifest, read_manifest  # noqa: E402
from cbsim.sweep.spec import DESIGN, MANIFEST, RUNS_DIR, WORKER_DIED, RunResult, RunSpec  # noqa: E402

if TYPE_CHECKING:
    from cbsim.inputs.experiment import Experiment

ID_COLUMNS = (
    ("run_id", pa.int64()),
    ("design_point", pa.int64()),
    ("replicate", pa.int64()),
    ("seed", pa.int64()),
)
KIND_TYPES = {
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "stance": pa.string(),
    "month": pa.string(),
    "scenario": pa.string(),  # the scenario factor: the scenario's name
}


# ------------------------------------------------------------------------ the run table
class RunTable:
    """Turns batch results into Arrow tables with one fixed schema, written as part files."""

    def __init__(
        self,
        experiment: Experiment,
        design: list[dict[str, Any]],
        columns: list[list[str]],
        draw: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        self.experiment = experiment
        self.design = design
        self.draw = draw  # a run's parameters from a posterior, by its seed (or none)
        self.schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in columns])
        self.factor_paths = experiment.factor_paths
        fixed = {name for name, _ in ID_COLUMNS} | set(self.factor_paths) | {"error"}
        self.outcome_keys = [name for name, _ in columns if name not in fixed]

    @staticmethod
    def columns_for(experiment: Experiment, probe: dict[str, Any]) -> list[list[str]]:
        """Column names and Arrow types: ids, factors, the outcomes of a probe run, error."""
        cols = [[name, str(kind)] for name, kind in ID_COLUMNS]
        cols += [[f.path, str(KIND_TYPES[f.kind])] for f in experiment.factors]
        for key, value in probe.items():
            if key not in experiment.factor_paths:  # `scenario`: the factor's column says it
                cols.append([key, str(_arrow_type(value))])
        cols.append(["error", "string"])
        return cols

    def specs(self, run_ids: Sequence[int]) -> list[RunSpec]:
        """What a worker needs for these runs: id, seed and the design point's values."""
        r = self.experiment.replicates
        seeds = [self.experiment.seed_of(i) for i in run_ids]
        if self.draw is None:
            return [(i, s, self.design[i // r]) for i, s in zip(run_ids, seeds, strict=True)]
        draw = self.draw  # drawn here, in the sweep's process: the same on every engine
        return [
            (i, s, {**draw(s), **self.design[i // r]}) for i, s in zip(run_ids, seeds, strict=True)
        ]

    def table(self, results: list[RunResult]) -> pa.Table:
        """Rows for finished runs, in run-id order, with the fixed schema."""
        r = self.experiment.replicates
        results = sorted(results, key=lambda item: item[0])
        ids = [run_id for run_id, _, _ in results]
        points = [run_id // r for run_id in ids]
        outcomes = [{} if out is None else out for _, out, _ in results]
        errors = [error for _, _, error in results]
        cols: dict[str, list[Any]] = {
            "run_id": ids,
            "design_point": points,
            "replicate": [i % r for i in ids],
            "seed": [self.experiment.seed_of(i) for i in ids],
        }
        for path in self.factor_paths:
            cols[path] = [self.design[point][path] for point in points]
        for key in self.outcome_keys:
            cols[key] = [out.get(key) for out in outcomes]
        arrays = [
            _array(cols[fld.name], fld.type, fld.name, errors)
            for fld in self.schema
            if fld.name != "error"
        ]
        arrays.append(pa.array(errors, type=pa.string()))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _arrow_type(value: Any) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()  # strings, and months that may be None


def _array(values: list[Any], kind: pa.DataType, name: str, errors: list[str | None]) -> pa.Array:
    """An Arrow array; a value that does not fit the column is nulled and noted in `errors`."""
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        fixed = []
        for i, value in enumerate(values):
            try:
                fixed.append(pa.scalar(value, type=kind).as_py())
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
                fixed.append(None)
                note = f"outcome {name}={value!r} does not fit type {kind}"
                errors[i] = f"{errors[i]}; {note}" if errors[i] else note
        return pa.array(fixed, type=kind)


def arrow_without_pandas() -> None:
    """Keep pyarrow from importing pandas (~30 MB, 0.2 s), unless it is already imported.

    The first time pyarrow converts Python values it imports pandas, if installed, only to
    check whether they are pandas objects; a sweep never gives it any. If that first import
    fails, pyarrow does not try again for such checks (it still imports pandas for an
    explicit conversion such as `Table.to_pandas`), so pandas is hidden for one conversion.
    """
    if "pandas" in sys.modules:
        return
    hide = _HidePandas()
    sys.meta_path.insert(0, hide)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(hide)


class _HidePandas:
    """An import finder under which `import pandas` fails."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas hidden from pyarrow by cbsim.sweep", name=name)


# ------------------------------------------------------------------------ part files
def part_name(table: pa.Table) -> str:
    """A new part file's name: its first run id and a random tag (`part-000000012-9f3a1c2e`)."""
    first = int(table.column("run_id")[0].as_py()) if table.num_rows else 0
    return f"part-{first:09d}-{secrets.token_hex(4)}.parquet"


def write_part(runs_dir: Path, table: pa.Table, name: str | None = None) -> Path:
    """Write one part file atomically (hidden temporary name, then rename), named `name`
    (default: `part_name`)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    path = runs_dir / (name or part_name(table))
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _read_part(part: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a part file in this thread (`pq.read_table` starts Arrow's thread pools, and the
    process pool forks its workers from this process)."""
    with pq.ParquetFile(part, pre_buffer=False) as handle:
        return handle.read(columns=columns, use_threads=False)


def forget_worker_deaths(runs_dir: Path) -> list[int]:
    """Drop the rows of runs lost with their worker process, so that they run again.

    Each part file holding such rows is replaced atomically by one without them (or removed
    if nothing is left); rows of runs whose model raised are kept. Returns the run ids
    whose rows went.
    """
    forgotten: list[int] = []
    for part in sorted(runs_dir.glob("part-*.parquet")):
        try:
            read = _read_part(part, ["run_id", "error"])
        except (OSError, pa.ArrowInvalid):
            continue  # `check_runs_folder` names an unreadable part
        errors = read.column("error").to_pylist()
        keep = [error is None or not error.startswith(WORKER_DIED) for error in errors]
        if all(keep):
            continue
        ids = read.column("run_id").to_pylist()
        forgotten += [run_id for run_id, kept in zip(ids, keep, strict=True) if not kept]
        if not any(keep):
            part.unlink()
        else:
            kept_rows = _read_part(part).filter(pa.array(keep, type=pa.bool_()))
            buffer = io.BytesIO()
            pq.write_table(kept_rows, buffer)
            atomic_write_bytes(part, buffer.getvalue())
    return forgotten


# ------------------------------------------------------------------------ the design
def write_design(out: Path, experiment: Experiment, raw: np.ndarray) -> None:
    """Write ``out/design.parquet``: the sampler's raw matrix, one row per design point."""
    design = {"design_point": np.arange(len(raw), dtype=np.int64)}
    design.update({path: raw[:, j] for j, path in enumerate(experiment.factor_paths)})
    buffer = io.BytesIO()
    pq.write_table(pa.table(design), buffer)
    atomic_write_bytes(out / DESIGN, buffer.getvalue())


def read_design(out: Path, manifest: Manifest) -> np.ndarray:
    """The raw design in ``out/design.parquet``, checked against the manifest: a column per
    factor, a row per design point, every value finite and inside its factor's range (a
    level index on a grid). A damaged design is a one-line CbsimError."""
    path = out / DESIGN
    try:
        table = _read_part(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise CbsimError(f"{path}: unreadable design ({_why(exc)})") from None
    expected = ["design_point", *manifest.factors]
    if table.column_names != expected:
        raise _damaged(path, f"columns {table.column_names}, expected {expected}")
    if table.num_rows != manifest.design_points:
        raise _damaged(path, f"{table.num_rows:,} rows for {manifest.design_points:,} points")
    if table.column("design_point").to_pylist() != list(range(table.num_rows)):
        raise _damaged(path, "design_point is not 0, 1, 2, ...")
    raw = np.empty((table.num_rows, len(manifest.factors)))
    for j, (name, (low, high, whole)) in enumerate(
        zip(manifest.factors, _design_ranges(out, manifest), strict=True)
    ):
        column = table.column(name)
        if not pa.types.is_floating(column.type) or column.null_count:
            raise _damaged(path, f"{name}: not a column of numbers")
        values = column.to_numpy()
        slack = 1e-9 * max(1.0, high - low)
        if not (np.isfinite(values).all() and (values >= low - slack).all()):
            raise _damaged(path, f"{name}: values outside [{low:g}, {high:g}]")
        if (values > high + slack).any() or (whole and (values != np.round(values)).any()):
            raise _damaged(path, f"{name}: values outside [{low:g}, {high:g}]")
        raw[:, j] = values
    return raw


def _design_ranges(out: Path, manifest: Manifest) -> list[tuple[float, float, bool]]:
    """Each factor's raw range: level indices on a grid, SALib's bounds otherwise."""
    try:
        if manifest.experiment.method == "grid":
            factors = manifest.experiment.factors
            if [f["path"] for f in factors] != manifest.factors:
                raise ValueError("experiment.factors")
            return [(0.0, float(len(f["levels"]) - 1), True) for f in factors]
        bounds = manifest.problem["bounds"]
        if len(bounds) != len(manifest.factors):
            raise ValueError("problem.bounds")
        return [(float(low), float(high), False) for low, high in bounds]
    except (KeyError, TypeError, ValueError) as exc:
        raise CbsimError(
            f"{out / MANIFEST}: malformed manifest (the factors' ranges: {exc})"
        ) from None


def _damaged(path: Path, what: str) -> CbsimError:
    return CbsimError(f"{path}: damaged design ({what})")


# ------------------------------------------------------------------------ checking a folder
@dataclass(frozen=True)
class RunsFolder:
    """A sweep folder whose results passed `check_runs_folder`."""

    manifest: Manifest
    design: np.ndarray  # the raw design, a row per design point, a column per factor
    parts: list[Path]  # the part files in runs/, sorted by name
    done: np.ndarray  # a boolean per run id of the design: it has a row
    failed: int  # rows with an error

    @property
    def rows(self) -> int:
        """Runs with a row (each once)."""
        return int(self.done.sum())


def check_runs_folder(out: str | os.PathLike[str]) -> RunsFolder:
    """Check a sweep folder's results before anything reads or adds to them (read-only).

    Checks: the manifest (present, readable, every required key); the design (see
    `read_design`); runs/ holds nothing but part files (hidden files, e.g. a write cut
    short by a kill, are ignored, as Parquet readers ignore them); every part file is
    readable, has the manifest's columns and types, and holds run ids of the design, each
    in one part file only, once. Any problem is one-line `CbsimError` naming the file.
    """
    folder = Path(out)
    manifest = read_manifest(folder)
    planned = manifest.design_points * manifest.replicates
    if manifest.runs.planned != planned:
        raise CbsimError(
            f"{folder / MANIFEST}: malformed manifest (runs.planned is "
            f"{manifest.runs.planned:,}, not design points x replicates = {planned:,})"
        )
    design = read_design(folder, manifest)
    schema = _manifest_schema(folder, manifest)
    done = np.zeros(planned, dtype=bool)
    failed = 0
    parts = _part_files(folder / RUNS_DIR)
    for part in parts:
        ids, n_failed = _check_part(part, schema, planned)
        if done[ids].any():
            raise CbsimError(
                f"{part}: holds runs already in another part file "
                "(a copied or duplicated file?); move it away"
            )
        done[ids] = True
        failed += n_failed
    return RunsFolder(manifest, design, parts, done, failed)


def _manifest_schema(folder: Path, manifest: Manifest) -> pa.Schema:
    try:
        return pa.schema([(name, pa.type_for_alias(kind)) for name, kind in manifest.columns])
    except (ValueError, TypeError) as exc:
        raise CbsimError(f"{folder / MANIFEST}: malformed manifest (columns: {exc})") from None


def rows_written(runs_dir: Path) -> int:
    """How many runs the part files in runs/ hold (read from their footers)."""
    return sum(pq.read_metadata(part).num_rows for part in _part_files(runs_dir))


def _part_files(runs_dir: Path) -> list[Path]:
    """The part files in runs/ (none if there is no runs/); anything else is refused."""
    if not runs_dir.exists():
        return []
    if not runs_dir.is_dir():
        raise CbsimError(f"{runs_dir}: not a folder")
    parts = []
    for entry in sorted(runs_dir.iterdir()):
        if entry.name.startswith("."):
            continue  # hidden: a write cut short by a kill (readers skip hidden files)
        if not (entry.name.startswith("part-") and entry.suffix == ".parquet"):
            raise CbsimError(f"{entry}: not a part file of this sweep; move it away")
        if not entry.is_file():
            raise CbsimError(f"{entry}: not a regular file; move it away")
        parts.append(entry)
    return parts


def _check_part(part: Path, schema: pa.Schema, planned: int) -> tuple[np.ndarray, int]:
    """A part file's run ids and failed count, once its columns and ids are checked."""
    try:
        with pq.ParquetFile(part, pre_buffer=False) as handle:
            found = handle.schema_arrow
            if found.names != schema.names or found.types != schema.types:
                raise CbsimError(
                    f"{part}: its columns are not this sweep's (a file from another "
                    "sweep?); move it away"
                )
            table = handle.read(columns=["run_id", "error"], use_threads=False)
    except (OSError, pa.ArrowInvalid) as exc:
        raise CbsimError(f"{part}: unreadable part file ({_why(exc)}); move it away") from None
    ids = table.column("run_id").to_numpy(zero_copy_only=False)
    if table.column("run_id").null_count or (len(ids) and (ids.min() < 0 or ids.max() >= planned)):
        raise CbsimError(f"{part}: run ids outside this experiment's design; move it away")
    if len(np.unique(ids)) != len(ids):
        raise CbsimError(f"{part}: holds a run twice; move it away")
    return ids, len(ids) - table.column("error").null_count


def _why(exc: BaseException) -> str:
    """An error's message on one line, cut to 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
