"""A calibration's output folder: its manifest, the checks before a run writes anything, and
the staged writing of the final outputs.

While a calibration runs the folder holds ``calibration.toml`` (a copy of the file),
``history.db`` (pyabc's SQLite record, one complete generation at a time: what ``--resume``
continues) and ``manifest.json`` (status ``running``, then ``done``, ``interrupted`` or
``failed``). The posterior, the report and its figures are made in a hidden staging folder
inside the output folder and moved into place only when all of them are written, so a failed
calibration leaves no half-written posterior.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cbsim.inputs.calibration import Calibration
from cbsim.inputs.errors import InputError
from cbsim.inputs.fileio import atomic_write_json, atomic_write_text, check_output_path
from cbsim.outputs.provenance import library_versions, utc_now

MANIFEST = "manifest.json"
DATABASE = "history.db"
CALIBRATION_COPY = "calibration.toml"
POSTERIOR = "posterior.parquet"
REPORT = "report.md"
KIND = "cbsim calibration"
MANIFEST_FORMAT = 1
STAGING_PREFIX = ".calibrate."
STAGING_SUFFIX = ".tmp"
VERSIONED = ("cbsim", "pyabc", "numpy", "pandas", "scipy", "mesa", "dask", "distributed")


def now() -> str:
    """The time now, as the manifest writes times (UTC, ISO 8601, to the second)."""
    return utc_now()


def versions() -> dict[str, str]:
    """Python's version and those of cbsim and the libraries that shape the fit."""
    return library_versions(VERSIONED)


def database_url(out: Path) -> str:
    """pyabc's SQLAlchemy address of the folder's history."""
    return f"sqlite:///{(out / DATABASE).resolve()}"


def default_out(calibration: Calibration) -> Path:
    """Where a calibration's outputs go when no folder is named: `posteriors/NAME`."""
    return Path("posteriors") / calibration.name


def check_new_folder(out: Path) -> None:
    """A new calibration writes only into a new or empty folder (before anything is written)."""
    check_output_path(out, "--out")
    if out.exists() and not out.is_dir():
        raise InputError("--out", None, f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise InputError(
            "--out",
            None,
            f"{out} is not empty; name a new folder, or add --resume to continue the "
            "calibration recorded there",
        )


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of an earlier calibration in `out` (for --resume), checked."""
    check_output_path(out, "--out")
    path = out / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "--resume", None, f"{out} holds no calibration to resume (no {MANIFEST})"
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(str(path), None, f"cannot read the manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise InputError(str(path), None, "not a cbsim calibration manifest")
    if not (out / DATABASE).is_file():
        raise InputError("--resume", None, f"{out} has no {DATABASE} to resume from")
    return manifest


def check_resumable(manifest: dict[str, Any], calibration: Calibration, out: Path) -> None:
    """Refuse to resume a folder calibrated from a different file (or a different version
    of it): the generations on record must come from the same priors and targets."""
    recorded = manifest.get("calibration", {}).get("fingerprint")
    if recorded != calibration.fingerprint():
        raise InputError(
            "--resume",
            None,
            f"{out} was calibrated with different priors, targets, seed or [abc] settings "
            f"than {calibration.source}; name a new folder instead",
        )


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically."""
    atomic_write_json(out / MANIFEST, manifest)


def start_folder(out: Path, calibration: Calibration) -> None:
    """Make the folder and copy the calibration file into it."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CALIBRATION_COPY, calibration.text)


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A hidden folder inside `out` to write the final outputs into; on leaving the block
    without an error, each file replaces its namesake in `out`. On any error (or an
    interruption) the staging folder is removed and `out` is left as it was."""
    for old in out.glob(f"{STAGING_PREFIX}*{STAGING_SUFFIX}"):
        shutil.rmtree(old, ignore_errors=True)  # left by a calibration that was killed
    staging = out / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}{STAGING_SUFFIX}"
    staging.mkdir()
    try:
        yield staging
        for path in sorted(staging.iterdir()):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_outputs(out: Path, names: list[str]) -> None:
    """Remove earlier final outputs (before a resumed calibration changes the posterior)."""
    for name in names:
        (out / name).unlink(missing_ok=True)


def write_file(folder: Path, name: str, writer: Callable[[Path], None]) -> str:
    """Call `writer(folder / name)` and return `name` (for the list of outputs)."""
    writer(folder / name)
    return name
