"""The report's "When" section: a sweep that keeps its monthly series gets fan charts and
the distribution of the month the target is reached, consistent with the runs table; a
sweep without series gets none."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cbsim.analysis.report import analyse
from cbsim.analysis.timeseries import load_series, month_reached, run_target_shares
from cbsim.sweep.run import run_sweep

EXPERIMENT = """\
scenario = "baseline_2011"
replicates = 30
seed = 5
paired = true
series = {series}

[sampler]
method = "grid"

[factors]
"offer.funding_boost_m" = [0.5, 1.0]
"""


def sweep(tmp_path, series: bool):
    path = tmp_path / f"when_{series}.toml"
    path.write_text(EXPERIMENT.format(series=str(series).lower()))
    out = tmp_path / f"sweep_{series}"
    run_sweep(path, out=out, workers=1)
    return out


@pytest.fixture(scope="module")
def with_series(tmp_path_factory):
    out = sweep(tmp_path_factory.mktemp("when"), True)
    analyse(out)
    return out


def test_the_month_reached_agrees_with_target_met_run_by_run(with_series):
    runs = pd.read_parquet(with_series / "runs")
    series = load_series(with_series)
    assert series is not None
    reached = month_reached(series, runs, run_target_shares(series, runs))
    by_run = runs.set_index("run_id")
    deadline = pd.to_datetime(by_run["target_date"], format="%Y-%m")
    assert ((reached <= deadline) == by_run["target_met"].astype(bool)).all()
    first = pd.to_datetime(by_run["month_target_reached"], format="%Y-%m", errors="coerce")
    pd.testing.assert_series_equal(reached, first.loc[reached.index], check_names=False)
    assert reached.notna().any() and reached.isna().any()  # both kinds of run are compared


def test_the_report_has_fan_charts_and_the_month_reached_table(with_series):
    report = (with_series / "report.md").read_text()
    when = report.split("## When", 1)[1].split("\n## ", 1)[0]
    for figure in ("fan_share.png", "fan_cost.png", "month_reached.png"):
        assert f"]({figure})" in when and (with_series / figure).read_bytes()[:4] == b"\x89PNG"
    runs = pd.read_parquet(with_series / "runs")
    rows = [line for line in when.splitlines() if line.startswith("| offer.funding_boost_m")]
    assert len(rows) == 2
    for row, boost in zip(rows, (0.5, 1.0), strict=True):
        mine = runs[runs["offer.funding_boost_m"] == boost]
        k = int(mine["target_met"].sum())
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == str(len(mine))
        assert cells[3].startswith(f"{k / len(mine):.3f} [")  # P(by target date), Wilson
        assert re.fullmatch(r"(\d{4}-\d{2}|later) – (\d{4}-\d{2}|later)", cells[5])
    html = (with_series / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "fan_share.png" not in html


def test_a_sweep_without_series_has_no_when_section(tmp_path):
    out = sweep(tmp_path, False)
    analyse(out)
    assert "## When" not in (out / "report.md").read_text()
    assert not (out / "fan_share.png").exists()


def test_analyse_required_p_moves_the_frontier(with_series, capsys):
    from cbsim.cli import main

    assert main(["analyse", str(with_series), "--required-p", "0.3"]) == 0
    assert "## Where P crosses the required level (0.3)" in (with_series / "report.md").read_text()
    for bad in ("0", "1", "nan", "x"):
        with pytest.raises(SystemExit) as stopped:
            main(["analyse", str(with_series), "--required-p", bad])
        assert stopped.value.code == 2
    assert capsys.readouterr().err.count("--required-p") == 4


def test_tied_extremes_are_the_points_with_the_highest_and_lowest_share():
    from cbsim.analysis.timeseries import panel_groups

    points = 20  # P = 1 at the first ten, 0 at the rest: ties; the share tells them apart
    runs = pd.DataFrame(
        {
            "run_id": range(points * 2),
            "design_point": [p for p in range(points) for _ in range(2)],
            "x": [float(p) for p in range(points) for _ in range(2)],
            "target_met": [p < 10 for p in range(points) for _ in range(2)],
            "share_at_target": [
                0.5 + ((p * 7) % 20) / 100 for p in range(points) for _ in range(2)
            ],
        }
    )
    groups, what = panel_groups(runs, ["x"])
    assert "ties broken by the mean share" in what
    shown = {int(runs.set_index("run_id").loc[i, "design_point"]) for i in groups.index}
    share = runs.groupby("design_point")["share_at_target"].first()
    top = set(share[:10].sort_values().index[-3:])
    bottom = set(share[10:].sort_values().index[:3])
    assert shown == top | bottom
