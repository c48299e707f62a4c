"""A finished (or partly finished) sweep as analysis reads it: manifest, runs and design."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cbsim.inputs.errors import CbsimError
from cbsim.sweep.manifest import Manifest
from cbsim.sweep.spec import DESIGN
from cbsim.sweep.store import check_runs_folder


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

    The folder is checked first as `cbsim sweep --resume` checks it
    (`cbsim.sweep.store.check_runs_folder`): the manifest, the design, and runs/ holding
    only part files, each readable, with this sweep's columns and run ids of its design,
    each run id in one part file only, once. So a part file copied or restored twice is
    refused, not counted twice.
    """
    path = Path(directory)
    if not path.is_dir():
        raise CbsimError(f"{path}: no such sweep folder")
    folder = check_runs_folder(path)
    if not folder.parts:
        raise CbsimError(f"{path}: no finished runs to analyse yet (runs/ is empty)")
    needed = [*REQUIRED_COLUMNS, *folder.manifest.factors]
    tables = [_read_table(part, needed) for part in folder.parts]
    runs = pd.concat(tables, ignore_index=True).sort_values("run_id").reset_index(drop=True)
    if runs.empty:
        raise CbsimError(f"{path}: no finished runs to analyse yet (its part files are empty)")
    design = None
    if (path / DESIGN).is_file():
        design = _read_table(path / DESIGN, ["design_point", *folder.manifest.factors])
        design = design.sort_values("design_point")
    return Sweep(path, folder.manifest, runs, design)


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
