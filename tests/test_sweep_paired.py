"""Paired sweeps (`paired = true`: the same seeds for every design point) and the scenario
factor (`[factors] scenario = [...]`: the base scenario varies across design points)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cbsim.cli import main
from cbsim.inputs.errors import CbsimError
from cbsim.inputs.experiment import load_experiment, run_seed
from cbsim.sweep.run import run_sweep

BOOST = """
description = "boost 0.5 vs 0.75"
scenario = "baseline_2011"
replicates = {replicates}
seed = 3
paired = {paired}

[sampler]
method = "grid"

[factors]
"offer.funding_boost_m" = [0.5, 0.75]

[overrides]
"timeline.end" = "2012-06"
"""

SCENARIOS = """
description = "scenario factor"
replicates = {replicates}
seed = 11
paired = true

[sampler]
{sampler}

[factors]
scenario = [{levels}]
"offer.funding_boost_m" = {boost}

[overrides]
"timeline.end" = "2012-04"
"""


def runs(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs").sort_values("run_id").reset_index(drop=True)


def sweep(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    out = tmp_path / name
    assert run_sweep(path, out=out, workers=1, progress=False).exit_status == 0
    return out


def scenario_text(
    levels: str = '"baseline_2011", "troubled_families_2012"',
    replicates: int = 4,
    sampler: str = 'method = "grid"',
    boost: str = "[0.0, 1.0]",
) -> str:
    return SCENARIOS.format(replicates=replicates, sampler=sampler, levels=levels, boost=boost)


# ------------------------------------------------------------------ paired seeds
def test_paired_design_points_share_their_seeds_replicate_by_replicate(tmp_path):
    out = sweep(tmp_path, BOOST.format(replicates=5, paired="true"), "paired")
    table = runs(out)
    by_point = table.pivot(index="replicate", columns="design_point", values="seed")
    assert (by_point[0] == by_point[1]).all()
    assert by_point[0].tolist() == [run_seed(3, r) for r in range(5)]
    assert by_point[0].nunique() == 5
    m = json.loads((out / "manifest.json").read_text())
    assert m["experiment"]["paired"] is True and m["seeds"].startswith("paired:")
    unpaired = runs(sweep(tmp_path, BOOST.format(replicates=5, paired="false"), "unpaired"))
    assert unpaired["seed"].tolist() == [run_seed(3, i) for i in range(10)]  # as ever
    # design point 0 runs the same seeds either way, so its rows are the same
    pd.testing.assert_frame_equal(table[table["design_point"] == 0], unpaired.iloc[:5])


def test_a_paired_difference_has_a_smaller_standard_error(tmp_path):
    """Boost 0.75 vs 0.5 over 80 replicates: common seeds make the runs of the two design
    points move together, so the difference is estimated more precisely."""
    errors = {}
    for paired in ("true", "false"):
        table = runs(sweep(tmp_path, BOOST.format(replicates=80, paired=paired), paired))
        for outcome in ("final_share", "central_cost_m"):
            wide = table.pivot(index="replicate", columns="design_point", values=outcome)
            difference = (wide[1] - wide[0]).to_numpy(dtype=float)
            assert difference.mean() > 0  # a bigger boost: more councils, more cost
            errors[paired, outcome] = difference.std(ddof=1) / np.sqrt(len(difference))
    for outcome in ("final_share", "central_cost_m"):
        assert errors["true", outcome] < 0.75 * errors["false", outcome], errors


def test_paired_is_part_of_the_experiment_a_resume_checks(tmp_path):
    out = sweep(tmp_path, BOOST.format(replicates=2, paired="true"), "p")
    changed = tmp_path / "changed.toml"
    changed.write_text(BOOST.format(replicates=2, paired="false"))
    with pytest.raises(CbsimError, match="changed since this sweep started"):
        run_sweep(changed, out=out, workers=1, resume=True, progress=False)


# ------------------------------------------------------------------ the scenario factor
def test_each_design_point_runs_its_own_scenario(tmp_path):
    table = runs(sweep(tmp_path, scenario_text(), "scenarios"))
    assert table["scenario"].tolist() == ["baseline_2011"] * 8 + ["troubled_families_2012"] * 8
    baseline = table[table["scenario"] == "baseline_2011"]
    troubled = table[table["scenario"] == "troubled_families_2012"]
    assert (baseline["pbr_share_final"] == 0).all()  # no payment-by-results offer
    assert (troubled["pbr_share_final"] > 0.5).all()  # the offer opens in December 2011
    # the boost factor applies on top of each scenario
    for rows in (baseline, troubled):
        boost = rows.groupby("offer.funding_boost_m")["final_share"].mean()
        assert boost[1.0] > boost[0.0]
    assert (
        "scenario" in json.loads((tmp_path / "scenarios" / "manifest.json").read_text())["factors"]
    )


def test_a_sampler_maps_the_scenario_factor_to_equal_bins(tmp_path):
    text = scenario_text(
        replicates=1,
        sampler='method = "lhs"\nsamples = 20',
        boost="{ min = 0.0, max = 1.0 }",
    )
    path = tmp_path / "lhs.toml"
    path.write_text(text)
    exp = load_experiment(path)
    raw = exp.raw_design()
    design = exp.design(raw)
    column = exp.factor_paths.index("scenario")
    for row, point in zip(raw, design, strict=True):
        expected = "baseline_2011" if row[column] < 0.5 else "troubled_families_2012"
        assert point["scenario"] == expected
    table = runs(sweep(tmp_path, text, "lhs_sweep"))
    assert table["scenario"].tolist() == [p["scenario"] for p in design]
    troubled = table["scenario"] == "troubled_families_2012"
    assert (table.loc[troubled, "pbr_share_final"] > 0).all()
    assert (table.loc[~troubled, "pbr_share_final"] == 0).all()


def test_a_scenario_file_beside_the_experiment_and_a_resume_after_it_changed(tmp_path):
    scenario = tmp_path / "mine.toml"
    scenario.write_text('name = "mine"\n[offer]\nfunding_boost_m = 0.25\n')
    text = scenario_text(levels='"baseline_2011", "mine.toml"', replicates=1, boost="[0.0]")
    text = text.replace('"offer.funding_boost_m" = [0.0]', '"offer.national_pooling" = [false]')
    out = sweep(tmp_path, text, "local")
    assert runs(out)["scenario"].tolist() == ["baseline_2011", "mine"]
    shutil.rmtree(out / "runs")
    (out / "runs").mkdir()
    scenario.write_text('name = "mine"\n[offer]\nfunding_boost_m = 0.5\n')
    with pytest.raises(CbsimError, match="changed since this sweep started"):
        run_sweep(tmp_path / "local.toml", out=out, workers=1, resume=True, progress=False)


def test_a_misspelt_scenario_fails_in_one_line_before_any_run(tmp_path, capsys):
    path = tmp_path / "typo.toml"
    path.write_text(scenario_text(levels='"baseline_2011", "troubled_familes_2012"'))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{path}: factors.scenario:" in err
    assert "did you mean 'troubled_families_2012'" in err
    assert not out.exists()
