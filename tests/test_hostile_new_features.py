"""Hostile checks of the scenario factor, series and the report's "When" section: an
incomplete sweep, scenarios with other targets, and series parts damaged by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cbsim.analysis.report import analyse
from cbsim.analysis.timeseries import load_series
from cbsim.inputs.errors import CbsimError, InputError
from cbsim.inputs.experiment import experiment_from_table
from cbsim.sweep.run import run_sweep

EXPERIMENT = """\
replicates = 4
seed = 11
paired = true
series = true

[sampler]
method = "grid"

[factors]
scenario = ["baseline_2011", "our_place_2013"]
"offer.funding_boost_m" = [0.0, 1.0]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "two_targets.toml"
    path.write_text(EXPERIMENT)
    out = folder / "sweep"
    run_sweep(path, out=out, workers=1, batch_size=2)
    return out


def copy_of(swept: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(swept, out)
    for name in ("report.md", "report.html"):
        (out / name).unlink(missing_ok=True)
    return out


def section(report: str, title: str) -> str:
    return report.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_an_incomplete_sweep_does_not_claim_every_design_point_was_run(swept, tmp_path):
    out = copy_of(swept, tmp_path)
    parts = sorted((out / "runs").glob("part-*.parquet"))
    for part in parts[len(parts) // 2 :]:  # the second scenario's runs are gone
        part.unlink()
        (out / "series" / part.name).unlink()
    runs = pd.read_parquet(out / "runs")
    assert set(runs["scenario"]) == {"baseline_2011"}
    analyse(out)
    report = (out / "report.md").read_text()
    average = next(line for line in report.splitlines() if "What this is an average over" in line)
    assert f"{len(runs)} of 16 planned runs" in average
    assert f"{len(runs)} runs: 4 replicate seeds at each" not in average
    assert "the sweep is incomplete" in average
    when = section(report, "When")
    assert "| scenario = baseline_2011, offer.funding_boost_m = 0 |" in when


def test_the_target_line_names_each_scenarios_target(swept, tmp_path):
    out = copy_of(swept, tmp_path)
    analyse(out)
    report = (out / "report.md").read_text()
    target = next(line for line in report.splitlines() if line.startswith("Target:"))
    assert "2012-04" in target and "2015-03" in target
    assert "baseline_2011" in target and "our_place_2013" in target


def test_a_series_part_copied_over_another_is_refused(swept, tmp_path):
    out = copy_of(swept, tmp_path)
    first, second = sorted((out / "series").glob("part-*.parquet"))[:2]
    shutil.copyfile(second, first)
    with pytest.raises(CbsimError, match=first.name):
        load_series(out)
    with pytest.raises(CbsimError, match=first.name):
        analyse(out)
    assert not (out / "report.md").exists()


def test_runs_without_their_series_are_counted_in_the_when_section(swept, tmp_path):
    out = copy_of(swept, tmp_path)
    part = sorted((out / "series").glob("part-*.parquet"))[0]
    lost = len(pd.read_parquet(part)["run_id"].unique())
    part.unlink()
    analyse(out)
    when = section((out / "report.md").read_text(), "When")
    assert f"{lost} of 16 successful runs have no monthly series" in when


def test_a_sweep_that_kept_series_but_lost_them_says_so(swept, tmp_path):
    out = copy_of(swept, tmp_path)
    shutil.rmtree(out / "series")
    analyse(out)
    when = section((out / "report.md").read_text(), "When")
    assert "no monthly series" in when and "series/" in when


def table(factors: dict, overrides: dict | None = None) -> dict:
    return {
        "replicates": 2,
        "seed": 1,
        "sampler": {"method": "grid"},
        "factors": factors,
        "overrides": overrides or {},
    }


def test_a_table_under_factors_scenario_asks_for_a_list():
    with pytest.raises(InputError, match=r"factors\.scenario: expected a list"):
        experiment_from_table(table({"scenario": {"a": 1}}), "x.toml")


def test_an_override_that_does_not_fit_one_scenario_names_it():
    factors = {"scenario": ["baseline_2011", "our_place_2013"]}
    with pytest.raises(InputError, match="our_place_2013") as info:
        experiment_from_table(table(factors, {"timeline": {"target_date": "2012-04"}}), "x.toml")
    assert "x.toml" in str(info.value)


def test_resume_refuses_a_damaged_series_part_and_changes_nothing(swept, tmp_path):
    out = copy_of(swept, tmp_path)
    names = sorted(p.name for p in (out / "runs").glob("part-*.parquet"))
    damaged = out / "series" / names[0]
    damaged.write_bytes(damaged.read_bytes()[:50])
    (out / "runs" / names[-1]).unlink()  # a run left to do, and an orphan series part
    before = sorted(p.name for p in (out / "series").iterdir())
    with pytest.raises(CbsimError, match=f"{names[0]}.*runs/{names[0]}"):
        run_sweep(out / "experiment.toml", out=out, workers=1, resume=True)
    assert sorted(p.name for p in (out / "series").iterdir()) == before
    assert len(list((out / "runs").glob("part-*.parquet"))) == len(names) - 1


def test_resume_refuses_a_series_part_holding_other_runs(swept, tmp_path):
    out = copy_of(swept, tmp_path)
    first, second = sorted((out / "series").glob("part-*.parquet"))[:2]
    shutil.copyfile(second, first)
    with pytest.raises(CbsimError, match=first.name):
        run_sweep(out / "experiment.toml", out=out, workers=1, resume=True)


@pytest.mark.parametrize("name", ["evil|name", "a*b*", "x`y", "<b>x</b>", "a\tb", "[x](y)"])
def test_a_scenario_level_name_that_would_break_the_report_tables_is_refused(tmp_path, name):
    shipped = Path(__file__).resolve().parents[1] / "scenarios" / "dwp_engages.toml"
    text = shipped.read_text().replace('name = "dwp_engages"', f"name = {json.dumps(name)}")
    (tmp_path / "odd.toml").write_text(text)
    factors = {"scenario": ["baseline_2011", "odd.toml"]}
    with pytest.raises(InputError, match=r"factors\.scenario: .*odd\.toml.*name"):
        experiment_from_table(table(factors), "x.toml", folder=tmp_path)


def test_scenario_level_names_with_spaces_and_dashes_are_fine(tmp_path):
    shipped = Path(__file__).resolve().parents[1] / "scenarios" / "dwp_engages.toml"
    text = shipped.read_text().replace('name = "dwp_engages"', 'name = "DWP engages (v2-b.1)"')
    (tmp_path / "fine.toml").write_text(text)
    factors = {"scenario": ["baseline_2011", "fine.toml"]}
    exp = experiment_from_table(table(factors), "x.toml", folder=tmp_path)
    assert exp.factors[0].levels == ("baseline_2011", "DWP engages (v2-b.1)")


MORRIS = """\
replicates = 1
seed = 3

[sampler]
method = "morris"
samples = 3

[factors]
scenario = ["baseline_2011", "dwp_engages", "troubled_families_2012"]
"offer.funding_boost_m" = { min = 0.0, max = 1.0 }
"""


def test_morris_on_the_scenario_factor_warns_that_its_effect_depends_on_the_level_order(
    tmp_path,
):
    path = tmp_path / "morris_scenario.toml"
    path.write_text(MORRIS)
    out = tmp_path / "sweep"
    run_sweep(path, out=out, workers=1)
    analyse(out)
    sensitivity = section((out / "report.md").read_text(), "Sensitivity")
    assert "`scenario`" in sensitivity and "order" in sensitivity


def test_a_refused_scheduler_address_is_said_to_be_refused_not_just_timed_out():
    import socket

    from cbsim.sweep.dask_engine import refusal_hint

    with socket.socket() as probe:  # a port nothing listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hint = refusal_hint(f"tcp://127.0.0.1:{port}")
    assert "connection refused" in hint and f"127.0.0.1:{port}" in hint
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert refusal_hint(f"tcp://127.0.0.1:{server.getsockname()[1]}") == ""


def test_a_design_point_that_does_not_fit_its_scenario_names_the_scenario(tmp_path):
    path = tmp_path / "misfit.toml"
    path.write_text(
        'replicates = 1\nseed = 1\n[sampler]\nmethod = "grid"\n[factors]\n'
        'scenario = ["baseline_2011", "our_place_2013"]\n'
        '"timeline.target_date" = ["2012-04"]\n'
    )
    with pytest.raises(InputError, match=r"design point 1, scenario our_place_2013"):
        run_sweep(path, out=tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


def test_month_reached_curves_keep_to_each_groups_own_months(swept):
    from cbsim.analysis.timeseries import (
        load_series,
        month_reached,
        reached_curves,
        run_target_shares,
    )

    runs = pd.read_parquet(swept / "runs")
    series = load_series(swept)
    assert series is not None
    reached = month_reached(series, runs, run_target_shares(series, runs))
    groups = runs.set_index("run_id")["scenario"].astype(str)
    curves = reached_curves(reached, groups, series)
    spans = {"baseline_2011": ("2011-04", "2013-03"), "our_place_2013": ("2013-04", "2015-03")}
    for name, (first, last) in spans.items():
        curve = curves[name]
        assert curve.index.min() == pd.Timestamp(first) and curve.index.max() == pd.Timestamp(last)
        mine = reached[groups.reindex(reached.index) == name]
        assert curve.iloc[-1] == pytest.approx(mine.notna().mean())
        assert curve.is_monotonic_increasing


def test_a_sweep_killed_mid_way_is_not_reported_as_running(swept, tmp_path):
    import fcntl

    out = copy_of(swept, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "running"  # what a SIGKILLed sweep leaves
    (out / "manifest.json").write_text(json.dumps(manifest))
    analyse(out)
    status = next(line for line in (out / "report.md").read_text().splitlines() if "status" in line)
    assert "no cbsim sweep is running in this folder" in status and "--resume" in status
    with open(out / ".lock", "rb") as held:  # a live sweep holds its folder's lock
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        analyse(out)
    status = next(line for line in (out / "report.md").read_text().splitlines() if "status" in line)
    assert "sweep status: running (a cbsim sweep is still writing" in status


def test_top_and_bottom_panels_keep_their_order_in_the_when_table():
    from cbsim.analysis.timeseries import month_reached_table, panel_groups

    points = 12
    runs = pd.DataFrame(
        {
            "run_id": range(points * 4),
            "design_point": [p for p in range(points) for _ in range(4)],
            "x": [float(p) for p in range(points) for _ in range(4)],
            # P rises with the design point, except point 0 is the best
            "target_met": [
                (r < (4 if p == 0 else p * 4 // points)) for p in range(points) for r in range(4)
            ],
        }
    )
    groups, what = panel_groups(runs, ["x"])
    assert "highest" in what and groups.notna().sum() == 24
    reached = pd.Series(pd.NaT, index=pd.Index(runs["run_id"], name="run_id"))
    table = month_reached_table(reached, runs, groups)
    shown = [float(label.split("(P = ")[1].rstrip(")")) for label in table["group"]]
    assert shown == sorted(shown, reverse=True)
    assert table["group"].iloc[0].startswith("x = 0 ")


def test_the_when_section_says_how_many_runs_its_panels_show(tmp_path):
    path = tmp_path / "many_points.toml"
    path.write_text(
        'scenario = "baseline_2011"\nreplicates = 2\nseed = 4\nseries = true\n'
        '[sampler]\nmethod = "lhs"\nsamples = 12\n'
        '[factors]\n"offer.funding_boost_m" = { min = 0.0, max = 1.0 }\n'
    )
    out = tmp_path / "sweep"
    run_sweep(path, out=out, workers=1)
    analyse(out)
    when = section((out / "report.md").read_text(), "When")
    assert "Month by month over 12 of the 24 runs with a monthly series" in when


def test_the_when_section_describes_the_same_runs_as_the_rest_of_the_report(swept, tmp_path):
    """A sweep still writing adds parts while analyse reads: the When section must use the
    runs the report read, not a later look at the folder (else it counts runs as lacking a
    series, or more runs than the header)."""
    from cbsim.analysis.sweep_data import load_sweep
    from cbsim.analysis.timeseries import series_section

    earlier = load_sweep(swept)
    earlier.runs = earlier.runs[earlier.runs["run_id"] < 8]  # what it held a moment ago
    lines = series_section(swept, tmp_path, earlier)
    text = "\n".join(lines)
    assert "Month by month over 8 runs with a monthly series" in text
    assert "no monthly series" not in text


def test_a_list_of_scenarios_at_the_top_level_points_to_the_scenario_factor():
    bad = table({"offer.funding_boost_m": [0.0, 1.0]})
    bad["scenario"] = ["baseline_2011", "dwp_engages"]
    with pytest.raises(InputError, match=r"scenario: .*\[factors\] scenario = "):
        experiment_from_table(bad, "x.toml")
