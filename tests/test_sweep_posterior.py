"""`cbsim sweep --posterior DIR`: each run draws its calibrated parameters from the posterior
by weight from its own seed; the same table on any worker count; recorded in the manifest; a
resumed sweep must use the same posterior."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cbsim import simulate
from cbsim.calibrate.posterior import load_posterior
from cbsim.cli import main
from cbsim.inputs.experiment import run_seed

EXPERIMENT = """
scenario = "baseline_2011"
replicates = 6
seed = 3
[sampler]
method = "grid"
[factors]
"offer.funding_boost_m" = [0.0, 1.0]
"""


@pytest.fixture
def posterior(tmp_path):
    folder = tmp_path / "posterior"
    folder.mkdir()
    pd.DataFrame({"weight": [1.0, 3.0], "council.threshold_median_m": [0.6, 5.0]}).to_parquet(
        folder / "posterior.parquet", index=False
    )
    return folder


def sweep(tmp_path, posterior, name, *extra):
    experiment = tmp_path / "e.toml"
    experiment.write_text(EXPERIMENT)
    out = tmp_path / name
    args = ["sweep", str(experiment), "--out", str(out), "--posterior", str(posterior), *extra]
    assert main(args) == 0
    return out


def test_each_run_takes_its_particle_from_its_own_seed(tmp_path, posterior):
    out = sweep(tmp_path, posterior, "one", "--workers", "1")
    runs = pd.read_parquet(out / "runs").sort_values("run_id")
    draws = load_posterior(posterior)
    for _, row in runs.iterrows():
        seed = run_seed(3, int(row["run_id"]))
        assert row["seed"] == seed
        boost = float(row["offer.funding_boost_m"])
        expected = simulate(
            "baseline_2011", seed=seed, **{**draws.draw(seed), "offer.funding_boost_m": boost}
        )
        assert row["share_at_target"] == expected["share_at_target"]
    two = pd.read_parquet(sweep(tmp_path, posterior, "two", "--workers", "2") / "runs")
    pd.testing.assert_frame_equal(
        runs.reset_index(drop=True), two.sort_values("run_id").reset_index(drop=True)
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["posterior"]["sha256"] == draws.sha256


def test_a_resumed_sweep_must_use_the_same_posterior(tmp_path, posterior, capsys):
    out = sweep(tmp_path, posterior, "s", "--workers", "1")
    experiment = tmp_path / "e.toml"
    assert main(["sweep", str(experiment), "--out", str(out), "--resume"]) == 2
    assert "resume it the same way" in capsys.readouterr().err
