"""Experiment files: validation against the parameter declarations, deterministic designs."""

from __future__ import annotations

import itertools
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cbsim.cli import main
from cbsim.inputs.errors import InputError
from cbsim.inputs.experiment import (
    MAX_POINTS,
    MAX_RUNS,
    Experiment,
    experiment_dir,
    experiment_from_table,
    load_experiment,
    run_seed,
)
from cbsim.inputs.parameters import declared
from cbsim.inputs.scenario import scenario_dir

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
        scenarios = exp.scenarios()
        for point in design[:50]:  # values are valid parameter values of the point's scenario
            values = {k: v for k, v in point.items() if k != "scenario"}
            scenarios[point.get("scenario", exp.base_scenario().name)].with_overrides(values)
    grid = load_experiment("offer_vs_pressure_grid")
    assert grid.method == "grid" and len(grid.factors) == 2
    lhs = load_experiment("tipping_point_lhs")
    assert lhs.method == "lhs" and len(lhs.factors) >= 6
    assert load_experiment("sobol_sensitivity").method == "saltelli"
    paired = load_experiment("policy_packages_paired")
    assert paired.paired and paired.series and paired.varies_scenario
    assert paired.n_runs() <= 1000


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


# ------------------------------------------------------------------ the base scenario's file
def scenario_file(folder, name: str, scenario_name: str, end: str = "2013-03"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'name = "{scenario_name}"\n[timeline]\nend = "{end}"\n')
    return path


def grid_experiment(folder, scenario: str, name: str = "exp.toml"):
    folder.mkdir(parents=True, exist_ok=True)
    text = (
        f'scenario = "{scenario}"\nreplicates = 1\nseed = 7\n[sampler]\nmethod = "grid"\n'
        '[factors]\n"offer.national_pooling" = [false]\n'
    )
    return write(folder, text, name)


def test_a_relative_scenario_path_is_found_beside_the_experiment_not_in_the_cwd(
    tmp_path, monkeypatch
):
    beside = scenario_file(tmp_path / "exps", "mine.toml", "beside")
    scenario_file(tmp_path / "exps" / "sub", "other.toml", "beside_sub")
    scenario_file(tmp_path / "cwd", "mine.toml", "stray", end="2012-12")
    scenario_file(tmp_path / "cwd" / "sub", "other.toml", "stray_sub", end="2012-12")
    monkeypatch.chdir(tmp_path / "cwd")
    exp = load_experiment(grid_experiment(tmp_path / "exps", "mine.toml"))
    assert exp.scenario == "mine.toml" and exp.scenario_path == beside
    assert exp.scenario_path.is_absolute()
    assert exp.base_scenario().name == "beside"
    assert exp.base_scenario().values["timeline.end"] == "2013-03"
    sub = load_experiment(
        Path("..") / "exps" / grid_experiment(tmp_path / "exps", "sub/other.toml").name
    )
    assert sub.scenario_path == tmp_path / "exps" / "sub" / "other.toml"
    assert sub.base_scenario().name == "beside_sub"


def test_a_relative_path_not_beside_the_experiment_is_a_shipped_scenario_not_the_cwds(
    tmp_path, monkeypatch
):
    scenario_file(tmp_path / "cwd", "baseline_2011.toml", "stray", end="2012-12")
    monkeypatch.chdir(tmp_path / "cwd")
    exp = load_experiment(grid_experiment(tmp_path / "exps", "baseline_2011.toml"))
    assert exp.scenario_path == scenario_dir() / "baseline_2011.toml"
    assert exp.base_scenario().name == "baseline_2011"


def test_a_name_is_a_shipped_scenario_whatever_lies_beside_or_in_the_cwd(tmp_path, monkeypatch):
    scenario_file(tmp_path / "cwd", "baseline_2011.toml", "stray")
    scenario_file(tmp_path / "exps", "baseline_2011.toml", "beside")
    monkeypatch.chdir(tmp_path / "cwd")
    exp = load_experiment(grid_experiment(tmp_path / "exps", "baseline_2011"))
    assert exp.scenario_path == scenario_dir() / "baseline_2011.toml"
    assert exp.base_scenario().name == "baseline_2011"


def test_a_scenario_only_in_the_cwd_is_not_found(tmp_path, monkeypatch):
    scenario_file(tmp_path / "cwd", "mine.toml", "stray")
    monkeypatch.chdir(tmp_path / "cwd")
    path = grid_experiment(tmp_path / "exps", "mine.toml")
    with pytest.raises(InputError) as caught:
        load_experiment(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and ": scenario: no scenario file 'mine.toml'" in text
    assert "never in the current folder" in text and "\n" not in text


def test_an_absolute_scenario_path_is_used_as_it_is(tmp_path):
    elsewhere = scenario_file(tmp_path / "elsewhere", "mine.toml", "elsewhere")
    exp = load_experiment(grid_experiment(tmp_path / "exps", str(elsewhere)))
    assert exp.scenario_path == elsewhere and exp.base_scenario().name == "elsewhere"


def test_a_table_from_no_file_never_looks_in_the_cwd(tmp_path, monkeypatch):
    scenario_file(tmp_path, "mine.toml", "stray")
    monkeypatch.chdir(tmp_path)
    table = {
        "scenario": "mine.toml",
        "replicates": 1,
        "seed": 1,
        "sampler": {"method": "grid"},
        "factors": {"offer.national_pooling": [False]},
    }
    with pytest.raises(InputError, match="scenario: no scenario file"):
        experiment_from_table(table, "table")
    table["scenario"] = "baseline_2011.toml"
    assert experiment_from_table(table, "table").scenario_path == (
        scenario_dir() / "baseline_2011.toml"
    )


def test_cli_sweep_uses_the_scenario_beside_the_experiment_despite_a_stray_file(
    tmp_path, monkeypatch, capsys
):
    scenario_file(tmp_path / "exps", "mine.toml", "beside")
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "mine.toml").write_text("[timeline\n")  # a stray, broken file
    monkeypatch.chdir(tmp_path / "cwd")
    path = grid_experiment(tmp_path / "exps", "mine.toml")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0, (
        capsys.readouterr().err
    )
    assert (out / "manifest.json").is_file()


# ------------------------------------------------------------------ the design's size
NINE = "\n".join(
    f'"{path}" = {{ min = 0.0, max = 1.0 }}'
    for path in (
        "offer.funding_boost_m",
        "ministerial.pressure_step",
        "council.peer_weight_m",
        "council.cash_value",
        "council.virtual_value",
        "offer.reinvest_kept_share",
        "council.savings_kept_share",
        "council.capacity_min",
        "evidence.learning_rate",
    )
)
THREE_GRID = "\n".join(
    f'"{path}" = {{ min = 0.0, max = 0.4, levels = {levels} }}'
    for path, levels in (
        ("offer.funding_boost_m", 100),
        ("council.virtual_value", 100),
        ("council.savings_rate", 20),
    )
)
SIZES = [
    # (sampler, factors, replicates, design points, refused field or None)
    ('method = "lhs"\nsamples = 200000', NINE, 1, 200_000, None),
    ('method = "lhs"\nsamples = 200001', NINE, 1, 200_001, "sampler.samples"),
    ('method = "lhs"\nsamples = 10000000', NINE, 1, 10_000_000, "sampler.samples"),
    ('method = "saltelli"\nsamples = 16384', NINE, 1, 16384 * 11, None),
    ('method = "saltelli"\nsamples = 32768', NINE, 1, 32768 * 11, "sampler.samples"),
    ('method = "saltelli"\nsamples = 8192\nsecond_order = true', NINE, 1, 8192 * 20, None),
    (
        'method = "saltelli"\nsamples = 16384\nsecond_order = true',
        NINE,
        1,
        16384 * 20,
        "sampler.samples",
    ),
    ('method = "morris"\nsamples = 20000', NINE, 1, 200_000, None),
    ('method = "morris"\nsamples = 20001', NINE, 1, 200_010, "sampler.samples"),
    ('method = "grid"', THREE_GRID, 1, 200_000, None),
    ('method = "grid"', THREE_GRID.replace("levels = 20", "levels = 21"), 1, 210_000, "factors"),
    ('method = "lhs"\nsamples = 100000', NINE, 20, 100_000, None),
    ('method = "lhs"\nsamples = 100000', NINE, 21, 100_000, "replicates"),
]


@pytest.mark.parametrize("sampler,factors,replicates,points,field", SIZES)
def test_the_design_is_bounded_by_arithmetic_before_it_is_built(
    tmp_path, monkeypatch, sampler, factors, replicates, points, field
):
    def never(self):
        raise AssertionError("the design was built")

    monkeypatch.setattr(Experiment, "raw_design", never)
    text = BASE.replace("replicates = 2", f"replicates = {replicates}")
    path = write(tmp_path, text + f"[sampler]\n{sampler}\n[factors]\n{factors}\n")
    if field is None:
        exp = load_experiment(path)
        assert exp.n_points() == points <= MAX_POINTS and exp.n_runs() <= MAX_RUNS
        return
    with pytest.raises(InputError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {field}: ") and "\n" not in message
    if field == "replicates":
        assert f"{points * replicates:,} runs; at most {MAX_RUNS:,}" in message
    else:
        assert f"{points:,} design points" in message and f"at most {MAX_POINTS:,}" in message


def test_cli_refuses_a_ten_million_point_design_in_one_line_at_once(tmp_path, capsys):
    path = write(
        tmp_path, BASE + f'[sampler]\nmethod = "lhs"\nsamples = 10000000\n[factors]\n{NINE}\n'
    )
    out = tmp_path / "out"
    started = time.perf_counter()
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: sampler.samples: the lhs design has 10,000,000" in err
    assert not out.exists()


# ------------------------------------------------------------------ scenario factor, paired
NO_BASE = "replicates = 2\nseed = 7\n[sampler]\nmethod = 'grid'\n[factors]\n"
SCENARIO_BAD = [
    ("misspelt", 'scenario = ["baseline_2011", "basline_2011"]', "did you mean 'baseline_2011'"),
    ("repeated", 'scenario = ["baseline_2011", "baseline_2011"]', "must not repeat"),
    ("not a string", 'scenario = ["baseline_2011", 3]', "expected a scenario name or path"),
    ("not a list", 'scenario = "baseline_2011"', "expected a list of scenario names"),
    ("empty", "scenario = []", "expected a list of scenario names"),
    ("missing file", 'scenario = ["nowhere/x.toml"]', "no scenario file 'nowhere/x.toml'"),
]


@pytest.mark.parametrize("label,factor,message", SCENARIO_BAD, ids=[b[0] for b in SCENARIO_BAD])
def test_a_bad_scenario_factor_names_the_file_and_factors_scenario(
    tmp_path, label, factor, message
):
    path = write(tmp_path, NO_BASE + factor + "\n")
    with pytest.raises(InputError) as caught:
        load_experiment(path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(f"{path}: factors.scenario: "), text
    assert message in text, text


def test_a_scenario_factor_replaces_the_top_level_scenario(tmp_path):
    both = write(
        tmp_path, BASE + "[sampler]\nmethod = 'grid'\n[factors]\nscenario = ['dwp_engages']\n"
    )
    with pytest.raises(InputError, match=r"exp\.toml: scenario: is also a factor"):
        load_experiment(both)
    neither = write(tmp_path, NO_BASE + '"offer.national_pooling" = [false, true]\n', "n.toml")
    with pytest.raises(InputError, match=r"n\.toml: scenario: missing"):
        load_experiment(neither)


def test_two_scenario_files_of_one_name_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text('name = "same"\n')
    (tmp_path / "b.toml").write_text('name = "same"\n')
    path = write(tmp_path, NO_BASE + 'scenario = ["a.toml", "b.toml"]\n')
    with pytest.raises(InputError, match="factors.scenario: 'b.toml' is also named 'same'"):
        load_experiment(path)


def test_scenario_factor_levels_are_names_and_each_scenario_is_loaded(tmp_path):
    (tmp_path / "mine.toml").write_text('name = "mine"\n[offer]\nfunding_boost_m = 0.25\n')
    text = NO_BASE + 'scenario = ["dwp_engages", "mine.toml"]\n"offer.national_pooling" = [true]\n'
    text += '[overrides]\n"timeline.end" = "2012-06"\n'
    exp = load_experiment(write(tmp_path, text))
    assert exp.scenario == "dwp_engages" and exp.varies_scenario
    assert exp.factors[0].levels == ("dwp_engages", "mine")
    assert [p["scenario"] for p in exp.design()] == ["dwp_engages", "mine"]
    scenarios = exp.scenarios()
    assert scenarios["mine"].values["offer.funding_boost_m"] == 0.25
    assert all(s.values["timeline.end"] == "2012-06" for s in scenarios.values())
    assert exp.summary()["factors"][0] == {
        "path": "scenario",
        "kind": "scenario",
        "levels": ["dwp_engages", "mine"],
    }


def test_paired_seeds_depend_on_the_replicate_only(tmp_path):
    factors = '"offer.national_pooling" = [false, true]\n'
    paired = experiment(tmp_path, "method = 'grid'", factors, "paired = true\n")
    plain = experiment(tmp_path, "method = 'grid'", factors)
    assert paired.paired and not plain.paired and not plain.series
    assert [paired.seed_of(i) for i in range(4)] == [run_seed(7, r) for r in (0, 1, 0, 1)]
    assert [plain.seed_of(i) for i in range(4)] == [run_seed(7, i) for i in range(4)]
    assert paired.fingerprint(paired.base_scenario()) != plain.fingerprint(plain.base_scenario())
    with pytest.raises(InputError, match=r"exp\.toml: paired: expected true or false"):
        experiment(tmp_path, "method = 'grid'", factors, "paired = 1\n")
