"""The sweep's manifest (``DIR/manifest.json``) as a typed object, written and read only here.

The manifest says what a sweep folder holds: the experiment, the versions, the seeds, the
table's columns, the run counts, times and status, and one record per session (each
`cbsim sweep` or ``--resume`` that ran in the folder). `Manifest.write` writes it,
`read_manifest` reads it back (one-line `CbsimError` if it is missing, unreadable or
malformed); the JSON keys are those of format 1, so older sweep folders read unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.fileio import atomic_write_json
from cbsim.outputs.provenance import library_versions, utc_now
from cbsim.sweep.spec import MANIFEST, MANIFEST_FORMAT

if TYPE_CHECKING:
    from cbsim.inputs.experiment import Experiment
    from cbsim.inputs.scenario import Scenario

Status = Literal["running", "interrupted", "failed", "complete"]
STATUSES = ("running", "interrupted", "failed", "complete")
SEEDS = (
    "run seed = SeedSequence([master_seed, run_id]).generate_state(1, uint64)"
    "[0] >> 1; run_id = design_point * replicates + replicate"
)
PAIRED_SEEDS = (
    "paired: run seed = SeedSequence([master_seed, replicate]).generate_state(1, uint64)"
    "[0] >> 1, the same for every design point; run_id = design_point * replicates + replicate"
)
VERSIONED = ("cbsim", "mesa", "numpy", "pandas", "pyarrow", "SALib", "dask", "distributed")


def now() -> str:
    """The time now, as the manifest writes times (UTC, ISO 8601, to the second)."""
    return utc_now()


def versions() -> dict[str, str]:
    """Python's version and those of cbsim and the libraries that shape its results."""
    return library_versions(VERSIONED)


# ------------------------------------------------------------------------ the records
@dataclass(kw_only=True)
class ExperimentSummary:
    """The experiment file's content (`Experiment.summary`): what the sweep ran."""

    name: str
    description: str = ""
    source: str = ""
    scenario: str = ""
    replicates: int
    seed: int
    sampler: dict[str, Any]  # method, samples and the sampler's options
    factors: list[dict[str, Any]]  # each factor's path, kind and levels or bounds
    overrides: dict[str, Any] = field(default_factory=dict)
    paired: bool = False  # every design point has the same seeds, replicate by replicate
    series: bool = False  # the sweep keeps each run's monthly series (series/)

    @property
    def method(self) -> str:
        return str(self.sampler["method"])


@dataclass(kw_only=True)
class ScenarioRef:
    """The base scenario: its name, its file as messages name it, and the file itself."""

    name: str
    path: str | None = None
    file: str | None = None  # the resolved file (absolute): the one the sweep's runs used


@dataclass(kw_only=True)
class RunCounts:
    """Runs planned (design points x replicates), with a row (done), and failed among them."""

    planned: int
    done: int = 0
    failed: int = 0


@dataclass(kw_only=True)
class Session:
    """One `cbsim sweep` (or ``--resume``) in the folder, and what it did."""

    started: str
    ended: str | None = None
    engine: str | None = None  # the engine's description; None if nothing was left to run
    runs: int = 0  # rows written (finished or failed runs)
    worker_restarts: int = 0  # process pools started again after a worker died
    runs_failed: int = 0
    runs_lost_with_worker: int = 0  # recorded failed: their worker died running them alone
    runs_retried: int = 0  # rows of runs lost with their worker dropped to run them again
    cbsim: str = ""  # cbsim's version


@dataclass(kw_only=True)
class Manifest:
    """Everything ``manifest.json`` holds, in its key order."""

    format: int = MANIFEST_FORMAT
    experiment: ExperimentSummary
    experiment_file: str = ""  # the experiment file's text
    scenario: ScenarioRef
    fingerprint: str  # hash of everything that decides results: resume checks it
    master_seed: int
    seeds: str = SEEDS  # how a run's seed is derived
    design_points: int
    replicates: int
    problem: dict[str, Any]  # SALib's problem: num_vars, names, bounds
    factors: list[str]  # the factors' dotted paths
    columns: list[list[str]]  # the run table's [name, Arrow type] pairs
    versions: dict[str, str] = field(default_factory=dict)
    runs: RunCounts
    started: str = ""
    ended: str | None = None
    status: Status = "running"
    sessions: list[Session] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know

    def to_json(self) -> dict[str, Any]:
        """The JSON object written: the fields in order, then the unknown keys read."""
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "extra"}
        return {**data, **self.extra}

    def write(self, out: Path) -> None:
        """Write ``out/manifest.json`` atomically (OSError if that fails)."""
        atomic_write_json(out / MANIFEST, self.to_json())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """The manifest in a JSON object (`ValueError` naming the first bad field)."""
        read = _Reader(data, "")
        manifest = cls(
            format=read.take("format", int),
            experiment=_experiment(read.take("experiment", dict)),
            experiment_file=read.take("experiment_file", str, "", none_ok=True) or "",
            scenario=_scenario(read.take("scenario", dict)),
            fingerprint=read.take("fingerprint", str),
            master_seed=read.take("master_seed", int),
            seeds=read.take("seeds", str, SEEDS),
            design_points=read.take("design_points", int),
            replicates=read.take("replicates", int),
            problem=read.take("problem", dict),
            factors=read.list_of("factors", str),
            columns=read.list_of("columns", list),
            versions=read.take("versions", dict, {}),
            runs=_counts(
                read.take("runs", dict, {}),
                read.take("design_points", int) * read.take("replicates", int),
            ),
            started=read.take("started", str, ""),
            ended=read.take("ended", str, None, none_ok=True),
            status=_status(read.take("status", str, "running")),
            sessions=[_session(item) for item in read.list_of("sessions", dict, [])],
        )
        manifest.extra = read.unread()
        return manifest


def new_manifest(
    experiment: Experiment,
    scenario: Scenario,
    fingerprint: str,
    columns: list[list[str]],
    n_points: int,
) -> Manifest:
    """The manifest of a new sweep (status `running`)."""
    return Manifest(
        experiment=_experiment(experiment.summary()),
        experiment_file=experiment.text,
        scenario=ScenarioRef(
            name=scenario.name, path=scenario.path, file=scenario_file(experiment, scenario)
        ),
        fingerprint=fingerprint,
        master_seed=experiment.seed,
        seeds=PAIRED_SEEDS if experiment.paired else SEEDS,
        design_points=n_points,
        replicates=experiment.replicates,
        problem=experiment.problem(),
        factors=experiment.factor_paths,
        columns=columns,
        versions=versions(),
        runs=RunCounts(planned=n_points * experiment.replicates),
        started=now(),
    )


def scenario_file(experiment: Experiment, scenario: Scenario) -> str:
    """The experiment's base-scenario file, as resolved when it was loaded, made absolute."""
    found = getattr(experiment, "scenario_path", None)  # (cbsim.inputs >= the scenario_path)
    return os.path.abspath(found if found is not None else scenario.path)


def read_manifest(out: Path) -> Manifest:
    """The manifest of an existing sweep folder (CbsimError if missing or unreadable)."""
    path = out / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CbsimError(f"{out}: not a sweep output folder (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise CbsimError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise CbsimError(f"{path}: not a cbsim sweep manifest (format {MANIFEST_FORMAT})")
    try:
        return Manifest.from_json(data)
    except ValueError as exc:
        raise CbsimError(f"{path}: malformed manifest ({exc})") from None


# ------------------------------------------------------------------------ reading JSON
_REQUIRED: Any = object()
_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "a number",
    bool: "true or false",
}


class _Reader:
    """Takes typed values out of a JSON object; `ValueError` names a missing or bad key."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where
        self.read: set[str] = set()

    def take(self, key: str, kind: type, default: Any = _REQUIRED, none_ok: bool = False) -> Any:
        self.read.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise ValueError(f"no {self.where}{key}")
            return default
        value = self.data[key]
        if (value is None and none_ok) or _is(value, kind):
            return value
        got = "null" if value is None else type(value).__name__
        raise ValueError(f"{self.where}{key}: expected {_TYPE_NAMES[kind]}, got {got}")

    def list_of(self, key: str, kind: type, default: Any = _REQUIRED) -> Any:
        items = self.take(key, list, default)
        for i, item in enumerate(items):
            if not _is(item, kind):
                raise ValueError(f"{self.where}{key}[{i}]: expected {_TYPE_NAMES[kind]}")
        return items

    def unread(self) -> dict[str, Any]:
        return {key: value for key, value in self.data.items() if key not in self.read}


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _experiment(data: dict[str, Any]) -> ExperimentSummary:
    read = _Reader(data, "experiment.")
    sampler = read.take("sampler", dict)
    if not isinstance(sampler.get("method"), str):
        raise ValueError("experiment.sampler.method: expected a string")
    return ExperimentSummary(
        name=read.take("name", str),
        description=read.take("description", str, "", none_ok=True) or "",
        source=read.take("source", str, ""),
        scenario=read.take("scenario", str, ""),
        replicates=read.take("replicates", int),
        seed=read.take("seed", int),
        sampler=sampler,
        factors=read.list_of("factors", dict),
        overrides=read.take("overrides", dict, {}),
        paired=read.take("paired", bool, False),
        series=read.take("series", bool, False),
    )


def _scenario(data: dict[str, Any]) -> ScenarioRef:
    read = _Reader(data, "scenario.")
    return ScenarioRef(
        name=read.take("name", str),
        path=read.take("path", str, None, True),
        file=read.take("file", str, None, True),
    )


def _counts(data: dict[str, Any], planned: int) -> RunCounts:
    read = _Reader(data, "runs.")
    return RunCounts(
        planned=read.take("planned", int, planned),
        done=read.take("done", int, 0),
        failed=read.take("failed", int, 0),
    )


def _session(data: dict[str, Any]) -> Session:
    read = _Reader(data, "sessions[].")
    counts = {
        name: read.take(name, int, 0)
        for name in (
            "runs",
            "worker_restarts",
            "runs_failed",
            "runs_lost_with_worker",
            "runs_retried",
        )
    }
    return Session(
        started=read.take("started", str, ""),
        ended=read.take("ended", str, None, none_ok=True),
        engine=read.take("engine", str, None, none_ok=True),
        cbsim=read.take("cbsim", str, ""),
        **counts,
    )


def _status(text: str) -> Status:
    if text not in STATUSES:
        raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {text!r}")
    return cast(Status, text)


def _plain(value: Any) -> Any:
    """A field's JSON value (records become objects)."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value
