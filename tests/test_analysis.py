"""Analysis: report numbers checked against values computed by hand on small designs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cbsim.analysis.discovery import prim_boxes
from cbsim.analysis.report import analyse
from cbsim.analysis.sweep_data import load_sweep
from cbsim.cli import main
from cbsim.inputs.experiment import load_experiment, run_seed
from cbsim.sweep.manifest import RunCounts, new_manifest
from cbsim.sweep.run import run_sweep

Z95 = 1.959963984540054  # standard normal 97.5% quantile
T95_DF9 = 2.2621571627982  # Student t 97.5% quantile, 9 degrees of freedom


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p, z2 = k / n, Z95**2
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return centre - half, centre + half


def fake_sweep(tmp_path: Path, text: str, outcome) -> Path:
    """A sweep folder whose outcomes come from `outcome(point, raw_row, replicate)`.

    Returns (target_met, share_at_target, error); the files are laid out as `cbsim sweep`
    writes them, so analysis cannot tell the difference.
    """
    path = tmp_path / "exp.toml"
    path.write_text(text)
    exp = load_experiment(path)
    raw = exp.raw_design()
    design = exp.design(raw)
    rows = []
    for point, (values, raw_row) in enumerate(zip(design, raw, strict=True)):
        for replicate in range(exp.replicates):
            run_id = point * exp.replicates + replicate
            met, share, error = outcome(values, raw_row, replicate)
            rows.append(
                {
                    "run_id": run_id,
                    "design_point": point,
                    "replicate": replicate,
                    "seed": run_seed(exp.seed, run_id),
                    **values,
                    "target_date": "2012-04",
                    "target_count": 76,
                    "target_met": None if error else met,
                    "share_at_target": None if error else share,
                    "error": error,
                }
            )
    out = tmp_path / "sweep"
    (out / "runs").mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    where = table.schema.get_field_index("error")
    table = table.set_column(where, "error", table.column("error").cast(pa.string()))
    pq.write_table(table, out / "runs" / "part-000000000-test.parquet")
    columns = [[field.name, str(field.type)] for field in table.schema]
    pq.write_table(
        pa.table(
            {
                "design_point": np.arange(len(raw)),
                **{p: raw[:, j] for j, p in enumerate(exp.factor_paths)},
            }
        ),
        out / "design.parquet",
    )
    manifest = new_manifest(exp, exp.base_scenario(), "test", columns, len(design))
    manifest.status = "complete"
    manifest.runs = RunCounts(
        planned=len(rows),
        done=len(rows),
        failed=sum(r["error"] is not None for r in rows),
    )
    manifest.write(out)
    return out


HEAD = 'scenario = "baseline_2011"\nseed = 5\n'


def rewrite_part(part: Path, runs: pd.DataFrame) -> None:
    """Write `runs` over a part file, keeping its columns' types (as `cbsim sweep` would)."""
    schema = pq.read_schema(part).remove_metadata()
    pq.write_table(pa.Table.from_pandas(runs, schema=schema, preserve_index=False), part)


# ------------------------------------------------------------------ P(target) and share
def test_wilson_and_mean_intervals_per_design_point_match_hand_values(tmp_path):
    shares = [0.30, 0.35, 0.40, 0.42, 0.45, 0.50, 0.52, 0.55, 0.60, 0.61]
    met = {0.0: 0, 0.5: 7, 1.0: 10}  # target met in this many of 10 replicates

    def outcome(values, raw_row, replicate):
        level = values["offer.funding_boost_m"]
        if level == 1.0 and replicate == 9:
            return None, None, "ValueError: boom"  # one failed run: 9 left
        return replicate < met[level], shares[replicate], None

    out = fake_sweep(
        tmp_path,
        HEAD + "replicates = 10\n[sampler]\nmethod = 'grid'\n"
        '[factors]\n"offer.funding_boost_m" = [0.0, 0.5, 1.0]\n',
        outcome,
    )
    report = analyse(out).read_text()
    points = pd.read_csv(out / "design_points.csv")
    assert points["met"].tolist() == [0, 7, 9] and points["failed"].tolist() == [0, 0, 1]
    for i, (k, n) in enumerate([(0, 10), (7, 10), (9, 9)]):
        lo, hi = wilson_by_hand(k, n)
        assert points.loc[i, "p_target"] == pytest.approx(k / n)
        assert points.loc[i, "p_target_lo"] == pytest.approx(lo, abs=1e-12)
        assert points.loc[i, "p_target_hi"] == pytest.approx(hi, abs=1e-12)
    assert (round(points.loc[1, "p_target_lo"], 4), round(points.loc[1, "p_target_hi"], 4)) == (
        0.3968,
        0.8922,
    )
    mean = sum(shares) / 10
    sd = math.sqrt(sum((s - mean) ** 2 for s in shares) / 9)
    half = T95_DF9 * sd / math.sqrt(10)
    assert points.loc[1, "share_mean"] == pytest.approx(mean)
    assert points.loc[1, "share_lo"] == pytest.approx(mean - half)
    assert points.loc[1, "share_hi"] == pytest.approx(mean + half)
    # 0.7 -> 1.0 crosses the default required level 0.9: both points marked
    assert "| 1 † | 0.5 | 10 | 7 | 0.700 [0.397, 0.892] |" in report
    assert "| 2 † | 1 | 9 (+1 failed) | 9 | 1.000 [0.701, 1.000] |" in report
    lo, hi = wilson_by_hand(16, 29)
    assert f"met in 16: P = 0.552 [{lo:.3f}, {hi:.3f}] (95% Wilson interval)" in report
    assert "29 successful runs" in report and "1 failed" in report


def test_two_factor_grid_main_effects_and_heatmap(tmp_path):
    # P(target) per cell: a 2x2 table [[0, 0.5], [0.5, 1]] -> each main effect is half of
    # the variance: Var([0.25, 0.75]) / Var([0, 0.5, 0.5, 1]) = 0.0625 / 0.125
    def outcome(values, raw_row, replicate):
        a = values["offer.national_pooling"]
        b = values["offer.reinvest_savings"]
        met = (replicate == 0 and (a or b)) or (a and b)
        return met, 0.5 * a + 0.25 * b, None

    out = fake_sweep(
        tmp_path,
        HEAD + "replicates = 2\n[sampler]\nmethod = 'grid'\n"
        '[factors]\n"offer.national_pooling" = [false, true]\n'
        '"offer.reinvest_savings" = [false, true]\n',
        outcome,
    )
    report = analyse(out).read_text()
    points = pd.read_csv(out / "design_points.csv")
    assert points["p_target"].tolist() == [0.0, 0.5, 0.5, 1.0]
    sens = pd.read_csv(out / "sensitivity.csv")
    p = sens[sens["outcome"] == "P(target met)"].set_index("factor")["S1"]
    assert p.to_dict() == pytest.approx(
        {"offer.national_pooling": 0.5, "offer.reinvest_savings": 0.5}
    )
    # share = 0.5a + 0.25b: variance 0.0625 + 0.015625, split 0.8 / 0.2
    s = sens[sens["outcome"] == "mean share at target"].set_index("factor")["S1"]
    assert s.to_dict() == pytest.approx(
        {"offer.national_pooling": 0.8, "offer.reinvest_savings": 0.2}
    )
    for png in ("p_target_heatmap.png", "sensitivity.png", "design_points.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![P(target met) heatmap](p_target_heatmap.png)" in report


# ------------------------------------------------------------------ Sobol and Morris
SALTELLI = (
    HEAD
    + """replicates = 1
[sampler]
method = "saltelli"
samples = 256
[factors]
"council.virtual_value" = { min = 0.0, max = 1.0 }
"council.capacity_min" = { min = 0.0, max = 1.0 }
"council.savings_rate" = { min = 0.0, max = 0.5 }
"""
)


def test_sobol_indices_of_a_function_of_one_factor(tmp_path):
    # Y depends on virtual_value alone: its S1 = ST = 1; the others' estimates are exactly 0
    out = fake_sweep(
        tmp_path,
        SALTELLI,
        lambda v, raw, r: (v["council.virtual_value"] > 0.5, v["council.virtual_value"], None),
    )
    report = analyse(out).read_text()
    sens = pd.read_csv(out / "sensitivity.csv")
    share = sens[sens["outcome"] == "mean share at target"].set_index("factor")
    assert share.loc["council.virtual_value", "S1"] == pytest.approx(1.0, abs=0.1)
    assert share.loc["council.virtual_value", "ST"] == pytest.approx(1.0, abs=0.1)
    for other in ("council.capacity_min", "council.savings_rate"):
        assert share.loc[other, "S1"] == 0 and share.loc[other, "ST"] == 0
        assert share.loc[other, "S1_conf"] == 0
    assert share.loc["council.virtual_value", "S1_conf"] > 0
    assert "Sobol' first-order (S1) and total (ST)" in report
    assert "![Sensitivity indices](sensitivity.png)" in report


def test_sobol_needs_every_design_point(tmp_path):
    out = fake_sweep(tmp_path, SALTELLI, lambda v, raw, r: (True, v["council.virtual_value"], None))
    part = out / "runs" / "part-000000000-test.parquet"
    runs = pd.read_parquet(part)
    rewrite_part(part, runs[runs["run_id"] != 17])
    report = analyse(out).read_text()
    assert "The sweep is incomplete" in report
    assert "Not computed: needs every one of the 1,280 design points" in report


def test_morris_mu_star_and_sigma_of_a_linear_function(tmp_path):
    # share = 0.3 x: every elementary effect of x is 0.3 -> mu* 0.3, sigma 0; others 0
    text = (
        HEAD
        + """replicates = 1
[sampler]
method = "morris"
samples = 10
levels = 4
[factors]
"council.capacity_min" = { min = 0.0, max = 1.0 }
"council.savings_kept_share" = { min = 0.0, max = 1.0 }
"offer.reinvest_kept_share" = { min = 0.0, max = 1.0 }
"""
    )
    out = fake_sweep(
        tmp_path,
        text,
        lambda v, raw, r: (v["council.capacity_min"] > 0.5, 0.3 * v["council.capacity_min"], None),
    )
    report = analyse(out).read_text()
    sens = pd.read_csv(out / "sensitivity.csv")
    share = sens[sens["outcome"] == "mean share at target"].set_index("factor")
    assert share.loc["council.capacity_min", "mu_star"] == pytest.approx(0.3)
    assert share.loc["council.capacity_min", "sigma"] == pytest.approx(0.0, abs=1e-12)
    assert share.loc["council.savings_kept_share", "mu_star"] == 0
    assert share.loc["offer.reinvest_kept_share", "sigma"] == 0
    assert "| `council.capacity_min` | 0.300 | 0.000 | 0.000 |" in report


# ------------------------------------------------------------------ PRIM
def test_prim_box_finds_the_condition_and_its_coverage_and_density_are_right(tmp_path):
    text = (
        HEAD
        + """replicates = 1
[sampler]
method = "lhs"
samples = 400
[factors]
"council.virtual_value" = { min = 0.0, max = 1.0 }
"council.capacity_min" = { min = 0.0, max = 1.0 }
"offer.champions_network" = [false, true]
"""
    )
    out = fake_sweep(
        tmp_path,
        text,
        lambda v, raw, r: (v["council.virtual_value"] >= 0.6, v["council.virtual_value"], None),
    )
    report = analyse(out).read_text()
    sweep = load_sweep(out)
    boxes, _ = prim_boxes(sweep.runs, sweep.factors)
    box = boxes[0]
    assert [r["factor"] for r in box["restrictions"]] == ["council.virtual_value"]
    low = box["restrictions"][0]["low"]
    assert 0.4 < low <= 0.6  # the box with most coverage among those with density >= 0.8
    runs = sweep.runs
    inside = (runs["council.virtual_value"] >= low) & (
        runs["council.virtual_value"] <= box["restrictions"][0]["high"]
    )
    met = runs["target_met"].astype(bool)
    assert box["coverage"] == pytest.approx((inside & met).sum() / met.sum())
    assert box["density"] == pytest.approx((inside & met).sum() / inside.sum())
    assert box["coverage"] == 1.0 and box["density"] >= 0.8
    # by hand: a Latin hypercube of 400 puts 160 values in [0.6, 1] (all meet the target)
    assert met.sum() == 160
    in_box = int(inside.sum())
    lo, hi = wilson_by_hand(160, in_box)
    assert (
        f"**Box 1**: coverage 1.000, density {160 / in_box:.3f} [{lo:.3f}, {hi:.3f}], "
        f"mass {in_box / 400:.3f} ({in_box} runs, 160 meeting the target)"
    ) in report
    boxes_csv = pd.read_csv(out / "prim_boxes.csv")
    assert boxes_csv.loc[0, ["box", "factor"]].tolist() == [1, "council.virtual_value"]
    assert boxes_csv.loc[0, "low"] == pytest.approx(low)
    assert boxes_csv.loc[0, "density"] == pytest.approx(box["density"])


def test_prim_needs_both_outcomes(tmp_path):
    out = fake_sweep(
        tmp_path,
        HEAD + "replicates = 3\n[sampler]\nmethod = 'grid'\n"
        '[factors]\n"offer.national_pooling" = [false, true]\n',
        lambda v, raw, r: (False, 0.2, None),
    )
    report = analyse(out).read_text()
    assert "**Not computed:** PRIM needs runs that meet the target" in report
    assert "here no run met the target (0 of 6)" in report
    assert "(no variation in P(target met))" in report


# ------------------------------------------------------------------ end to end
def test_cbsim_analyse_on_a_real_sweep(tmp_path, capsys):
    exp = tmp_path / "real.toml"
    exp.write_text(
        HEAD
        + """replicates = 4
[sampler]
method = "grid"
[factors]
"offer.funding_boost_m" = [0.5, 1.0]
"offer.national_pooling" = [false, true]
[overrides]
"timeline.end" = "2012-04"
"""
    )
    out = tmp_path / "real"
    assert run_sweep(exp, out=out, workers=1, progress=False).exit_status == 0
    capsys.readouterr()
    assert main(["analyse", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {out / 'report.md'}"
    report = (out / "report.md").read_text()
    runs = pd.read_parquet(out / "runs")
    k, n = int(runs["target_met"].sum()), len(runs)
    assert f"Over all {n} successful runs the target was met in {k}:" in report
    for section in (
        "## Probability of meeting the target",
        "## P(target met) over the grid",
        "## Sensitivity",
        "## Scenario discovery (PRIM)",
    ):
        assert section in report
    assert (out / "p_target_heatmap.png").is_file() and (out / "sensitivity.png").is_file()


def test_analyse_refuses_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    assert main(["analyse", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a sweep output folder" in err
    assert main(["analyse", str(tmp_path / "missing")]) == 2
    assert "no such sweep folder" in capsys.readouterr().err


# ------------------------------------------------------------------ EMA Workbench client
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside EMA Workbench's PRIM
def test_ema_workbench_example_runs(capsys):
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "docs" / "ema_workbench_example.py"
    spec = importlib.util.spec_from_file_location("ema_workbench_example", script)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--scenarios", "8", "--policies", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("16 experiments; target met in ")
