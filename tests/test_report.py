"""The report does not mislead (issue 14): every PRIM route, the frontier where P crosses the
required level, what every average is over, warnings for degenerate outcomes, intervals
everywhere, and report.html beside report.md."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_analysis import HEAD, fake_sweep, wilson_by_hand

from cbsim.analysis.discovery import discover
from cbsim.analysis.report import analyse
from cbsim.analysis.sweep_data import load_sweep
from cbsim.sweep.run import run_sweep

BOOST, POOL = "offer.funding_boost_m", "council.virtual_value"


def two_routes(values, raw, replicate):
    """Success when the boost is high (>= 1.5) or, with no boost, when `POOL` is at its top
    level: two separate routes, the second a single column of the grid."""
    met = values[BOOST] >= 1.5 or (values[BOOST] == 0 and values[POOL] == 1.0)
    return met, 0.3 + 0.2 * met, None


GRID_2x9 = (
    HEAD + "replicates = 20\n[sampler]\nmethod = 'grid'\n[factors]\n"
    f'"{BOOST}" = {{ min = 0.0, max = 2.0, levels = 9 }}\n'
    f'"{POOL}" = [0.0, 0.25, 0.5, 0.75, 1.0]\n'
)


def restricted(box) -> dict[str, tuple]:
    return {r["factor"]: (r["low"], r["high"]) for r in box["restrictions"]}


# ------------------------------------------------------------------ every PRIM route
def test_prim_reports_both_routes_to_the_target(tmp_path):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)
    sweep = load_sweep(out)
    found = discover(sweep.runs, sweep.factors, replicates=20)
    assert len(found.boxes) == 2
    first, second = (restricted(b) for b in found.boxes)
    assert list(first) == [BOOST] and 1.25 < first[BOOST][0] <= 1.5
    # the second route: no boost and the top level of the other factor; 20 of 20 runs
    assert second[POOL][0] > 0.75 and found.boxes[1]["density"] == 1.0
    assert found.boxes[1]["met_in_box"] == 20 and found.boxes[1]["coverage"] == pytest.approx(
        20 / (3 * 5 * 20 + 20)
    )
    report = analyse(out).read_text()
    assert "**2 routes found**" in report and "**Box 2**" in report
    boxes = pd.read_csv(out / "prim_boxes.csv")
    assert sorted(boxes["box"].unique()) == [1, 2]


@pytest.mark.slow
def test_the_real_boost_and_payment_by_results_grid_has_both_routes(tmp_path):
    # the issue's case: a boost, or payment by results generous enough with no boost at all
    exp = tmp_path / "pbr.toml"
    exp.write_text(
        HEAD + "replicates = 20\n[sampler]\nmethod = 'grid'\n[factors]\n"
        f'"{BOOST}" = {{ min = 0.0, max = 2.0, levels = 9 }}\n'
        '"pbr.attachment_fee_k" = [0.0, 2.5, 5.0, 7.5, 10.0]\n'
        '[overrides]\n"offer.payment_by_results" = true\n"pbr.cb_spillover" = 1.0\n'
    )
    out = tmp_path / "pbr"
    assert run_sweep(exp, out=out, workers=1, progress=False).exit_status == 0
    runs = pd.read_parquet(out / "runs")
    no_boost_top_fee = runs[(runs[BOOST] == 0) & (runs["pbr.attachment_fee_k"] == 10.0)]
    assert no_boost_top_fee["target_met"].all()  # P = 1.00 there, 20 of 20
    sweep = load_sweep(out)
    found = discover(sweep.runs, sweep.factors, replicates=20)
    routes = [restricted(b) for b in found.boxes]
    assert any(list(r) == [BOOST] for r in routes)
    fee_route = [r for r in routes if list(r) == ["pbr.attachment_fee_k"]]
    assert fee_route and fee_route[0]["pbr.attachment_fee_k"][0] > 5.0  # 7.5 or 10 kept
    assert all(b["density"] >= found.threshold for b in found.boxes)
    report = analyse(out).read_text()
    assert "**2 routes found**" in report


def test_no_run_meeting_the_target_is_said_so_for_prim(tmp_path):
    out = fake_sweep(
        tmp_path, GRID_2x9.replace("20\n", "2\n", 1), lambda v, r, i: (False, 0.3, None)
    )
    report = analyse(out).read_text()
    assert "here no run met the target (0 of 90)" in report


# ------------------------------------------------------------------ the frontier
def test_the_frontier_lists_every_crossing_pair_and_the_table_keeps_them(tmp_path):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)  # 45 points: the table is abridged
    report = analyse(out).read_text()
    assert "Required level: P(target met) >= 0.9 (the default: the sweep records no" in report
    pairs = pd.read_csv(out / "frontier.csv")
    points = pd.read_csv(out / "design_points.csv").set_index("design_point")
    # by hand: boost 1.25 -> 1.5 at each of 5 levels; boost 0 -> 0.25 at the top level;
    # the top level -> 0.75 at boost 0
    expected = {(BOOST, 1.25, 1.5)} | {(BOOST, 0.25, 0.0)} | {(POOL, 0.75, 1.0)}
    found = set(zip(pairs["factor"], pairs["below_level"], pairs["above_level"], strict=True))
    assert found == expected and len(pairs) == 7
    for _, pair in pairs.iterrows():
        assert points.loc[pair["design_point_below"], "p_target"] < 0.9
        assert points.loc[pair["design_point_above"], "p_target"] >= 0.9
    on_edge = set(pairs["design_point_below"]) | set(pairs["design_point_above"])
    for point in on_edge:  # every frontier point is in the abridged table, marked
        assert re.search(rf"^\| {point} † \|", report, re.M), point
    lo, hi = wilson_by_hand(20, 20)
    assert f"| 1.000 [{lo:.3f}, 1.000] (point 4) |" in report


def test_a_recorded_required_level_is_used(tmp_path):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["required_p"] = 0.5
    (out / "manifest.json").write_text(json.dumps(manifest))
    report = analyse(out).read_text()
    assert "Required level: P(target met) >= 0.5 (recorded in the sweep's manifest)" in report


def test_a_sampled_design_lists_the_points_whose_interval_contains_the_level(tmp_path):
    text = (
        HEAD + "replicates = 10\n[sampler]\nmethod = 'lhs'\nsamples = 30\n[factors]\n"
        f'"{POOL}" = {{ min = 0.0, max = 1.0 }}\n'
    )
    out = fake_sweep(tmp_path, text, lambda v, r, i: (i < round(10 * v[POOL]), v[POOL], None))
    analyse(out)
    points = pd.read_csv(out / "design_points.csv")
    table = pd.read_csv(out / "frontier.csv")
    straddle = points[(points["p_target_lo"] <= 0.9) & (points["p_target_hi"] >= 0.9)]
    assert set(table["design_point"]) == set(straddle["design_point"]) and len(table) > 0


# ------------------------------------------------------------------ what averages are over
def test_the_headline_and_marginals_say_what_they_average_over(tmp_path):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["posterior"] = {"folder": "calibrations/demo", "sha256": "ab" * 32}
    (out / "manifest.json").write_text(json.dumps(manifest))
    report = analyse(out).read_text()
    assert (
        "**What this is an average over.** 900 runs: 20 replicate seeds at each of 45 "
        "design points, every combination of the factors' levels, each once" in report
    )
    assert f"`{BOOST}` in {{0, 0.25, 0.5" in report
    assert "drawn for each run from the posterior in `calibrations/demo` (sha256 abab" in report
    marg = pd.read_csv(out / "marginals.csv")
    top = marg[(marg["factor"] == POOL) & (marg["level"].astype(float) == 1.0)].iloc[0]
    assert (top["runs"], top["met"]) == (180, 80)  # boost 1.5 to 2 (3 x 20) and 0 (20)
    assert "pooled over the runs at every value of the other factors" in report


# ------------------------------------------------------------------ degenerate outcomes
def test_p_near_one_everywhere_warns_that_the_indices_are_uninformative(tmp_path):
    # 39 or 40 of 40 everywhere: P ~ 1, the indices would describe noise
    out = fake_sweep(
        tmp_path,
        GRID_2x9.replace("replicates = 20", "replicates = 40"),
        lambda v, r, i: (not (i == 0 and v[BOOST] < 1), 0.5 + 0.01 * v[BOOST], None),
    )
    report = analyse(out).read_text()
    assert "**Warning:** the indices for P(target met) are uninformative: P ≈ 1 at every" in report
    assert "lowest P 0.975" in report


def test_outcomes_that_do_not_differ_between_points_are_warned(tmp_path):
    # P = 0.5 and the same shares at every point: nothing but noise to explain
    out = fake_sweep(tmp_path, GRID_2x9, lambda v, r, i: (i % 2 == 0, 0.3 + 0.01 * (i % 5), None))
    report = analyse(out).read_text()
    assert "P does not differ measurably between design points (chi-square test" in report
    assert "the mean share does not differ measurably between design points (one-way" in report


def test_the_share_anova_is_scipys_on_the_runs_a_missing_share_left_out():
    from scipy import stats

    from cbsim.analysis.degenerate import ALPHA, _share_flat

    rng = np.random.default_rng(5)
    shares = [0.30 + 0.02 * rng.standard_normal(6) for _ in range(3)]
    shares[1][0] = np.nan  # a run without a share at the target date
    runs = pd.DataFrame(
        {
            "design_point": np.repeat([0, 1, 2], 6),
            "share_at_target": np.concatenate(shares),
        }
    )
    expected = stats.f_oneway(*[s[~np.isnan(s)] for s in shares]).pvalue
    text = _share_flat(runs)
    assert expected > ALPHA and text is not None and f"p = {expected:.2f}" in text


def test_outcomes_that_differ_are_not_warned(tmp_path):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)
    assert "uninformative" not in analyse(out).read_text()


# ------------------------------------------------------------------ intervals everywhere
def test_no_dash_where_an_interval_is_promised(tmp_path):
    text = (
        HEAD + "replicates = 1\n[sampler]\nmethod = 'grid'\n[factors]\n"
        f'"{BOOST}" = [0.0, 1.0, 2.0]\n"{POOL}" = [0.0, 1.0]\n'
    )
    out = fake_sweep(tmp_path, text, lambda v, r, i: (v[BOOST] > 0.5, 0.1 * v[BOOST], None))
    report = analyse(out).read_text()
    assert "–" not in report
    assert "(one run: no interval)" in report
    assert "No interval: one run at some design point" in report


def test_grid_main_effect_intervals_are_reproducible_and_cover_the_noise(tmp_path):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)
    analyse(out)
    first = pd.read_csv(out / "sensitivity.csv")
    analyse(out)
    assert first.equals(pd.read_csv(out / "sensitivity.csv"))
    # two_routes is deterministic per cell: no noise, so a zero-width interval
    assert (first["S1_conf"] == 0).all()


# ------------------------------------------------------------------ report.html
class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        if tag in ("link", "script") or "href" in attrs:
            self.links.append(tag)


def test_report_html_is_self_contained(tmp_path):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)
    markdown = analyse(out).read_text()
    page_text = (out / "report.html").read_text()
    page = Page()
    page.feed(page_text)
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(page.images) == len(figures) >= 4
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert 'src="http' not in page_text and not page.links
    assert page.tags.count("table") == markdown.count("\n|---") and "td" in page.tags
    assert "<h2>Where P crosses the required level (0.9)</h2>" in page_text


def test_report_html_escapes_markup_in_the_description(tmp_path):
    text = 'description = "<script>alert(1)</script> ![x](http://e.org/a.png)"\n' + GRID_2x9
    out = fake_sweep(tmp_path, text, two_routes)
    analyse(out)
    page_text = (out / "report.html").read_text()
    assert "<script>" not in page_text and "http://e.org/a.png" not in page_text.split("[figure")[0]
    assert "[figure http://e.org/a.png is not part of this report]" in page_text


def test_a_failed_analysis_leaves_the_previous_html(tmp_path, monkeypatch):
    out = fake_sweep(tmp_path, GRID_2x9, two_routes)
    analyse(out)
    before = (out / "report.html").read_bytes()
    from cbsim.analysis import report

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(report, "report_html", boom)
    with pytest.raises(OSError):
        analyse(out)
    assert (out / "report.html").read_bytes() == before
    assert not list(Path(out).glob(".analysis.*"))


# ------------------------------------------------------------------ text factors
STANCE = "departments.DWP.stance"


def test_a_text_factor_gets_a_frontier_marginals_and_a_prim_box(tmp_path):
    text = (
        HEAD + "replicates = 10\n[sampler]\nmethod = 'grid'\n[factors]\n"
        f'"{STANCE}" = ["withhold", "align", "pool"]\n"{BOOST}" = [0.0, 1.0]\n'
    )
    out = fake_sweep(
        tmp_path, text, lambda v, r, i: (v[STANCE] == "pool" or v[BOOST] == 1.0, 0.5, None)
    )
    report = analyse(out).read_text()
    pairs = pd.read_csv(out / "frontier.csv")
    along = pairs[pairs["factor"] == STANCE]
    # stances are ordered (withhold < align < pool): only align and pool are neighbours
    assert set(zip(along["below_level"], along["above_level"], strict=True)) == {
        ("align", "pool"),
    }
    marg = pd.read_csv(out / "marginals.csv")
    assert marg[marg["factor"] == STANCE]["level"].tolist() == ["withhold", "align", "pool"]
    assert "| `departments.DWP.stance` | {pool} |" in report


def test_sampled_indices_are_skipped_for_a_factor_sampled_as_text(tmp_path):
    # the sweep's store refuses a text design column today; a categorical factor (scenario
    # names) sampled as text must still not crash SALib's indices
    from cbsim.analysis.sensitivity import WARNING, sensitivity
    from cbsim.analysis.statistics import design_points

    out = fake_sweep(
        tmp_path,
        HEAD + "replicates = 1\n[sampler]\nmethod = 'lhs'\nsamples = 40\n[factors]\n"
        f'"{POOL}" = {{ min = 0.0, max = 1.0 }}\n"{BOOST}" = {{ min = 0.0, max = 1.0 }}\n',
        lambda v, r, i: (v[POOL] > 0.5, v[POOL], None),
    )
    sweep = load_sweep(out)
    sweep.design[BOOST] = ["scenario_a" if x < 0.5 else "scenario_b" for x in sweep.design[BOOST]]
    table, note = sensitivity(sweep, design_points(sweep.runs, sweep.factors))
    assert table is None and note.startswith(WARNING)
    assert f"`{BOOST}` is a categorical factor (its sampled values are text)" in note
