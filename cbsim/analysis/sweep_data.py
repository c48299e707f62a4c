"""A finished (or partly finished) sweep as analysis reads it: manifest, runs and design."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cbsim.inputs.errors import CbsimError
from cbsim.sweep.manifest import Manifest, read_manifest


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


def load_sweep(directory: str | os.PathLike) -> Sweep:
    """Read a sweep folder written by `cbsim sweep` (CbsimError if it is not one)."""
    path = Path(directory)
    if not path.is_dir():
        raise CbsimError(f"{path}: no such sweep folder")
    manifest = read_manifest(path)  # one-line CbsimError if missing, unreadable or malformed
    parts = list((path / "runs").glob("part-*.parquet"))
    if not parts:
        raise CbsimError(f"{path}: no finished runs to analyse yet (runs/ is empty)")
    runs = pd.read_parquet(path / "runs").sort_values("run_id").reset_index(drop=True)
    design = None
    if (path / "design.parquet").is_file():
        design = pd.read_parquet(path / "design.parquet").sort_values("design_point")
    return Sweep(path, manifest, runs, design)
