"""Sweeps under a calibrated posterior: what a sweep needs of one, and its record.

The sweep does not import cbsim.calibrate (which sits above it): the caller hands it a
posterior with `folder`, `sha256` and `draw(seed)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from cbsim.inputs.errors import CbsimError
from cbsim.sweep.manifest import Manifest


class Posterior(Protocol):
    """What a sweep needs of a calibrated posterior (cbsim.calibrate.posterior.Posterior)."""

    @property
    def folder(self) -> Path:
        """The calibration folder."""
        ...

    @property
    def sha256(self) -> str:
        """SHA-256 of its posterior.parquet."""
        ...

    def draw(self, seed: int) -> dict[str, Any]:
        """One particle's parameters, picked by weight from `seed`."""
        ...


def check_posterior(
    manifest: Manifest, posterior: Posterior | None, out: Path, resume: bool
) -> None:
    """Record the posterior in a new sweep's manifest; a resumed sweep must use the same."""
    recorded = manifest.extra.get("posterior")
    given = None
    if posterior is not None:
        given = {"folder": str(posterior.folder), "sha256": posterior.sha256}
    if resume:
        if (recorded or {}).get("sha256") != (given or {}).get("sha256"):
            wanted = f"--posterior {recorded['folder']}" if recorded else "no --posterior"
            raise CbsimError(f"{out}: this sweep was started with {wanted}; resume it the same way")
        return
    if given is not None:
        manifest.extra["posterior"] = given
