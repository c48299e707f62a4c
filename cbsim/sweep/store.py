"""The sweep's files: Parquet part files, the run table's Arrow schema, the folder and its lock.

Output folder::

    DIR/manifest.json        experiment, versions, seed, counts, times, status (`manifest`)
    DIR/experiment.toml      copy of the experiment file
    DIR/design.parquet       the sampler's raw matrix, one row per design point
    DIR/runs/part-*.parquet  one row per run; `pandas.read_parquet(DIR / "runs")` reads all

Each part file is written atomically when its batch finishes, so an interrupted sweep keeps
every finished run. A new output folder is built under a hidden name and renamed into
place, so it is either absent or resumable. This is the only module of the package that
loads pyarrow.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

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
from cbsim.inputs.experiment import run_seed  # noqa: E402
from cbsim.inputs.fileio import atomic_write_bytes, atomic_write_text  # noqa: E402
from cbsim.sweep.engines import close_in_workers  # noqa: E402
from cbsim.sweep.spec import (  # noqa: E402
    DESIGN,
    EXPERIMENT_COPY,
    LOCK,
    RUNS_DIR,
    WORKER_DIED,
    RunResult,
    RunSpec,
)

if TYPE_CHECKING:
    from cbsim.inputs.experiment import Experiment
    from cbsim.sweep.manifest import Manifest

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock against two sweeps in one folder
    fcntl = None  # type: ignore[assignment]  # the module is absent on Windows

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
}


# ------------------------------------------------------------------------ the run table
class RunTable:
    """Turns batch results into Arrow tables with one fixed schema, written as part files."""

    def __init__(
        self, experiment: Experiment, design: list[dict[str, Any]], columns: list[list[str]]
    ) -> None:
        self.experiment = experiment
        self.design = design
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
            cols.append([key, str(_arrow_type(value))])
        cols.append(["error", "string"])
        return cols

    def specs(self, run_ids: Sequence[int]) -> list[RunSpec]:
        """What a worker needs for these runs: id, seed and the design point's values."""
        r, seed = self.experiment.replicates, self.experiment.seed
        return [(i, run_seed(seed, i), self.design[i // r]) for i in run_ids]

    def table(self, results: list[RunResult]) -> pa.Table:
        """Rows for finished runs, in run-id order, with the fixed schema."""
        r, seed = self.experiment.replicates, self.experiment.seed
        results = sorted(results, key=lambda item: item[0])
        ids = [run_id for run_id, _, _ in results]
        points = [run_id // r for run_id in ids]
        outcomes = [{} if out is None else out for _, out, _ in results]
        errors = [error for _, _, error in results]
        cols: dict[str, list[Any]] = {
            "run_id": ids,
            "design_point": points,
            "replicate": [i % r for i in ids],
            "seed": [run_seed(seed, i) for i in ids],
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
def write_part(runs_dir: Path, table: pa.Table) -> Path:
    """Write one part file atomically (hidden temporary name, then rename)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    first = int(table.column("run_id")[0].as_py()) if table.num_rows else 0
    path = runs_dir / f"part-{first:09d}-{secrets.token_hex(4)}.parquet"
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _read_part(part: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a part file in this thread (`pq.read_table` starts Arrow's thread pools, and the
    process pool forks its workers from this process)."""
    with pq.ParquetFile(part, pre_buffer=False) as handle:
        return handle.read(columns=columns, use_threads=False)


def finished_runs(runs_dir: Path, planned: int) -> tuple[np.ndarray, int]:
    """Which run ids already have a row (a boolean mask), and how many of them failed."""
    done = np.zeros(planned, dtype=bool)
    failed = 0
    for leftover in runs_dir.glob(".part-*.tmp"):  # a write cut short by a kill
        leftover.unlink(missing_ok=True)
    for part in sorted(runs_dir.glob("part-*.parquet")):
        try:
            table = _read_part(part, ["run_id", "error"])
        except (OSError, pa.ArrowInvalid) as exc:
            raise CbsimError(
                f"{part}: unreadable part file ({exc}); move it away and resume again"
            ) from None
        ids = table.column("run_id").to_numpy()
        if len(ids) and (ids.min() < 0 or ids.max() >= planned):
            raise CbsimError(f"{part}: run ids outside this experiment's design")
        if done[ids].any():
            raise CbsimError(f"{part}: holds runs already in another part file")
        done[ids] = True
        failed += len(ids) - table.column("error").null_count
    return done, failed


def forget_worker_deaths(runs_dir: Path) -> int:
    """Drop the rows of runs lost with their worker process, so that they run again.

    Each part file holding such rows is replaced atomically by one without them (or removed
    if nothing is left); rows of runs whose model raised are kept. Returns how many rows went.
    """
    forgotten = 0
    for part in sorted(runs_dir.glob("part-*.parquet")):
        try:
            errors = _read_part(part, ["error"]).column("error")
        except (OSError, pa.ArrowInvalid):
            continue  # `finished_runs` names an unreadable part
        keep = [error is None or not error.startswith(WORKER_DIED) for error in errors.to_pylist()]
        n = keep.count(False)
        if not n:
            continue
        if n == len(errors):
            part.unlink()
        else:
            kept = _read_part(part).filter(pa.array(keep, type=pa.bool_()))
            buffer = io.BytesIO()
            pq.write_table(kept, buffer)
            atomic_write_bytes(part, buffer.getvalue())
        forgotten += n
    return forgotten


# ------------------------------------------------------------------------ the folder
def lock_folder(out: Path) -> IO[bytes]:
    """Hold an exclusive lock on `out` (released when this process ends, even if killed).

    The lock file is held open read-only (flock needs no more), so the sweep holds no file
    open for writing between writes; touching it checks that the folder is writable.
    """
    handle = None
    try:
        handle = open(os.open(out / LOCK, os.O_RDONLY | os.O_CREAT, 0o644), "rb")  # noqa: SIM115
        os.utime(handle.fileno())
    except OSError as exc:
        if handle is not None:
            handle.close()
        raise CbsimError(
            f"{out}: cannot write in the output folder ({exc.strerror or exc})"
        ) from None
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise CbsimError(
                f"{out}: another cbsim sweep is writing to this folder; wait "
                "for it to finish (or stop it) before resuming"
            ) from None
    close_in_workers(handle)  # forked workers close their copy
    return handle


def create_output(out: Path, exp: Experiment, raw: np.ndarray, manifest: Manifest) -> IO[bytes]:
    """Create and lock the output folder with the experiment, design and manifest in it.

    The folder is built under a hidden name next to `out` and renamed into place, so `out`
    is either absent or a sweep that ``--resume`` can finish, however the process ends.
    Returns the lock, held.
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(out)
        staging = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()
    except OSError as exc:
        raise CbsimError(
            f"{out}: cannot create the output folder ({exc.strerror or exc})"
        ) from None
    lock = lock_folder(staging)
    try:
        _fill_staging(staging, exp, raw, manifest)
        os.rename(staging, out)  # replaces `out` only if it is an empty folder
    except OSError as exc:
        lock.close()
        shutil.rmtree(staging, ignore_errors=True)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CbsimError(
                f"{out}: output folder already exists; use --resume to finish "
                "it, or choose another --out"
            ) from None
        raise CbsimError(
            f"{out}: cannot write the sweep's output ({exc.strerror or exc})"
        ) from None
    return lock  # the lock file moved with the folder: `out` is locked


def _fill_staging(staging: Path, exp: Experiment, raw: np.ndarray, manifest: Manifest) -> None:
    """Write a new sweep's files: runs/, the experiment, the design, the manifest (last)."""
    (staging / RUNS_DIR).mkdir()
    if exp.text:
        atomic_write_text(staging / EXPERIMENT_COPY, exp.text)
    design = {"design_point": np.arange(len(raw), dtype=np.int64)}
    design.update({path: raw[:, j] for j, path in enumerate(exp.factor_paths)})
    buffer = io.BytesIO()
    pq.write_table(pa.table(design), buffer)
    atomic_write_bytes(staging / DESIGN, buffer.getvalue())
    manifest.write(staging)


def _remove_stale_staging(out: Path) -> None:
    """Remove folders that a killed sweep was building for `out` (none is locked)."""
    for staging in out.parent.glob(f".{out.name}.*.tmp"):
        if not staging.is_dir():
            continue
        if not (staging / LOCK).exists():
            if time.time() - staging.stat().st_mtime < 60:
                continue  # another sweep may just have made it, and not locked it yet
        else:
            try:
                lock_folder(staging).close()
            except CbsimError:
                continue  # another sweep is building it now
        shutil.rmtree(staging, ignore_errors=True)


def remove_leftovers(out: Path) -> None:
    """Remove files a killed sweep was writing in `out` (hidden temporary names)."""
    for leftover in out.glob(".*.tmp"):  # a manifest write cut short by a kill
        leftover.unlink(missing_ok=True)
