"""Sweeps with `series = true`: each run's monthly series in series/, beside runs/.

The series must be the model's own monthly record, the same on any engine or worker count,
and resumable: no run twice, and no series of a run that runs/ does not hold.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cbsim.analysis.timeseries import (
    fan_chart,
    load_series,
    month_reached,
    month_reached_table,
    panel_groups,
    run_target_shares,
    series_section,
)
from cbsim.inputs.errors import CbsimError, InputError
from cbsim.inputs.experiment import load_experiment
from cbsim.model.model import CommunityBudgetModel
from cbsim.model.simulate import simulate
from cbsim.sweep.monthly import VARIABLES
from cbsim.sweep.run import run_sweep

SERIES = """
description = "series test"
replicates = {replicates}
seed = 5
series = {series}

[sampler]
method = "grid"

[factors]
scenario = ["baseline_2011", "troubled_families_2012"]
"offer.funding_boost_m" = [0.0, 1.0]

[overrides]
"timeline.end" = "2012-04"
"""
KEY = ["run_id", "month_index", "variable"]
# the Mesa model's DataCollector columns that the series holds under the same name
COLLECTED = [
    "developing",
    "exploring",
    "share_developing",
    "pbr_signed",
    "evidence",
    "offer_value_m",
    "pooled_m_per_year",
    "aligned_m_per_year",
]


def write(tmp_path: Path, replicates: int = 3, series: bool = True, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(SERIES.format(replicates=replicates, series=str(series).lower()))
    return path


def runs_table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs").sort_values("run_id").reset_index(drop=True)


def series_table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "series").sort_values(KEY).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> tuple[Path, Path]:
    """The series experiment (12 runs) swept in this process: (experiment, output folder)."""
    base = tmp_path_factory.mktemp("series")
    path = write(base)
    out = base / "serial"
    assert run_sweep(path, out=out, workers=1, batch_size=4, progress=False).exit_status == 0
    return path, out


# ------------------------------------------------------------------ the record
def test_series_is_the_models_own_monthly_record(serial):
    path, out = serial
    exp = load_experiment(path)
    runs, series = runs_table(out), series_table(out)
    assert set(series["variable"]) == set(VARIABLES)
    assert not series.duplicated(KEY).any()
    assert set(series["run_id"]) == set(runs["run_id"])
    scenarios = exp.scenarios()
    for run_id in (0, 10):  # a baseline run and a Troubled Families run
        row = runs.loc[run_id]
        scenario = scenarios[row["scenario"]]
        overrides = {"offer.funding_boost_m": row["offer.funding_boost_m"]}
        model = CommunityBudgetModel(scenario, rng=int(row["seed"]), **overrides)
        model.run_to_end()
        collected = model.timeseries()
        mine = series[series["run_id"] == run_id].pivot(
            index="month_index", columns="variable", values="value"
        )
        months = series[series["run_id"] == run_id].drop_duplicates("month_index")["month"]
        assert months.tolist() == collected["month"].tolist()
        for column in COLLECTED:
            np.testing.assert_allclose(
                mine[column].to_numpy(), collected[column].to_numpy(dtype=float), rtol=1e-12
            )
        outcomes = simulate(scenario, seed=int(row["seed"]), **overrides)
        last = mine.iloc[-1]
        assert last["central_cost_m_to_date"] == pytest.approx(outcomes["central_cost_m"])
        assert last["pooled_m_to_date"] == pytest.approx(outcomes["pooled_m_total"])
        assert last["aligned_m_to_date"] == pytest.approx(outcomes["aligned_m_total"])
        assert row["final_share"] == outcomes["final_share"]


def test_series_leaves_the_runs_table_as_a_sweep_without_it_has_it(serial, tmp_path):
    _, out = serial
    plain = tmp_path / "plain"
    run_sweep(write(tmp_path, series=False), out=plain, workers=1, progress=False)
    pd.testing.assert_frame_equal(runs_table(plain), runs_table(out))
    assert not (plain / "series").exists()
    assert load_series(plain) is None and series_section(plain, tmp_path) == []
    m = json.loads((out / "manifest.json").read_text())
    assert m["experiment"]["series"] is True


def test_workers_one_two_and_dask_give_the_same_series(serial, tmp_path):
    path, out = serial
    pool, dask = tmp_path / "pool", tmp_path / "dask"
    assert run_sweep(path, out=pool, workers=2, batch_size=3, progress=False).exit_status == 0
    assert run_sweep(path, out=dask, workers=2, scheduler="local", progress=False).exit_status == 0
    expected = series_table(out)
    for other in (pool, dask):
        pd.testing.assert_frame_equal(series_table(other), expected)
        pd.testing.assert_frame_equal(runs_table(other), runs_table(out))
    names = sorted(p.name for p in (pool / "series").iterdir())
    assert names == sorted(p.name for p in (pool / "runs").iterdir())  # a partner per part


# ------------------------------------------------------------------ resume
def test_resume_finishes_the_series_without_duplicates_or_orphans(serial, tmp_path):
    path, full = serial
    out = tmp_path / "partial"
    shutil.copytree(full, out)
    runs_parts = sorted((out / "runs").glob("part-*.parquet"))
    assert len(runs_parts) == 3  # batches of 4
    runs_parts[1].unlink()  # stopped between the series write and the runs write: an orphan
    (out / "series" / runs_parts[2].name).unlink()  # ... and both of a lost batch
    runs_parts[2].unlink()
    (out / "series" / ".part-x.parquet.1234.tmp").write_bytes(b"half a file")
    partial = load_series(out)
    assert partial is not None  # the orphan is not read
    assert set(partial["run_id"]) == set(runs_table(out)["run_id"])
    summary = run_sweep(path, out=out, workers=1, resume=True, progress=False)
    assert summary.ran == 8
    pd.testing.assert_frame_equal(series_table(out), series_table(full))
    pd.testing.assert_frame_equal(runs_table(out), runs_table(full))
    assert sorted(p.name for p in (out / "series").iterdir()) == sorted(
        p.name for p in (out / "runs").iterdir()
    )


def test_resume_refuses_a_runs_part_without_its_series(serial, tmp_path):
    path, full = serial
    out = tmp_path / "damaged"
    shutil.copytree(full, out)
    missing = sorted((out / "series").iterdir())[0]
    missing.unlink()
    with pytest.raises(CbsimError, match=f"{missing.name}: missing") as caught:
        run_sweep(path, out=out, workers=1, resume=True, progress=False)
    assert "\n" not in str(caught.value)


def test_series_is_part_of_the_experiment_a_resume_checks(serial, tmp_path):
    _, full = serial
    out = tmp_path / "copy"
    shutil.copytree(full, out)
    with pytest.raises(CbsimError, match="changed since this sweep started"):
        run_sweep(write(tmp_path, series=False), out=out, workers=1, resume=True, progress=False)


def test_series_must_be_true_or_false(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SERIES.format(replicates=1, series='"yes"'))
    with pytest.raises(InputError, match=r"bad\.toml: series: expected true or false"):
        load_experiment(path)


@pytest.mark.slow
def test_a_killed_series_sweep_resumes_to_the_same_tables(tmp_path):
    path = write(tmp_path, replicates=60)  # 240 runs
    reference = tmp_path / "reference"
    run_sweep(path, out=reference, workers=1, progress=False)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "cbsim", "sweep", str(path), "--out", str(out)]
    proc = subprocess.Popen(
        [*command, "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list((out / "runs").glob("part-*.parquet")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < len(runs_table(out)) < 240, "the sweep was not killed mid-way"
    done = subprocess.run(
        [*command, "--workers", "2", "--resume"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(series_table(out), series_table(reference))
    pd.testing.assert_frame_equal(runs_table(out), runs_table(reference))


# ------------------------------------------------------------------ analysis
def test_month_reached_agrees_with_the_runs_month_target_reached(serial):
    _, out = serial
    series, runs = load_series(out), runs_table(out)
    assert series is not None and str(series["month"].dtype).startswith("datetime64")
    targets = run_target_shares(series, runs)
    assert targets.round(6).unique().tolist() == [0.5]  # 76 of 152
    reached = month_reached(series, runs, targets)
    expected = pd.to_datetime(runs.set_index("run_id")["month_target_reached"], format="%Y-%m")
    pd.testing.assert_series_equal(reached, expected, check_names=False)
    assert reached.notna().any() and reached.isna().any()
    never = month_reached(series, runs, 0.99)
    assert never.isna().all()


def test_month_reached_table_and_fan_chart(serial, tmp_path):
    _, out = serial
    series, runs = load_series(out), runs_table(out)
    assert series is not None
    groups, what = panel_groups(runs, ["scenario", "offer.funding_boost_m"])
    assert what == "one panel per design point" and groups.nunique() == 4
    reached = month_reached(series, runs, 0.5)
    table = month_reached_table(reached, runs, groups)
    assert table["runs"].tolist() == [3, 3, 3, 3]
    no_boost = table[table["group"].str.contains("= 0.0")]
    boost = table[table["group"].str.contains("= 1.0")]
    assert (boost["p_reached"].to_numpy() >= no_boost["p_reached"].to_numpy()).all()
    assert (no_boost["month_median"] == "later").all()  # no boost: nowhere near half by 2012-04
    png = fan_chart(series, runs, tmp_path / "fan.png", factors=["scenario"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_series_section_writes_its_figures_and_a_table(serial, tmp_path):
    _, out = serial
    lines = series_section(out, tmp_path)
    text = "\n".join(lines)
    assert "## When" in text and "12 runs" in text
    for name in ("fan_share.png", "fan_cost.png", "month_reached.png"):
        assert f"]({name})" in text and (tmp_path / name).stat().st_size > 1000
    assert sum(line.startswith("| scenario = ") for line in lines) == 4
