"""Experiment files: validation against the parameter declarations, deterministic designs."""

from __future__ import annotations

import itertools
import textwrap

import numpy as np
import pytest

from cbsim.cli import main
from cbsim.inputs.errors import InputError
from cbsim.inputs.experiment import experiment_dir, load_experiment, run_seed
from cbsim.inputs.parameters import declared

BASE = """
scenario = "baseline_2011"
replicates = 2
seed = 7
"""


def write(tmp_path, text: str, name: str = "exp.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def experiment(tmp_path, sampler: str, factors: str, extra: str = ""):
    return load_experiment(
        write(tmp_path, BASE + extra + f"\n[sampler]\n{sampler}\n\n[factors]\n{factors}\n")
    )


# ------------------------------------------------------------------ shipped experiments
def test_shipped_experiments_are_valid_and_sized_as_documented():
    names = sorted(p.stem for p in experiment_dir().glob("*.toml"))
    assert {"offer_vs_pressure_grid", "tipping_point_lhs", "sobol_sensitivity"} <= set(names)
    for name in names:
        exp = load_experiment(name)
        assert exp.description, name
        design = exp.design()
        assert len(design) == exp.n_points()
        for point in design[:50]:  # values are valid parameter values
            exp.base_scenario().with_overrides(point)
    grid = load_experiment("offer_vs_pressure_grid")
    assert grid.method == "grid" and len(grid.factors) == 2
    lhs = load_experiment("tipping_point_lhs")
    assert lhs.method == "lhs" and len(lhs.factors) >= 6
    assert load_experiment("sobol_sensitivity").method == "saltelli"


# ------------------------------------------------------------------ designs
def test_grid_is_the_full_factorial_in_file_order(tmp_path):
    exp = experiment(
        tmp_path,
        'method = "grid"',
        """
        "offer.national_pooling" = [false, true]
        "offer.funding_boost_m" = { min = 0.0, max = 1.0, levels = 3 }
        "network.region_links" = { min = 2, max = 4, levels = 3 }
    """,
    )
    design = exp.design()
    expected = list(itertools.product([False, True], [0.0, 0.5, 1.0], [2, 3, 4]))
    assert [tuple(p.values()) for p in design] == expected
    assert exp.n_runs() == 18 * 2
    assert isinstance(design[0]["network.region_links"], int)


def test_lhs_is_deterministic_within_bounds_and_maps_levels_to_equal_bins(tmp_path):
    factors = """
        "offer.funding_boost_m" = { min = 0.5, max = 2.0 }
        "offer.national_pooling" = [false, true]
        "departments.DWP.stance" = ["withhold", "align", "pool"]
        "network.region_links" = { min = 1, max = 3 }
    """
    exp = experiment(tmp_path, 'method = "lhs"\nsamples = 300', factors)
    raw = exp.raw_design()
    assert np.array_equal(
        raw, experiment(tmp_path, 'method = "lhs"\nsamples = 300', factors).raw_design()
    )
    other = load_experiment(
        write(
            tmp_path,
            (tmp_path / "exp.toml").read_text().replace("seed = 7", "seed = 8"),
            "other.toml",
        )
    )
    assert not np.array_equal(raw, other.raw_design())
    design = exp.design(raw)
    boosts = [p["offer.funding_boost_m"] for p in design]
    assert 0.5 <= min(boosts) and max(boosts) <= 2.0
    for row, point in zip(raw, design, strict=True):
        assert point["offer.national_pooling"] == (row[1] >= 0.5)
        assert (
            point["departments.DWP.stance"]
            == ["withhold", "align", "pool"][min(int(row[2] * 3), 2)]
        )
    # a Latin hypercube: each third of [0, 1] holds a third of the samples
    stances = [p["departments.DWP.stance"] for p in design]
    assert [stances.count(s) for s in ("withhold", "align", "pool")] == [100, 100, 100]
    links = [p["network.region_links"] for p in design]
    assert [links.count(k) for k in (1, 2, 3)] == [100, 100, 100]


def test_saltelli_and_morris_design_sizes(tmp_path):
    factors = """
        "offer.funding_boost_m" = { min = 0.0, max = 1.0 }
        "council.peer_weight_m" = { min = 0.0, max = 6.0 }
        "offer.reinvest_savings" = [false, true]
    """
    sobol = experiment(tmp_path, 'method = "saltelli"\nsamples = 8', factors)
    assert sobol.raw_design().shape == (8 * (3 + 2), 3) and sobol.n_points() == 40
    second = experiment(tmp_path, 'method = "saltelli"\nsamples = 8\nsecond_order = true', factors)
    assert second.raw_design().shape == (8 * (2 * 3 + 2), 3)
    morris = experiment(tmp_path, 'method = "morris"\nsamples = 5\nlevels = 4', factors)
    raw = morris.raw_design()
    assert raw.shape == (5 * 4, 3) and morris.n_points() == 20
    assert np.array_equal(raw, morris.raw_design())


def test_run_seeds_come_from_seed_sequence_of_master_seed_and_run_id():
    seeds = [run_seed(2011, i) for i in range(1000)]
    assert len(set(seeds)) == 1000 and all(0 <= s < 2**63 for s in seeds)
    state = np.random.SeedSequence([2011, 5]).generate_state(1, dtype=np.uint64)[0]
    assert seeds[5] == int(state) >> 1
    assert run_seed(2012, 5) != seeds[5]


# ------------------------------------------------------------------ bad files
BAD = [
    ("malformed", BASE + "[sampler\n", None, "malformed TOML"),
    (
        "unknown key",
        BASE + "replicate = 3\n[sampler]\nmethod='grid'\n[factors]\n"
        '"offer.national_pooling" = [false, true]\n',
        "replicate",
        "did you mean 'replicates'",
    ),
    ("missing factors", BASE + "[sampler]\nmethod = 'grid'\n", "factors", "missing"),
    (
        "unknown scenario",
        BASE.replace("baseline_2011", "baseline_2012")
        + "[sampler]\nmethod='grid'\n[factors]\n\"offer.national_pooling\" = [true]\n",
        "scenario",
        "unknown scenario",
    ),
    (
        "zero replicates",
        BASE.replace("replicates = 2", "replicates = 0")
        + "[sampler]\nmethod='grid'\n[factors]\n\"offer.national_pooling\" = [true]\n",
        "replicates",
        "between 1",
    ),
    (
        "text replicates",
        BASE.replace("replicates = 2", 'replicates = "2"')
        + "[sampler]\nmethod='grid'\n[factors]\n\"offer.national_pooling\" = [true]\n",
        "replicates",
        "whole number",
    ),
    (
        "negative seed",
        BASE.replace("seed = 7", "seed = -1")
        + "[sampler]\nmethod='grid'\n[factors]\n\"offer.national_pooling\" = [true]\n",
        "seed",
        "between 0",
    ),
    (
        "largest seed",
        BASE.replace("seed = 7", "seed = 9223372036854775807")
        + "[sampler]\nmethod='grid'\n[factors]\n\"offer.national_pooling\" = [true]\n",
        None,
        None,
    ),  # the largest TOML integer is a valid seed
    (
        "unknown sampler",
        BASE + "[sampler]\nmethod = 'sobol'\n[factors]\n\"offer.national_pooling\" = [true]\n",
        "sampler.method",
        "unknown sampler 'sobol'",
    ),
    (
        "no samples",
        BASE + "[sampler]\nmethod = 'lhs'\n[factors]\n\"offer.national_pooling\" = [true]\n",
        "sampler.samples",
        "missing",
    ),
    (
        "not power of 2",
        BASE + "[sampler]\nmethod = 'saltelli'\nsamples = 100\n[factors]\n"
        '"offer.funding_boost_m" = {min=0.0, max=1.0}\n"council.speed" = {min=0.1, max=1.0}\n',
        "sampler.samples",
        "power of 2 for the Sobol' sequence, e.g. 64 or 128; got 100",
    ),
    (
        "grid setting for lhs",
        BASE + "[sampler]\nmethod = 'grid'\nsamples = 10\n[factors]\n"
        '"offer.national_pooling" = [true]\n',
        "sampler.samples",
        "used by lhs",
    ),
    (
        "unknown factor",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n\"offer.funding_bost_m\" = [1.0]\n",
        "factors.offer.funding_bost_m",
        "did you mean 'offer.funding_boost_m'",
    ),
    (
        "out of range",
        BASE + "[sampler]\nmethod = 'lhs'\nsamples = 4\n[factors]\n"
        '"offer.funding_boost_m" = {min = 0.0, max = 60.0}\n',
        "factors.offer.funding_boost_m.max",
        "out of range [0, 50]",
    ),
    (
        "level out of range",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n\"council.virtual_value\" = [0.5, -1.0]\n",
        "factors.council.virtual_value",
        "out of range",
    ),
    (
        "min above max",
        BASE + "[sampler]\nmethod = 'lhs'\nsamples = 4\n[factors]\n"
        '"offer.funding_boost_m" = {min = 2.0, max = 1.0}\n',
        "factors.offer.funding_boost_m",
        "must be below max",
    ),
    (
        "grid needs levels",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n"
        '"offer.funding_boost_m" = {min = 0.0, max = 1.0}\n',
        "factors.offer.funding_boost_m.levels",
        "missing",
    ),
    (
        "levels count for lhs",
        BASE + "[sampler]\nmethod = 'lhs'\nsamples = 4\n[factors]\n"
        '"offer.funding_boost_m" = {min = 0.0, max = 1.0, levels = 3}\n',
        "factors.offer.funding_boost_m.levels",
        "grid sampler",
    ),
    (
        "bool as range",
        BASE + "[sampler]\nmethod = 'lhs'\nsamples = 4\n[factors]\n"
        '"offer.national_pooling" = {min = 0, max = 1}\n',
        "factors.offer.national_pooling",
        "list of levels",
    ),
    (
        "bad stance",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n"
        '"departments.DWP.stance" = ["withhold", "pol"]\n',
        "factors.departments.DWP.stance",
        "did you mean 'pool'",
    ),
    (
        "list parameter",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n\"ministerial.sweeteners\" = [[]]\n",
        "factors.ministerial.sweeteners",
        "cannot be a factor",
    ),
    (
        "repeated level",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n\"offer.national_pooling\" = [true, true]\n",
        "factors.offer.national_pooling",
        "must not repeat",
    ),
    (
        "range typo",
        BASE + "[sampler]\nmethod = 'lhs'\nsamples = 4\n[factors]\n"
        '"offer.funding_boost_m" = {min = 0.0, maxi = 1.0}\n',
        "factors.offer.funding_boost_m.maxi",
        "did you mean 'max'",
    ),
    (
        "date as number",
        BASE + "[sampler]\nmethod = 'lhs'\nsamples = 4\n[factors]\n"
        '"offer.funding_boost_m" = {min = 0.0, max = 2011-04-01}\n',
        "factors.offer.funding_boost_m.max",
        "expected a number",
    ),
    (
        "factor also override",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n"
        '"offer.national_pooling" = [true]\n[overrides]\n"offer.national_pooling" = false\n',
        "overrides.offer.national_pooling",
        "also a factor",
    ),
    (
        "bad override",
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n"
        '"offer.national_pooling" = [true]\n[overrides]\n"timeline.end" = "2011-01"\n',
        "timeline.end",
        "must come after",
    ),
    (
        "one factor morris",
        BASE + "[sampler]\nmethod = 'morris'\nsamples = 4\n[factors]\n"
        '"offer.funding_boost_m" = {min = 0.0, max = 1.0}\n',
        "factors",
        "at least 2",
    ),
]


@pytest.mark.parametrize("label,text,field,message", BAD, ids=[b[0] for b in BAD])
def test_bad_experiment_names_file_and_field(tmp_path, label, text, field, message):
    path = write(tmp_path, text)
    if message is None:
        load_experiment(path)
        return
    with pytest.raises(InputError) as caught:
        load_experiment(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(str(path)), text
    if field:
        assert f": {field}:" in text, text
    assert message in text, text


def test_design_point_that_breaks_the_scenario_fails_before_any_run(tmp_path, capsys):
    # DWP's floor is raised to align, so a withhold level is below it
    path = write(
        tmp_path,
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n"
        '"departments.DWP.stance" = ["align", "withhold"]\n'
        '[overrides]\n"departments.DWP.floor" = "align"\n',
    )
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "departments.DWP.stance" in err
    assert not out.exists()


def test_cli_bad_experiment_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    path = write(
        tmp_path,
        BASE + "[sampler]\nmethod = 'grid'\n[factors]\n\"offer.national_pooling\" = [maybe]\n",
    )
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cbsim: error: ") and err.count("\n") == 1 and str(path) in err
    assert not out.exists()
    assert main(["sweep", "no_such_experiment", "--out", str(out)]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_factor_paths_are_declared_parameters():
    for name in ("offer_vs_pressure_grid", "tipping_point_lhs", "sobol_sensitivity"):
        for factor in load_experiment(name).factors:
            assert factor.path in declared()
