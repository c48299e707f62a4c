"""Calibration: the file reader's one-line errors, the shipped calibration, a small ABC-SMC run
and its outputs, --resume, and the posterior that `cbsim run --posterior` draws from."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cbsim.calibrate import report as report_module
from cbsim.calibrate.posterior import DRAW_KEY, Posterior, load_posterior
from cbsim.calibrate.problem import TargetDistance, TargetModel, load, particle_seeds
from cbsim.calibrate.run import CalibrationInterrupted, Progress, run_calibration
from cbsim.cli import main
from cbsim.inputs.calibration import calibration_dir
from cbsim.inputs.errors import InputError
from cbsim.inputs.parameters import declared

BASE = """
description = "a test calibration"
seed = 5

[abc]
population = 20
max_generations = 2

[priors]
"council.threshold_median_m" = { dist = "uniform", min = 0.5, max = 4.0 }
"pbr.signup_speed" = { dist = "lognormal", median = 0.5, sigma = 0.8 }

[[targets]]
name = "missed"
scenario = "baseline_2011"
outcome = "share_at_target"
runs = 1
max = 0.5
source = "sources.md: test"

[[targets]]
name = "held out"
scenario = "baseline_2011"
outcome = "first_cash_month"
by = "2012-04"
runs = 1
max = 0.0
scale = 0.1
holdout = true
source = "sources.md: test"
"""


def write(tmp_path: Path, text: str = BASE, name: str = "cal.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# ------------------------------------------------------------------ the reader
BAD = [  # (replace this, with this, the field named in the message, words in the message)
    (
        '"council.threshold_median_m" = {',
        '"council.threshold_mediam_m" = {',
        "priors.council.threshold_mediam_m",
        "unknown parameter",
    ),
    ("max = 4.0 }", "max = 80.0 }", "priors.council.threshold_median_m.max", "outside"),
    ("median = 0.5, sigma", "median = 12.0, sigma", "priors.pbr.signup_speed.median", "outside"),
    ('dist = "uniform"', 'dist = "normal"', "priors.council.threshold_median_m.dist", "unknown"),
    (
        '"pbr.signup_speed" = {',
        '"councils.developing_at_start" = {',
        "priors.councils.developing_at_start",
        "cannot be calibrated",
    ),
    ('outcome = "share_at_target"', 'outcome = "share_at_targt"', "targets[1].outcome", "unknown"),
    (
        'scenario = "baseline_2011"\noutcome = "share',
        'scenario = "baseline_2099"\noutcome = "share',
        "targets[1].scenario",
        "unknown scenario",
    ),
    ("runs = 1\nmax = 0.5", "runs = 1\nmin = 0.6\nmax = 0.5", "targets[1].min", "above max"),
    ('max = 0.5\nsource = "sources.md: test"\n', "max = 0.5\n", "targets[1].source", "missing"),
    ("seed = 5", "seed = 5\nseeed = 1", "seeed", "unknown key"),
    (
        "runs = 1\nmax = 0.5",
        "runs = 1\nmax = 0.5\nholdot = true",
        "targets[1].holdot",
        "unknown key",
    ),
    ("population = 20", "population = 20\ngenerations = 3", "abc.generations", "unknown key"),
    ("runs = 1\nmax = 0.5", "runs = 1\nobserved = 0.3", "targets[1].scale", "missing"),
    ('by = "2012-04"', 'by = "April 2012"', "targets[2].by", "month"),
    ('by = "2012-04"\n', "", "targets[2].by", "month"),
    ("runs = 1\nmax = 0.5", "runs = 1\nmax = 0.5\nholdout = true", "targets", "fitted"),
    ("runs = 1\nmax = 0.5", "runs = 0\nmax = 0.5", "targets[1].runs", "between"),
    ("population = 20", "population = 1", "abc.population", "between"),
    ("seed = 5", "seed = -1", "seed", "between"),
    ("seed = 5\n", "", "seed", "missing"),
    (
        "runs = 1\nmax = 0.5",
        'runs = 1\nmax = 0.5\nequals = "align"',
        "targets[1].equals",
        "not for",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "field", "words"), BAD, ids=[b[2] + ":" + b[3] for b in BAD]
)
def test_bad_calibration_file_is_one_line_exit_2_and_writes_nothing(
    tmp_path, capsys, old, new, field, words
):
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert str(path) in err and f": {field}: " in err and words in err, err
    assert not out.exists()


def test_unknown_calibration_name_and_stance_word_are_one_line(tmp_path, capsys):
    assert main(["calibrate", "histroy", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown calibration" in err and "'history'" in err
    text = BASE.replace(
        'outcome = "first_cash_month"\nby = "2012-04"',
        'outcome = "stance_DWP_final"\nequals = "aligned"',
    )
    path = write(tmp_path, text)
    assert main(["calibrate", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "targets[2].equals" in err and "withhold, align, pool" in err
    assert not (tmp_path / "o").exists()


def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys):
    path = write(tmp_path)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    for args, words in [
        (["--out", str(full)], "not empty"),
        (["--out", str(tmp_path / "new"), "--workers", "0"], "--workers"),
        (["--out", str(tmp_path / "new"), "--resume"], "no calibration to resume"),
        (["--out", str(full), "--resume"], "no calibration to resume"),
    ]:
        assert main(["calibrate", str(path), *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
    assert sorted(p.name for p in full.iterdir()) == ["keep.txt"]
    assert not (tmp_path / "new").exists()


def test_shipped_calibration_covers_the_calibrated_parameters_and_holds_one_out():
    assert (calibration_dir() / "history.toml").is_file()
    cal = load("history")
    calibrated = {p.path for p in declared().values() if p.basis == "calibrated"}
    assert set(cal.paths) == calibrated
    for prior in cal.priors:
        param = declared()[prior.path]
        assert param.min <= prior.low < prior.high <= param.max
    assert cal.holdouts and cal.fitted
    assert all(t.source.startswith("sources.md") for t in cal.targets)
    assert cal.fingerprint() == load("history").fingerprint()


def test_distance_is_zero_inside_bounds_and_squared_scaled_outside(tmp_path):
    text = BASE.replace("runs = 1\nmax = 0.5", "runs = 1\nmin = 0.2\nmax = 0.4\nscale = 0.1")
    cal = load(write(tmp_path, text))
    distance = TargetDistance(cal.fitted)
    assert distance({"missed": 0.3}) == 0.0
    assert distance({"missed": 0.6}) == pytest.approx(4.0)
    assert distance({"missed": 0.1}) == pytest.approx(1.0)
    observed = load(
        write(tmp_path, BASE.replace("runs = 1\nmax = 0.5", "observed = 0.3\nscale = 0.05"))
    )
    assert TargetDistance(observed.fitted)({"missed": 0.4}) == pytest.approx(4.0)


def test_a_particle_gets_the_same_results_wherever_it_is_evaluated(tmp_path):
    cal = load(write(tmp_path, BASE.replace("runs = 1\nmax", "runs = 3\nmax")))
    model = TargetModel(cal, cal.targets)
    particle = {"council.threshold_median_m": 1.3, "pbr.signup_speed": 0.7}
    assert model(particle) == model(dict(particle))
    assert particle_seeds(5, [1.3, 0.7], 3) == particle_seeds(5, [1.3, 0.7], 3)
    assert particle_seeds(5, [1.3, 0.7], 3) != particle_seeds(6, [1.3, 0.7], 3)
    assert particle_seeds(5, [1.3, 0.7], 3) != particle_seeds(5, [1.3, 0.70000001], 3)


# ------------------------------------------------------------------ a small calibration
def test_small_calibration_writes_every_output_and_the_cli_reports_it(tmp_path, capsys):
    path = write(tmp_path)
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "generation 1/2" in captured.err and "cal:" in captured.err
    assert "validation: held out: consistent with history" in captured.out
    names = {p.name for p in out.iterdir()}
    assert names == {
        "calibration.toml",
        "history.db",
        "manifest.json",
        "posterior.parquet",
        "report.md",
        "marginals.png",
        "pairs.png",
        "generations.png",
        "predictive.png",
    }
    table = pd.read_parquet(out / "posterior.parquet")
    assert list(table.columns) == ["weight", "council.threshold_median_m", "pbr.signup_speed"]
    assert len(table) == 20 and table["weight"].sum() == pytest.approx(1.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["seed"] == 5
    assert manifest["versions"]["pyabc"].startswith("0.13")
    assert [g["generation"] for g in manifest["generations"]] == list(
        range(1, len(manifest["generations"]) + 1)
    )
    assert all("epsilon" in g and "acceptance_rate" in g for g in manifest["generations"])
    report = (out / "report.md").read_text()
    assert "| held out | validation |" in report and "predictive.png" in report
    assert (out / "calibration.toml").read_text() == path.read_text()
    # a finished calibration is not run again
    assert main(["calibrate", str(path), "--out", str(out), "--resume"]) == 0
    assert "already done" in capsys.readouterr().out
    # and the posterior drives `cbsim run`
    run_out = tmp_path / "run"
    args = ["run", "baseline_2011", "--posterior", str(out), "--seed", "4", "--out", str(run_out)]
    assert main([*args, "--set", "pbr.signup_speed=0.9"]) == 0
    record = json.loads((run_out / "posterior.json").read_text())
    posterior = Posterior.load(out)
    assert record["particle"] == posterior.index(4) and record["sha256"] == posterior.sha256
    assert record["parameters"] == posterior.draw(4) and record["overridden"] == [
        "pbr.signup_speed"
    ]
    assert json.loads((run_out / "outcomes.json").read_text())["posterior"] == str(out)
    assert main(args[:2] + ["--seed", "4", "--out", str(run_out), "--force"]) == 0
    assert not (run_out / "posterior.json").exists()  # a run without it names no posterior


def test_a_failed_calibration_leaves_no_posterior(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the predictive check broke")

    monkeypatch.setattr(report_module, "predictive_check", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        run_calibration(write(tmp_path), out, workers=1)
    names = {p.name for p in out.iterdir()}
    assert names == {"calibration.toml", "history.db", "manifest.json"}  # no staging left
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "predictive check broke" in manifest["sessions"][-1]["error"]


# ------------------------------------------------------------------ --resume
FITTED = (
    BASE.replace("runs = 1\nmax = 0.5", "runs = 1\nobserved = 0.3\nscale = 0.05")
    .replace("max_generations = 2", "max_generations = 3")
    .replace("population = 20", "population = 15")
)


def _populations(out: Path) -> list[tuple[int, float, list[float]]]:
    import pyabc

    history = pyabc.History(
        f"sqlite:///{out / 'history.db'}",
        _id=json.loads((out / "manifest.json").read_text())["run_id"],
    )
    rows = []
    for t in range(history.max_t + 1):
        frame, _ = history.get_distribution(m=0, t=t)
        eps = float(history.get_all_populations().set_index("t").loc[t, "epsilon"])
        rows.append((t, eps, sorted(frame["council.threshold_median_m"].round(12))))
    return rows


def test_resume_continues_after_the_generations_on_record_without_redoing_them(tmp_path):
    path = write(tmp_path, FITTED)
    whole = tmp_path / "whole"
    run_calibration(path, whole, workers=1)
    assert len(_populations(whole)) == 3  # an observed value: epsilon never reaches 0

    def stop_after_first(progress: Progress) -> None:
        if progress.phase == "done" and progress.generation == 1:
            raise KeyboardInterrupt

    part = tmp_path / "part"
    with pytest.raises(CalibrationInterrupted) as stopped:
        run_calibration(path, part, workers=1, progress=stop_after_first)
    assert stopped.value.generations == 1
    manifest = json.loads((part / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and len(manifest["generations"]) == 1
    assert not (part / "posterior.parquet").exists()
    first = _populations(part)
    assert len(first) == 1

    seen: list[tuple[str, int]] = []
    summary = run_calibration(
        path, part, workers=1, resume=True, progress=lambda p: seen.append((p.phase, p.generation))
    )
    assert summary.ran == 2 and summary.generations == 3
    assert ("prior", 1) not in seen and min(g for _, g in seen) == 2  # generation 1 not redone
    resumed = _populations(part)
    assert resumed[0] == first[0]
    assert resumed == _populations(whole)  # one process: exactly the uninterrupted result
    manifest = json.loads((part / "manifest.json").read_text())
    assert [s["status"] for s in manifest["sessions"]] == ["interrupted", "done"]


def test_resume_refuses_a_changed_calibration(tmp_path, capsys):
    path = write(tmp_path, FITTED.replace("max_generations = 3", "max_generations = 1"))
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    path.write_text(path.read_text().replace("seed = 5", "seed = 6"))
    assert main(["calibrate", str(path), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different" in err


# ------------------------------------------------------------------ the posterior
def posterior_folder(tmp_path: Path, columns: dict, name: str = "post") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    pd.DataFrame(columns).to_parquet(folder / "posterior.parquet", index=False)
    return folder


def test_posterior_draw_is_reproducible_and_respects_the_weights(tmp_path):
    folder = posterior_folder(
        tmp_path,
        {"weight": [9.0, 1.0], "council.speed": [1.0, 2.0], "pbr.signup_speed": [0.3, 0.4]},
    )
    posterior = Posterior.load(folder)
    assert posterior.weights.tolist() == pytest.approx([0.9, 0.1])
    assert posterior.draw(7) == Posterior.load(folder).draw(7)
    draws = [posterior.draw(seed)["council.speed"] for seed in range(4000)]
    assert np.mean(np.array(draws) == 1.0) == pytest.approx(0.9, abs=0.02)
    assert set(posterior.draw(3)) == {"council.speed", "pbr.signup_speed"}
    # the documented rule: SeedSequence([seed, DRAW_KEY]), one uniform against the weights
    u = np.random.default_rng(np.random.SeedSequence([123, DRAW_KEY])).random()
    assert posterior.index(123) == (0 if u < 0.9 else 1)
    assert load_posterior(folder).sha256 == posterior.sha256


BAD_POSTERIORS = [
    ({"weight": [1.0], "council.sped": [1.0]}, "council.sped", "not a declared parameter"),
    ({"weight": [1.0, -1.0], "council.speed": [1.0, 2.0]}, "weight", "positive and finite"),
    ({"weight": [1.0, float("nan")], "council.speed": [1.0, 2.0]}, "weight", "positive"),
    ({"weight": [1.0, 0.0], "council.speed": [1.0, 2.0]}, "weight", "positive"),
    ({"weight": [1.0], "council.speed": [11.0]}, "council.speed", "outside the declared range"),
    ({"weight": [1.0], "council.speed": ["fast"]}, "council.speed", "not a column of numbers"),
    ({"council.speed": [1.0]}, "weight", "missing column"),
    ({"weight": [1.0]}, None, "no parameter columns"),
    ({"weight": [1.0], "network.region_links": [2]}, "network.region_links", "only float"),
]


@pytest.mark.parametrize(("columns", "field", "words"), BAD_POSTERIORS)
def test_bad_posterior_is_one_line_exit_2_and_the_run_writes_nothing(
    tmp_path, capsys, columns, field, words
):
    folder = posterior_folder(tmp_path, columns)
    out = tmp_path / "run"
    assert main(["run", "baseline_2011", "--posterior", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "posterior.parquet" in err, err
    if field:
        assert f": {field}: " in err
    assert not out.exists()


def test_missing_or_damaged_posterior_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    empty = tmp_path / "empty"
    empty.mkdir()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "posterior.parquet").write_bytes(b"not parquet at all")
    for folder, words in [
        (tmp_path / "nowhere", "no such folder"),
        (empty, "not the folder of a finished calibration"),
        (damaged, "not a readable Parquet file"),
    ]:
        assert main(["run", "baseline_2011", "--posterior", str(folder), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
    assert not out.exists()
    with pytest.raises(InputError):
        Posterior.load(empty)


def test_interrupted_while_writing_the_outputs_resume_only_writes_them(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    path = write(tmp_path)
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(report_module, "predictive_check", interrupted)
        with pytest.raises(CalibrationInterrupted):
            run_calibration(path, out, workers=1)
    assert not (out / "posterior.parquet").exists()
    generations = json.loads((out / "manifest.json").read_text())["generations"]
    seen: list[str] = []
    summary = run_calibration(
        path, out, workers=1, resume=True, progress=lambda p: seen.append(p.phase)
    )
    assert summary.ran == 0 and not seen  # epsilon had reached 0: nothing left to sample
    assert json.loads((out / "manifest.json").read_text())["generations"] == generations
    assert (out / "posterior.parquet").exists()
