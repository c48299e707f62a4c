"""A calibration's posterior, for projections that carry its uncertainty.

`Posterior.load(folder)` reads and checks ``posterior.parquet`` of a finished calibration
(columns: ``weight`` and declared float parameters; weights positive and finite; values finite
and within the declared ranges); any problem is one `InputError` line naming the file and the
column. `Posterior.draw(seed)` picks one particle by weight with
``numpy.random.default_rng(SeedSequence([seed, DRAW_KEY]))`` from the run's own seed, and
returns its parameters: the same run seed gives the same particle on every engine and machine,
and runs with different seeds sample the posterior. Values set explicitly (``--set``, a
sweep's factors) go on top of the draw.

`cbsim run --posterior DIR` records the draw in ``posterior.json`` beside the run's outputs
(`write_draw_record`).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from cbsim.inputs.errors import InputError, printable, short_repr, suggest
from cbsim.inputs.fileio import atomic_write_json
from cbsim.inputs.parameters import declared

POSTERIOR = "posterior.parquet"
DRAW_RECORD = "posterior.json"
DRAW_KEY = 0x9057  # mixed with the run's seed, so the draw's stream is not the model's
MAX_POSTERIOR_BYTES = 200_000_000


@dataclass(frozen=True, eq=False)
class Posterior:
    """The particles of a calibration's last generation: parameter values and weights."""

    folder: Path  # absolute
    paths: tuple[str, ...]  # the calibrated parameters (dotted paths)
    values: np.ndarray  # particles x parameters
    weights: np.ndarray  # normalised to sum to 1
    sha256: str  # of posterior.parquet

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Posterior:
        """Read and check `folder`/posterior.parquet (one-line InputError on a problem)."""
        return _load(Path(os.path.abspath(folder)))

    def __len__(self) -> int:
        return len(self.weights)

    def index(self, seed: int) -> int:
        """The particle a run with `seed` (a whole number >= 0) takes, picked by weight."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), DRAW_KEY]))
        cumulative = np.cumsum(self.weights)
        found = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        return min(found, len(self.weights) - 1)

    def draw(self, seed: int) -> dict[str, float]:
        """The parameters of the particle a run with `seed` takes, by dotted path."""
        row = self.values[self.index(seed)]
        return {path: float(v) for path, v in zip(self.paths, row, strict=True)}

    def record(self, seed: int, overridden: list[str] | None = None) -> dict[str, Any]:
        """What a run's outputs say about its draw (JSON-friendly); `overridden` names the
        drawn parameters that the run set otherwise (--set)."""
        i = self.index(seed)
        return {
            "posterior": str(self.folder),
            "file": POSTERIOR,
            "sha256": self.sha256,
            "seed": int(seed),
            "particle": i,
            "weight": float(self.weights[i]),
            "parameters": self.draw(seed),
            "overridden": sorted(set(overridden or ()) & set(self.paths)),
        }


def load_posterior(folder: str | os.PathLike[str]) -> Posterior:
    """`Posterior.load(folder)`, kept for the life of the process while the file is unchanged
    (for callers that draw once per run, such as sweeps)."""
    path = Path(os.path.abspath(folder))
    try:
        stamp = (path / POSTERIOR).stat()
        key = (stamp.st_mtime_ns, stamp.st_size)
    except OSError:
        key = (0, 0)  # `_load` says what is wrong
    return _cached(path, key)


@lru_cache(maxsize=8)
def _cached(path: Path, stamp: tuple[int, int]) -> Posterior:
    return _load(path)


def _load(folder: Path) -> Posterior:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not folder.is_dir():
        raise InputError("--posterior", None, f"{printable(str(folder))}: no such folder")
    file = folder / POSTERIOR
    shown = printable(str(file))
    if not file.is_file():
        raise InputError(
            shown, None, "missing: not the folder of a finished calibration (cbsim calibrate)"
        )
    size = file.stat().st_size
    if size > MAX_POSTERIOR_BYTES:
        raise InputError(shown, None, f"too large for a posterior ({size:,} bytes)")
    raw = file.read_bytes()
    try:
        table = pq.read_table(pa.BufferReader(raw))
    except Exception as exc:  # pyarrow raises many types for a damaged file
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise InputError(shown, None, f"not a readable Parquet file ({reason})") from None
    names = list(table.column_names)
    paths = _check_columns(names, shown)
    weights = _column(table, "weight", shown)
    if len(weights) == 0:
        raise InputError(shown, None, "has no particles")
    bad = np.flatnonzero(~(np.isfinite(weights) & (weights > 0)))
    if len(bad):
        i = int(bad[0])
        raise InputError(
            shown, "weight", f"must be positive and finite; row {i} has {weights[i]!r}"
        )
    values = np.column_stack([_parameter(table, p, shown) for p in paths])
    digest = hashlib.sha256(raw).hexdigest()
    return Posterior(folder, tuple(paths), values, weights / weights.sum(), digest)


def _check_columns(names: list[str], shown: str) -> list[str]:
    """The parameter columns: every column but `weight`, each a declared float parameter."""
    if "weight" not in names:
        raise InputError(shown, "weight", "missing column")
    paths = [n for n in names if n != "weight"]
    if not paths:
        raise InputError(shown, None, "has no parameter columns")
    if len(set(names)) != len(names):
        raise InputError(shown, None, "a column is repeated")
    for path in paths:
        param = declared().get(path)
        if param is None:
            hint = suggest(path, list(declared()))
            raise InputError(shown, printable(path), f"not a declared parameter{hint}")
        if param.kind != "float":
            raise InputError(shown, path, f"a {param.kind} parameter; only float ones")
    return paths


def _column(table: Any, name: str, shown: str) -> np.ndarray:
    column = table.column(name)
    try:
        return np.asarray(column.to_numpy(), dtype=np.float64)
    except Exception:  # strings, nulls, nested types: pyarrow raises several kinds
        raise InputError(shown, name, f"not a column of numbers ({column.type})") from None


def _parameter(table: Any, path: str, shown: str) -> np.ndarray:
    """A parameter's column: finite numbers within its declared range."""
    values = _column(table, path, shown)
    param = declared()[path]
    low = -math.inf if param.min is None else float(param.min)
    high = math.inf if param.max is None else float(param.max)
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= low) & (values <= high)))
    if len(bad):
        i = int(bad[0])
        raise InputError(
            shown,
            path,
            f"row {i} has {short_repr(float(values[i]))}, outside the declared range "
            f"[{low:g}, {high:g}]",
        )
    return values


def write_draw_record(out: str | os.PathLike[str], record: dict[str, Any] | None) -> None:
    """Write `record` as `out`/posterior.json, or, with none, remove one an earlier run left
    (so a run's folder never names a posterior it did not use)."""
    path = Path(out) / DRAW_RECORD
    if record is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_json(path, record)
