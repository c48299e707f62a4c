"""The sweep's manifest: written and read back as the same typed object, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweep_designs import experiment_text

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.experiment import load_experiment
from cbsim.sweep.manifest import Manifest, RunCounts, Session, new_manifest, read_manifest

KEYS = [  # manifest.json's keys, in order (format 1): older sweep folders have these
    "format",
    "experiment",
    "experiment_file",
    "scenario",
    "fingerprint",
    "master_seed",
    "seeds",
    "design_points",
    "replicates",
    "problem",
    "factors",
    "columns",
    "versions",
    "runs",
    "started",
    "ended",
    "status",
    "sessions",
]


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    path = tmp_path / "tiny.toml"
    path.write_text(experiment_text(replicates=3, seed=99))
    exp = load_experiment(path)
    scenario = exp.base_scenario()
    columns = [["run_id", "int64"], ["error", "string"]]
    return new_manifest(exp, scenario, exp.fingerprint(scenario), columns, len(exp.design()))


def test_written_and_read_back_unchanged_with_the_keys_of_format_1(manifest, tmp_path):
    manifest.sessions.append(Session(started="2026-01-01T00:00:00+00:00", runs=12, cbsim="1"))
    manifest.runs = RunCounts(planned=12, done=12, failed=1)
    manifest.status = "complete"
    manifest.write(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert list(data) == KEYS
    assert data["runs"] == {"planned": 12, "done": 12, "failed": 1}
    assert list(data["sessions"][0]) == [
        "started",
        "ended",
        "engine",
        "runs",
        "worker_restarts",
        "runs_failed",
        "runs_lost_with_worker",
        "runs_retried",
        "cbsim",
    ]
    assert data["experiment"]["sampler"]["method"] == "grid" and data["master_seed"] == 99
    assert read_manifest(tmp_path) == manifest


def test_keys_it_does_not_know_are_kept(manifest, tmp_path):
    manifest.write(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["notes"] = {"by": "a later cbsim"}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    again = read_manifest(tmp_path)
    assert again.extra == {"notes": {"by": "a later cbsim"}}
    again.write(tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text()) == data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (None, "not a sweep output folder (no manifest.json)"),
        ("{not json", "unreadable manifest"),
        ({"format": 2}, "not a cbsim sweep manifest (format 1)"),
        ({"master_seed": "99"}, "malformed manifest (master_seed: expected a number, got str)"),
        ({"fingerprint": None}, "malformed manifest (fingerprint: expected a string, got null)"),
        ({"status": "half"}, "malformed manifest (status: expected one of running"),
        ({"experiment": {"name": "x"}}, "malformed manifest (no experiment.sampler)"),
        ({"factors": [1]}, "malformed manifest (factors[0]: expected a string)"),
    ],
)
def test_a_missing_unreadable_or_malformed_manifest_is_one_line(
    manifest, tmp_path, change, message
):
    manifest.write(tmp_path)
    path = tmp_path / "manifest.json"
    if change is None:
        path.unlink()
    elif isinstance(change, str):
        path.write_text(change)
    else:
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(CbsimError) as caught:
        read_manifest(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
