"""The report's files, written as a whole: staged in a hidden folder inside the sweep folder,
then moved into place, so that an analysis that fails part-way (a full disk, an error)
leaves the previous complete one and no file of its own.

The staging folder is inside the sweep folder, never beside it: the sweep folder may be a
mount point (a Docker volume), where a rename from outside it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.fileio import atomic_write_bytes
from cbsim.outputs.figures import figure_png, plt

REPORT = "report.md"
REPORT_HTML = "report.html"
OUTPUTS = (
    REPORT_HTML,
    "design_points.csv",
    "frontier.csv",
    "marginals.csv",
    "sensitivity.csv",
    "prim_boxes.csv",
    "design_points.png",
    "p_target_heatmap.png",
    "sensitivity.png",
    "prim_tradeoff.png",
)  # and REPORT, moved last: it shows all the others
STAGING_PREFIX = ".analysis."
STAGING_SUFFIX = ".tmp"


class ReportFiles:
    """The files of one analysis of the sweep folder `folder`, as they are made: CSVs
    written at once and figures at the end, all into the staging folder; `commit` moves
    them into `folder` (and removes any file of an earlier report this one lacks),
    `discard` drops them. Use as a context manager: an exception discards."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.staging = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}{STAGING_SUFFIX}"
        self.figures: dict[str, Figure] = {}  # written last, once the tables are
        self.written: list[str] = []

    def __enter__(self) -> ReportFiles:
        for old in self.folder.glob(f"{STAGING_PREFIX}*{STAGING_SUFFIX}"):
            shutil.rmtree(old, ignore_errors=True)  # left by an analysis that was killed
        try:
            self.staging.mkdir()
        except OSError as exc:
            raise self._error(self.staging, exc) from None
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.discard()

    def csv(self, name: str, frame: pd.DataFrame) -> None:
        self.write(name, frame.to_csv(index=False).encode("utf-8"))

    def write(self, name: str, data: bytes) -> None:
        """Write one file into the staging folder; a failure is one error line."""
        try:
            atomic_write_bytes(self.staging / name, data)
        except OSError as exc:
            raise self._error(self.folder / name, exc) from None
        self.written.append(name)

    def read(self, name: str) -> bytes | None:
        """A staged file's bytes (None if this analysis has not written it)."""
        path = self.staging / name
        return path.read_bytes() if "/" not in name and path.is_file() else None

    def write_figures(self) -> None:
        for name, fig in self.figures.items():
            self.write(name, figure_png(fig))

    def commit(self) -> Path:
        """Move the staged files into the sweep folder (those written through this object and
        any other file put in the staging folder, e.g. a section's figures), the report
        last; remove the files of an earlier report that this one lacks. Returns the
        report's path."""
        try:
            staged = sorted(p.name for p in self.staging.iterdir() if p.is_file())
            for name in sorted(staged, key=lambda n: n == REPORT):
                os.replace(self.staging / name, self.folder / name)
            for name in OUTPUTS:
                if name not in staged:
                    (self.folder / name).unlink(missing_ok=True)
        except OSError as exc:
            raise self._error(self.folder, exc) from None
        self.discard()
        return self.folder / REPORT

    def discard(self) -> None:
        plt.close("all")
        shutil.rmtree(self.staging, ignore_errors=True)

    def _error(self, path: Path, exc: OSError) -> CbsimError:
        return CbsimError(
            f"{path}: cannot write the report ({exc.strerror or exc}); the sweep's runs and "
            "any earlier report are untouched"
        )
