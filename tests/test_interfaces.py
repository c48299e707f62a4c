"""The command line and Python interfaces of a single run (DESIGN section 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import cbsim
from cbsim import load_scenario, parameters, simulate
from cbsim.inputs.parameters import basis_problem
from cbsim.inputs.scenario import available_scenarios

SHIPPED = {
    "baseline_2011",
    "compelling_offer",
    "dwp_engages",
    "our_place_2013",
    "troubled_families_2012",
}


def cbsim_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cbsim.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_run_prints_a_summary_and_writes_its_outputs(tmp_path):
    out = tmp_path / "run"
    result = cbsim_cli("run", "baseline_2011", "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "at target date 2012-04" in result.stdout and "NOT MET" in result.stdout
    assert "DWP" in result.stdout
    assert {p.name for p in out.iterdir()} == {
        "timeseries.csv",
        "outcomes.json",
        "actions.json",
        "adoption.png",
    }
    written = json.loads((out / "outcomes.json").read_text())
    made = {"seed": 3, "overrides": {}, "posterior": None}
    assert written == json.loads(json.dumps({**made, **simulate("baseline_2011", seed=3)}))
    series = pd.read_csv(out / "timeseries.csv")
    assert series["month"].iloc[0] == "2011-04" and series["month"].iloc[-1] == "2013-03"
    assert (out / "adoption.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_set_overrides_a_dotted_path(tmp_path):
    out = tmp_path / "run"
    result = cbsim_cli(
        "run",
        "baseline_2011",
        "--seed",
        "3",
        "--out",
        str(out),
        "--set",
        "departments.DWP.stance=pool",
        "--set",
        "departments.DWP.floor=pool",
    )
    assert result.returncode == 0, result.stderr
    outcomes = json.loads((out / "outcomes.json").read_text())
    assert outcomes["stance_DWP_at_target"] == "pool" and outcomes["pooled_m_DWP"] > 0


def test_scenarios_lists_every_shipped_scenario_with_its_description():
    result = cbsim_cli("scenarios")
    assert result.returncode == 0
    for spec in available_scenarios():
        assert spec.name in result.stdout and spec.description[:40] in result.stdout
    assert {s.name for s in available_scenarios()} == SHIPPED


def test_every_scenario_has_a_description_and_sources():
    for spec in available_scenarios():
        assert len(spec.description) > 40 and spec.sources
        assert all("sources.md" in s for s in spec.sources)


def test_parameters_are_declared_once_with_unit_default_range_and_meaning():
    records = parameters()
    paths = [p.path for p in records]
    assert len(paths) == len(set(paths)) > 50
    for p in records:
        assert p.unit and p.description
        assert basis_problem(p.basis) is None, p.path
        if p.numeric:
            assert p.min <= p.default <= p.max
        else:
            assert p.min is None and p.max is None
    assert {"offer.national_pooling", "departments.DWP.stance", "council.peer_weight_m"} <= set(
        paths
    )


def test_parameters_of_a_scenario_show_its_values():
    by_path = {p.path: p for p in parameters("compelling_offer")}
    assert by_path["offer.national_pooling"].default is True
    assert {p.path: p for p in parameters()}["offer.national_pooling"].default is False


def test_params_command_prints_every_parameter():
    result = cbsim_cli("params", "dwp_engages")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["path", "unit", "default", "min", "max", "basis", "description"]
    assert len(lines) == len(parameters()) + 1
    dwp = next(line for line in lines if line.startswith("departments.DWP.stance "))
    assert " pool " in dwp


def test_simulate_returns_flat_scalar_outcomes():
    outcomes = simulate("compelling_offer", seed=3)
    assert all(isinstance(v, str | int | float | bool | type(None)) for v in outcomes.values())
    assert isinstance(outcomes["target_met"], bool)
    assert 0 <= outcomes["share_at_target"] <= 1
    assert outcomes["count_at_target"] == round(outcomes["share_at_target"] * 152)
    for dept in ("DCLG", "DWP", "DfE", "DH", "HomeOffice", "MoJ"):
        assert outcomes[f"pooled_m_{dept}"] >= 0 and f"stance_{dept}_at_target" in outcomes


def test_month_target_reached_is_a_calendar_month_or_none():
    met = simulate("compelling_offer", seed=1)
    assert met["target_met"] and met["month_target_reached"] <= "2012-04"
    assert len(met["month_target_reached"]) == 7 and met["month_target_reached"][4] == "-"
    missed = simulate("baseline_2011", seed=1)
    assert missed["month_target_reached"] is None


def test_load_scenario_by_name_and_by_path_agree():
    by_name = load_scenario("dwp_engages")
    by_path = load_scenario(Path(cbsim.inputs.scenario.scenario_dir()) / "dwp_engages.toml")
    assert by_name.values == by_path.values


@pytest.mark.parametrize(
    "bad",
    [
        "offer.national_pooling=maybe",
        "council.speed=-1",
        "timeline.target_date=2012-4",
        "nosuch.param=1",
    ],
)
def test_bad_set_values_fail_with_one_line_and_exit_2(tmp_path, bad):
    out = tmp_path / "run"
    result = cbsim_cli("run", "baseline_2011", "--set", bad, "--out", str(out))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and bad.split("=")[0] in result.stderr
    assert not out.exists()
