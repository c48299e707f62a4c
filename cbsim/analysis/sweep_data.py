"""A finished (or partly finished) sweep as analysis reads it: manifest, runs and design."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cbsim.inputs.errors import CbsimError


@dataclass
class Sweep:
    """What analysis reads: the manifest, the runs table and the raw design."""

    path: Path
    manifest: dict[str, Any]
    runs: pd.DataFrame
    design: pd.DataFrame | None

    @property
    def factors(self) -> list[str]:
        return list(self.manifest["factors"])

    @property
    def method(self) -> str:
        return self.manifest["experiment"]["sampler"]["method"]


def load_sweep(directory: str | os.PathLike) -> Sweep:
    """Read a sweep folder written by `cbsim sweep` (CbsimError if it is not one)."""
    path = Path(directory)
    if not path.is_dir():
        raise CbsimError(f"{path}: no such sweep folder")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CbsimError(f"{path}: not a sweep output folder (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise CbsimError(f"{path / 'manifest.json'}: unreadable ({exc})") from None
    parts = list((path / "runs").glob("part-*.parquet"))
    if not parts:
        raise CbsimError(f"{path}: no finished runs to analyse yet (runs/ is empty)")
    runs = pd.read_parquet(path / "runs").sort_values("run_id").reset_index(drop=True)
    design = None
    if (path / "design.parquet").is_file():
        design = pd.read_parquet(path / "design.parquet").sort_values("design_point")
    return Sweep(path, manifest, runs, design)
