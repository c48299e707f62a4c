"""A finished (or partly finished) sweep as analysis reads it: manifest, runs and design."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cbsim.inputs.errors import CbsimError
from cbsim.sweep.manifest import Manifest, read_manifest
from cbsim.sweep.spec import DESIGN, RUNS_DIR


@dataclass
class Sweep:
    """What analysis reads: the manifest, the runs table and the raw design."""

    path: Path
    manifest: Manifest
    runs: pd.DataFrame
    design: pd.DataFrame | None

    @property
    def factors(self) -> list[str]:
        return list(self.manifest.factors)

    @property
    def method(self) -> str:
        return self.manifest.experiment.method


REQUIRED_COLUMNS = ("run_id", "design_point", "error", "target_met", "share_at_target")


def load_sweep(directory: str | os.PathLike) -> Sweep:
    """Read a sweep folder written by `cbsim sweep` (one-line CbsimError naming the file if
    it is not one, or if a file in it is damaged).

    runs/ must hold only part files (``part-*.parquet``; hidden files, such as a write cut
    short by a kill, are skipped as Parquet readers skip them), each readable, with the
    columns analysis needs and run ids of the design, each run id in one part file only,
    once. So a part file copied or restored twice is refused, not counted twice.
    """
    path = Path(directory)
    if not path.is_dir():
        raise CbsimError(f"{path}: no such sweep folder")
    manifest = read_manifest(path)  # one-line CbsimError if missing, unreadable or malformed
    parts = _part_files(path / RUNS_DIR)
    if not parts:
        raise CbsimError(f"{path}: no finished runs to analyse yet (runs/ is empty)")
    needed = [*REQUIRED_COLUMNS, *manifest.factors]
    tables = [_read_table(part, needed) for part in parts]
    _check_run_ids(parts, tables, manifest.runs.planned)
    runs = pd.concat(tables, ignore_index=True).sort_values("run_id").reset_index(drop=True)
    if runs.empty:
        raise CbsimError(f"{path}: no finished runs to analyse yet (its part files are empty)")
    design = None
    if (path / DESIGN).is_file():
        design = _read_table(path / DESIGN, ["design_point", *manifest.factors])
        design = design.sort_values("design_point")
    return Sweep(path, manifest, runs, design)


def _part_files(runs_dir: Path) -> list[Path]:
    """The part files in runs/, sorted; anything else but hidden files is refused."""
    if not runs_dir.is_dir():
        return []
    parts = []
    for entry in sorted(runs_dir.iterdir()):
        if entry.name.startswith("."):
            continue  # hidden: a write cut short by a kill
        if not (entry.name.startswith("part-") and entry.suffix == ".parquet"):
            raise CbsimError(f"{entry}: not a part file of this sweep; move it away")
        if not entry.is_file():
            raise CbsimError(f"{entry}: not a regular file; move it away")
        parts.append(entry)
    return parts


def _check_run_ids(parts: list[Path], tables: list[pd.DataFrame], planned: int) -> None:
    """Refuse a run id outside the design, or found twice (naming the part file)."""
    done = np.zeros(planned, dtype=bool)
    for part, table in zip(parts, tables, strict=True):
        ids = pd.to_numeric(table["run_id"], errors="coerce")
        if ids.isna().any() or (ids < 0).any() or (ids >= planned).any() or (ids % 1).any():
            raise CbsimError(f"{part}: run ids outside this experiment's design; move it away")
        found = ids.to_numpy(dtype=np.int64)
        if len(np.unique(found)) != len(found):
            raise CbsimError(f"{part}: holds a run twice; move it away")
        if done[found].any():
            raise CbsimError(
                f"{part}: holds runs already in another part file (a copied or duplicated "
                "file?); move it away"
            )
        done[found] = True


def _read_table(file: Path, columns: list[str]) -> pd.DataFrame:
    """A Parquet file's table; one-line CbsimError naming the file if it is not one, or if
    it lacks a column analysis needs."""
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise CbsimError(f"{file}: not a readable Parquet file ({_first_line(exc)})") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise CbsimError(f"{file}: not a cbsim sweep table (no column {missing[0]!r})")
    return table.to_pandas()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
