"""Where a session of a sweep starts: the sweep in a folder to resume, checked, or what a new
one needs first (the outcome columns of a probe run, every design point checked)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.experiment import Experiment
from cbsim.inputs.factors import SCENARIO_FACTOR
from cbsim.inputs.scenario import Scenario
from cbsim.model.simulate import simulate
from cbsim.sweep.folder import remove_leftovers
from cbsim.sweep.manifest import Manifest, read_manifest, versions
from cbsim.sweep.series_store import drop_orphan_series
from cbsim.sweep.spec import RUNS_DIR
from cbsim.sweep.store import check_runs_folder, forget_worker_deaths


@dataclass
class Start:
    """Where a session starts: the manifest, the raw design, the runs with a row, and how
    many failed."""

    manifest: Manifest
    raw: np.ndarray  # the design's raw matrix: the sampler's (new) or design.parquet's
    done: np.ndarray  # one boolean a run id
    failed: int
    retried: int  # rows of runs lost with their worker, dropped to run them again


def previous(out: Path, exp: Experiment, fingerprint: str) -> Start:
    """The manifest, design, finished runs, failed count and runs to retry of the sweep in
    `out`, once its results pass `check_runs_folder`.

    The design is the one stored in the folder, not the sampler's again (a SALib or numpy
    release between two sessions may sample differently). Runs lost with their worker
    process are forgotten, so that they run again; with series, series parts whose runs part
    is missing go too (`drop_orphan_series`).
    """
    manifest = read_manifest(out)
    if manifest.fingerprint != fingerprint:
        raise CbsimError(
            f"{out}: the experiment or its scenario has changed since this "
            "sweep started; resume needs the same experiment (or use a new --out)"
        )
    _warn_versions(out, manifest)
    try:
        remove_leftovers(out)
        (out / RUNS_DIR).mkdir(exist_ok=True)
    except OSError as exc:
        raise CbsimError(
            f"{out}: cannot write in the output folder ({exc.strerror or exc})"
        ) from None
    folder = check_runs_folder(out)
    if folder.design.shape != (exp.n_points(), len(exp.factors)):
        raise CbsimError(
            f"{out}: design.parquet has {folder.design.shape[0]:,} points of "
            f"{folder.design.shape[1]} factors; the experiment has {exp.n_points():,} of "
            f"{len(exp.factors)}"
        )
    try:
        retried = forget_worker_deaths(out / RUNS_DIR)
    except OSError as exc:
        raise CbsimError(
            f"{out}: cannot write in the output folder ({exc.strerror or exc})"
        ) from None
    if exp.series:
        drop_orphan_series(out)
    done = folder.done.copy()
    done[retried] = False
    failed = folder.failed - len(retried)
    return Start(manifest, folder.design, done, failed, len(retried))


def _warn_versions(out: Path, manifest: Manifest) -> None:
    started_with, current = manifest.versions, versions()
    changed = [
        f"{name} {started_with.get(name)} -> {current[name]}"
        for name in ("cbsim", "mesa")
        if started_with.get(name) != current[name]
    ]
    if changed:
        print(
            f"cbsim: warning: {out} was started with other versions ({', '.join(changed)}); "
            "runs from both will share one table",
            file=sys.stderr,
        )


def check_design(
    exp: Experiment, scenarios: dict[str, Scenario], design: list[dict[str, Any]]
) -> None:
    """Every design point must make a valid scenario (e.g. a stance above its floor) of its
    base scenario (the scenario factor's, or the one base scenario)."""
    default = next(iter(scenarios))
    seen: set[tuple[tuple[str, Any], ...]] = set()
    for i, point in enumerate(design):
        key = tuple(sorted(point.items()))
        if key in seen:
            continue
        seen.add(key)
        values = {k: v for k, v in point.items() if k != SCENARIO_FACTOR}
        name = point.get(SCENARIO_FACTOR, default)
        where = f"design point {i}, scenario {name}" if exp.varies_scenario else f"design point {i}"
        scenarios[name].with_overrides(values, source=f"{exp.source}: factors ({where})")


def probe(scenarios: dict[str, Scenario]) -> dict[str, Any]:
    """One run of each base scenario: the outcome names and types the table will hold (an
    outcome that is None in one scenario takes its type from another's value)."""
    found: dict[str, Any] = {}
    for scenario in scenarios.values():
        try:
            outcomes = simulate(scenario, seed=0)
        except Exception as exc:
            raise CbsimError(
                f"{scenario.path}: the base scenario does not run ({type(exc).__name__}: {exc})"
            ) from None
        for key, value in outcomes.items():
            if found.get(key) is None:
                found[key] = value
    return found
