"""`cbsim compare A B`: two scenarios on common seeds (docs/policy.md).

Common seeds give a narrower interval than unpaired on a real pair; A against A differs by
exactly nothing; the cost per extra authority is the ratio of the mean differences; bad input
is one line and exit status 2, with nothing written."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cbsim.cli import main
from cbsim.inputs.experiment import run_seed
from cbsim.inputs.scenario import load_scenario
from cbsim.policy.compare import COMPARED, compare, cost_per_extra_authority
from cbsim.policy.stats import (
    paired_interval,
    ratio_of_mean_differences,
    unpaired_interval,
    wilson_interval,
)

BASE = load_scenario("baseline_2011")
CHAMPIONS = BASE.with_overrides({"offer.champions_network": True})
BOOST = BASE.with_overrides({"offer.funding_boost_m": 1.0})


def width(i) -> float:
    return i.high - i.low


# ------------------------------------------------------------------ statistics
def test_the_paired_interval_is_mean_difference_plus_minus_t_sd_over_root_n():
    a = np.array([1.0, 2.0, 4.0, 7.0])
    b = np.array([2.0, 2.5, 5.0, 9.0])
    d = b - a
    i = paired_interval(a, b)
    half = 3.182446305284263 * d.std(ddof=1) / 2  # t(3) 97.5% quantile
    assert i.estimate == pytest.approx(d.mean())
    assert (i.low, i.high) == pytest.approx((d.mean() - half, d.mean() + half))


def test_the_unpaired_interval_is_welchs():
    from scipy import stats

    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 30), rng.normal(0.5, 2, 30)
    i = unpaired_interval(a, b)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert (i.low, i.high) == pytest.approx((ci.low, ci.high))


def test_wilson_interval_of_known_proportions():
    i = wilson_interval(95, 100)
    assert i.estimate == 0.95
    assert (i.low, i.high) == pytest.approx((0.8883, 0.9785), abs=1e-4)
    assert wilson_interval(400, 400).high == pytest.approx(1.0)
    assert wilson_interval(400, 400).low == pytest.approx(0.9905, abs=1e-4)


def test_the_ratio_is_none_without_extra_authorities_and_unbounded_when_they_may_vanish():
    assert ratio_of_mean_differences(np.ones(10), np.zeros(10), 0) is None
    shaky = ratio_of_mean_differences(np.ones(6), np.array([3.0, -2, -2, 1, -1, 2.0]), 0)
    assert shaky is not None and math.isinf(shaky.high)


# ------------------------------------------------------------------ the comparison
def test_a_against_itself_differs_by_exactly_nothing():
    result = compare(BASE, BASE, runs=20, seed=3)
    for d in result.differences:
        assert (d.paired.estimate, d.paired.low, d.paired.high) == (0.0, 0.0, 0.0), d.outcome
        assert d.mean_a == d.mean_b
    assert result.cost_per_extra is None


def test_common_seeds_give_a_narrower_interval_than_unpaired_on_a_real_pair():
    result = compare(BASE, CHAMPIONS, runs=60, seed=1)
    for outcome in ("share_at_target", "count_at_target"):
        d = result.difference(outcome)
        assert d.paired.estimate > 0
        assert width(d.paired) < 0.75 * width(d.unpaired), outcome
        assert d.paired.estimate == pytest.approx(d.unpaired.estimate)


def test_seed_i_is_the_same_for_a_and_b_and_derived_from_the_master_seed():
    result = compare(BASE, BOOST, runs=5, seed=42)
    assert [row["seed"] for row in result.rows] == [run_seed(42, i) for i in range(5)]
    again = compare(BASE, BOOST, runs=5, seed=42)
    assert again.rows == result.rows


def test_the_cost_per_extra_authority_is_the_ratio_of_mean_differences():
    result = compare(BASE, BOOST, runs=40, seed=2)
    cost = result.difference("central_cost_m_at_target").paired.estimate
    count = result.difference("count_at_target").paired.estimate
    ratio = result.cost_per_extra
    assert ratio is not None and count > 0 and cost > 0
    assert ratio.estimate == pytest.approx(cost / count)
    assert ratio.low < ratio.estimate < ratio.high < 2 * ratio.estimate


def test_one_seeds_cost_per_extra_authority():
    a = {"count_at_target": 40, "central_cost_m_at_target": 0.0}
    b = {"count_at_target": 90, "central_cost_m_at_target": 60.0}
    assert cost_per_extra_authority(b, a) == (50, 60.0, 1.2)
    assert cost_per_extra_authority(a, a) == (0, 0.0, None)


# ------------------------------------------------------------------ the command
def test_cbsim_compare_prints_the_paired_and_unpaired_intervals_and_writes_its_files(
    tmp_path, capsys
):
    out = tmp_path / "cmp"
    args = ["compare", "baseline_2011", "baseline_2011", "--runs", "12", "--seed", "5"]
    assert main([*args, "--set", "offer.funding_boost_m=1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "B: baseline_2011 with offer.funding_boost_m=1.0" in text
    assert "12 seeds from --seed 5, the same for A and B" in text
    for label in COMPARED.values():
        assert label in text
    assert "cost per extra authority developing a community budget" in text
    rows = list(csv.DictReader((out / "compare_runs.csv").open()))
    assert len(rows) == 12
    summary = json.loads((out / "compare_summary.json").read_text())
    assert summary["runs"] == 12 and summary["cost_per_extra_authority_m"]["estimate"] > 0


def test_cbsim_run_against_prints_the_cost_per_extra_authority(tmp_path, capsys):
    args = ["run", "baseline_2011", "--set", "offer.funding_boost_m=1", "--seed", "2"]
    assert main([*args, "--against", "baseline_2011", "--out", str(tmp_path / "r")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("against"))
    assert "per extra authority" in line and "(one seed; cbsim compare" in line


BAD = [
    (["compare", "no_such_scenario", "baseline_2011"], "unknown scenario"),
    (["compare", "baseline_2011", "baseline_2011", "--runs", "1"], "--runs"),
    (["compare", "baseline_2011", "baseline_2011", "--runs", "many"], "--runs"),
    (["compare", "baseline_2011", "baseline_2011", "--seed", "-1"], "--seed"),
    (["compare", "baseline_2011", "baseline_2011", "--set", "offer.nope=1"], "offer.nope"),
    (["compare", "baseline_2011", "baseline_2011", "--set", "offer.funding_boost_m=-3"], "boost"),
    (["compare", "baseline_2011"], "B"),
    (["run", "baseline_2011", "--against", "no_such_scenario"], "unknown scenario"),
]


def status_of(argv: list[str]) -> int:
    """main's exit status, whether returned or raised by argparse."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(("argv", "named"), BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_status_2(argv, named, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert status_of([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and named in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_refused_before_any_run(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep")
    assert main(["compare", "baseline_2011", "baseline_2011", "--out", str(target)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep"


def write_posterior(folder: Path) -> Path:
    """A tiny posterior: two particles of the councils' median threshold."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"weight": [1.0, 1.0], "council.threshold_median_m": [1.2, 2.6]})
    pq.write_table(table, folder / "posterior.parquet")
    return folder


def test_with_a_posterior_each_seed_draws_its_parameters_the_same_for_a_and_b(tmp_path):
    from cbsim import simulate
    from cbsim.calibrate.posterior import Posterior

    posterior = Posterior.load(write_posterior(tmp_path / "post"))
    result = compare(BASE, CHAMPIONS, runs=8, seed=4, draw=posterior.draw, posterior="post")
    drawn = {posterior.draw(row["seed"])["council.threshold_median_m"] for row in result.rows}
    assert drawn == {1.2, 2.6}  # the seeds sample the posterior
    for row in result.rows[:3]:
        draw = posterior.draw(row["seed"])
        a = simulate(BASE, seed=row["seed"], **draw)
        b = simulate(CHAMPIONS, seed=row["seed"], **draw)
        assert row["share_at_target_a"] == a["share_at_target"]
        assert row["share_at_target_b"] == b["share_at_target"]
    same = compare(BASE, BASE, runs=8, seed=4, draw=posterior.draw)
    assert all(d.paired.estimate == 0.0 for d in same.differences)


def test_set_wins_over_the_posterior_draw_for_b(tmp_path, capsys):
    folder = write_posterior(tmp_path / "post")
    argv = ["compare", "baseline_2011", "baseline_2011", "--runs", "6", "--posterior"]
    argv += [str(folder), "--set", "council.threshold_median_m=1.8", "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    assert f"parameters drawn from the posterior {folder}" in capsys.readouterr().out
    summary = json.loads((tmp_path / "o" / "compare_summary.json").read_text())
    assert summary["posterior"] == str(folder)
    plain = compare(BASE, BASE, runs=6, seed=0)
    rows = list(csv.DictReader((tmp_path / "o" / "compare_runs.csv").open()))
    # B ran with the default threshold on every seed (--set), A with the drawn ones
    assert [float(r["share_at_target_b"]) for r in rows] == [
        r["share_at_target_b"] for r in plain.rows
    ]


def test_a_bad_posterior_is_one_line_before_any_run(tmp_path, capsys):
    argv = ["compare", "baseline_2011", "baseline_2011", "--posterior", str(tmp_path / "none")]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--posterior" in err
    assert not (tmp_path / "o").exists()
