"""`cbsim run` keeps its provenance: the `--set` overrides are in outcomes.json, the summary
and the plot's title, and an existing output folder is refused unless --force."""

from __future__ import annotations

import json

import pytest

from cbsim.cli import main
from cbsim.model.simulate import simulate
from cbsim.outputs.run_files import Provenance

BOOST = ["--set", "offer.funding_boost_m=1", "--set", "offer.national_pooling=true"]


def run(*args: str) -> int:
    return main(["run", "baseline_2011", *args])


def test_overrides_are_recorded_in_outcomes_and_printed(tmp_path, capsys):
    out = tmp_path / "run"
    assert run("--seed", "4", "--out", str(out), *BOOST) == 0
    printed = capsys.readouterr().out
    assert "overrides: offer.funding_boost_m=1, offer.national_pooling=true" in printed
    written = json.loads((out / "outcomes.json").read_text())
    assert written["overrides"] == {"offer.funding_boost_m": 1.0, "offer.national_pooling": True}
    assert written["seed"] == 4 and written["posterior"] is None
    overrides = {"offer.funding_boost_m": 1.0, "offer.national_pooling": True}
    expected = simulate("baseline_2011", seed=4, **overrides)
    assert written["share_at_target"] == expected["share_at_target"]
    assert written["central_cost_m"] == expected["central_cost_m"] > 0


def test_plot_title_names_the_seed_and_every_override():
    made = Provenance(seed=4, overrides={"offer.funding_boost_m": 1.0, "offer.pbr": True})
    title = made.title("baseline_2011")
    assert title == "baseline_2011 (seed 4; offer.funding_boost_m=1, offer.pbr=true)"
    assert Provenance(seed=2).title("x") == "x (seed 2)"


def test_existing_output_folder_is_refused_and_left_as_it_was(tmp_path, capsys):
    out = tmp_path / "run"
    assert run("--seed", "4", "--out", str(out), *BOOST) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert run("--seed", "4", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and str(out) in err and "--force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_force_replaces_the_run_files_with_the_new_provenance(tmp_path):
    out = tmp_path / "run"
    assert run("--seed", "4", "--out", str(out), *BOOST) == 0
    assert run("--seed", "4", "--out", str(out), "--force") == 0
    written = json.loads((out / "outcomes.json").read_text())
    assert written["overrides"] == {}
    assert written["share_at_target"] == simulate("baseline_2011", seed=4)["share_at_target"]


def test_the_default_folder_is_refused_too_when_it_holds_a_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run("--seed", "5") == 0
    assert run("--seed", "5") == 2
    assert "out/baseline_2011-seed5" in capsys.readouterr().err


def test_an_empty_existing_folder_is_used(tmp_path):
    out = tmp_path / "mount"
    out.mkdir()
    assert run("--out", str(out)) == 0
    assert (out / "outcomes.json").is_file()


@pytest.mark.parametrize(
    "command",
    ["run", "sweep", "analyse", "compare", "search", "viz", "scenarios", "params", "calibrate"],
)
def test_every_help_page_carries_an_example(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([command, "--help"])
    assert stopped.value.code == 0
    page = capsys.readouterr().out
    examples = page.split("examples:\n", 1)[1]
    assert f"cbsim {command}" in examples


def test_default_folders_of_runs_with_other_overrides_do_not_collide(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run("--seed", "6") == 0
    assert run("--seed", "6", *BOOST) == 0
    assert run("--seed", "6", "--set", "offer.funding_boost_m=0.5") == 0
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(folders) == 3 and folders[0] == "baseline_2011-seed6"
    assert all(f.startswith("baseline_2011-seed6-") for f in folders[1:])
    assert run("--seed", "6", *BOOST) == 2  # the very same run again: refused


def test_the_default_folder_digest_is_of_the_overrides_as_applied(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spelled = ["--set", "offer.funding_boost_m=1", "--set", "offer.national_pooling=true"]
    reordered = ["--set", "offer.national_pooling=true", "--set", "offer.funding_boost_m=1.0"]
    assert run("--seed", "7", *spelled) == 0
    assert run("--seed", "7", *reordered) == 2  # the same run: the same folder, refused
    assert len(list((tmp_path / "out").iterdir())) == 1


@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_parameter_set_twice_is_refused_not_silently_the_last(tmp_path, command, capsys):
    args = ["--set", "offer.funding_boost_m=1", "--set", "offer.funding_boost_m=2"]
    extra = ["baseline_2011", "--runs", "2"] if command == "compare" else []
    status = main([command, "baseline_2011", *extra, *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "offer.funding_boost_m" in err and "twice" in err
    assert not (tmp_path / "o").exists()


def test_a_long_title_is_wrapped_to_fit_the_figure():
    from cbsim.model.model import CommunityBudgetModel
    from cbsim.outputs.figures import TITLE_WIDTH, adoption_figure

    overrides = {f"departments.{d}.stance": "pool" for d in ("DWP", "DfE", "DH", "MoJ")}
    made = Provenance(seed=1, overrides=overrides)
    model = CommunityBudgetModel(scenario="baseline_2011", rng=1)
    figure = adoption_figure(model, title=made.title("baseline_2011"))
    shown = figure.axes[0].get_title()
    assert shown.replace("\n", " ") == made.title("baseline_2011")
    assert max(len(line) for line in shown.splitlines()) <= TITLE_WIDTH < len(made.title("x"))


def test_a_boolean_in_an_error_is_spelt_as_in_toml():
    from cbsim.inputs.errors import short_repr

    assert (short_repr(True), short_repr(False), short_repr(1)) == ("true", "false", "1")
