"""`cbsim search`: the cheapest package of incentives reaching the required P(target met)
(docs/policy.md). A small search on a tiny lever set finds a feasible cheapest package and
re-checks it on fresh seeds; bad search files are one line, exit status 2, nothing written."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

from cbsim.cli import main
from cbsim.inputs.errors import CbsimError, InputError
from cbsim.inputs.experiment import run_seed
from cbsim.inputs.search import load_search, search_dir
from cbsim.policy.outputs import write_search
from cbsim.policy.runner import PackageRunner
from cbsim.policy.search import Candidate, frontier, run_search
from cbsim.sweep import dask_engine
from cbsim.sweep.spec import CONNECT_TIMEOUT_S

SMALL = """\
description = "a tiny search for the tests"
scenario = "baseline_2011"
required_p = 0.8
runs = 24
trials = 10
seed = 7
recheck_runs = 60

[levers]
"offer.funding_boost_m" = { min = 0.0, max = 1.5, step = 0.25 }
"offer.champions_network" = [false, true]
"""


def write(folder: Path, text: str, name: str = "small.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    search = load_search(write(folder, SMALL))
    return search, run_search(search)


def test_a_small_search_finds_a_feasible_cheapest_package_and_rechecks_it(small):
    search, result = small
    winner = result.winner
    assert winner is not None and winner.passed
    assert winner.candidate.feasible and winner.p.estimate >= 0.8
    assert winner.runs == 60 and winner.p.low <= winner.p.estimate <= winner.p.high
    # the cheapest feasible packages are re-checked in order of cost until one keeps its P
    feasible = sorted((c for c in result.candidates if c.feasible), key=lambda c: c.cost_m)
    assert [r.candidate for r in result.rechecks] == feasible[: len(result.rechecks)]
    assert all(not r.passed for r in result.rechecks[:-1]) and result.rechecks[-1] is winner
    assert winner.candidate.levers["offer.funding_boost_m"] > 0  # the base package is not enough
    # the first two trials are every lever at its most and at its least
    assert result.candidates[0].levers == {
        "offer.funding_boost_m": 1.5,
        "offer.champions_network": True,
    }
    assert result.candidates[1].levers == {
        "offer.funding_boost_m": 0.0,
        "offer.champions_network": False,
    }
    assert result.candidates[1].cost_m == 0.0 and not result.candidates[1].feasible
    assert result.trials == 10
    assert result.runs_done == 24 * len(result.candidates) + 60 * len(result.rechecks)


def test_the_frontier_keeps_only_packages_no_cheaper_one_beats():
    def c(trial, cost, p):
        return Candidate(trial, {}, p, cost, cost, cost, p >= 0.9)

    candidates = [c(0, 10, 0.5), c(1, 5, 0.6), c(2, 20, 0.95), c(3, 15, 0.4), c(4, 0, 0.0)]
    assert frontier(candidates) == (4, 1, 2)


def test_the_search_is_the_same_with_workers(small):
    search, result = small
    parallel = run_search(search, workers=2)
    assert parallel.candidates == result.candidates
    assert parallel.rechecks == result.rechecks
    assert parallel.engine == "process pool (2 workers)" and parallel.workers == 2


# ------------------------------------------------------------------ on a Dask cluster
ENGINE_KEYS = ("engine", "scheduler", "workers", "seconds")


@pytest.mark.slow
def test_the_search_is_the_same_on_a_local_dask_cluster(small, tmp_path):
    search, serial = small
    dask = run_search(search, workers=2, scheduler="local")
    assert dask.engine == "Dask LocalCluster (2 workers)" and dask.scheduler == "local"
    assert dask.candidates == serial.candidates and dask.trials == serial.trials
    assert dask.rechecks == serial.rechecks and dask.winner == serial.winner
    assert dask.frontier == serial.frontier and dask.runs_done == serial.runs_done
    # the files are the same byte for byte, but for where and how long the runs ran
    files = {}
    for name, result in (("serial", serial), ("dask", dask)):
        out = tmp_path / name
        write_search(result, out)
        summary = json.loads((out / "search_summary.json").read_text())
        engine = {key: summary.pop(key) for key in ENGINE_KEYS}
        files[name] = (
            (out / "search_trials.csv").read_bytes(),
            (out / "search_frontier.png").read_bytes(),
            summary,
            engine,
        )
    assert files["dask"][:3] == files["serial"][:3]
    assert files["dask"][3]["engine"] == "Dask LocalCluster (2 workers)"
    assert files["dask"][3]["scheduler"] == "local" and files["dask"][3]["workers"] == 2
    assert files["serial"][3]["engine"] == "in-process (1 worker)"


def test_no_scheduler_at_the_address_is_one_line_within_the_deadline(small, monkeypatch):
    search, _ = small
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT_S", 2)  # the engine's deadline, shortened
    started = time.monotonic()
    with pytest.raises(CbsimError) as caught:
        run_search(search, scheduler="tcp://127.0.0.1:1")
    took = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith("--scheduler tcp://127.0.0.1:1: ") and "\n" not in message
    assert took < 2 + 5 + 10, took  # the deadline, its grace, and importing Dask


@pytest.mark.slow
def test_no_scheduler_at_the_address_is_one_line_within_the_real_deadline(small):
    search, _ = small
    started = time.monotonic()
    with pytest.raises(CbsimError, match=r"^--scheduler tcp://127\.0\.0\.1:1: [^\n]*$"):
        run_search(search, scheduler="tcp://127.0.0.1:1")
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 5 + 15


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tls://127.0.0.1:8786", "only tcp:// addresses"),
        ("127.0.0.1:8786", "expected tcp://HOST:PORT"),
        ("tcp://127.0.0.1", "expected tcp://HOST:PORT with a port"),
    ],
)
def test_a_bad_scheduler_address_is_one_line_at_once(small, address, message):
    search, _ = small
    started = time.monotonic()
    with pytest.raises(CbsimError) as caught:
        run_search(search, scheduler=address)
    assert str(caught.value).startswith(f"--scheduler {address}: ") and message in str(caught.value)
    assert time.monotonic() - started < 5


class LostFuture:
    """A Dask future whose batch the cluster lost."""

    def result(self):
        raise RuntimeError("KilledWorker: the batch's worker died three times")


def test_a_batch_the_cluster_loses_is_one_line_naming_the_scheduler(small):
    search, _ = small
    runner = PackageRunner(search.base_scenario())
    runner.scheduler = "tcp://dask-host:8786"
    runner.engine.submit = lambda runs: LostFuture()
    with pytest.raises(CbsimError) as caught:
        runner.run({}, [1, 2, 3], [{}, {}, {}])
    assert str(caught.value) == (
        "--scheduler tcp://dask-host:8786: the Dask cluster did not return a batch of the "
        "search (RuntimeError: KilledWorker: the batch's worker died three times)"
    )


def test_cbsim_search_writes_the_frontier_and_summary(tmp_path, capsys):
    path = write(tmp_path, SMALL.replace("trials = 10", "trials = 4"))
    out = tmp_path / "out"
    assert main(["search", str(path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "small: 4 trials" in text and "cheapest package:" in text
    assert "re-checked on 60 fresh seeds" in text and "(Wilson 95%)" in text
    assert sorted(p.name for p in out.iterdir()) == [
        "search_frontier.png",
        "search_summary.json",
        "search_trials.csv",
    ]
    rows = list(csv.DictReader((out / "search_trials.csv").open()))
    assert {"offer.funding_boost_m", "p", "cost_m", "feasible", "frontier"} <= set(rows[0])
    summary = json.loads((out / "search_summary.json").read_text())
    assert summary["winner"]["runs"] == 60
    assert summary["engine"] == "in-process (1 worker)" and summary["scheduler"] is None
    assert "runs in" in text and "s on in-process (1 worker)" in text
    assert (out / "search_frontier.png").read_bytes()[:4] == b"\x89PNG"


def test_no_feasible_package_is_said_and_exit_status_1(tmp_path, capsys):
    text = SMALL.replace("max = 1.5, step = 0.25", "max = 0.1").replace("trials = 10", "trials = 3")
    assert main(["search", str(write(tmp_path, text)), "--out", str(tmp_path / "o")]) == 1
    assert "no package reached P >= 0.8" in capsys.readouterr().out
    assert (tmp_path / "o" / "search_summary.json").exists()


def test_the_shipped_searches_load():
    names = sorted(p.stem for p in search_dir().glob("*.toml"))
    assert "cheapest_package_2011" in names
    for name in names:
        search = load_search(name)
        assert search.required_p == 0.9 and search.scenario == "baseline_2011"
    levers = load_search("cheapest_package_2011").lever_paths
    assert levers == [
        "offer.funding_boost_m",
        "offer.payment_by_results",
        "offer.reinvest_savings",
        "offer.champions_network",
        "offer.national_pooling",
    ]


def test_recheck_seeds_are_fresh():
    search_seeds = {run_seed(7, i) for i in range(24)}
    fresh = {run_seed(7, 24 + i) for i in range(60)}
    assert not search_seeds & fresh


BAD = {
    "unknown key": ("trails = 3\n" + SMALL, "trails: unknown key (did you mean 'trials'?)"),
    "missing levers": (SMALL.split("[levers]")[0], "levers: missing (required)"),
    "empty levers": (SMALL.split("[levers]")[0] + "[levers]\n", "levers: expected a table"),
    "unknown lever": (SMALL.replace("offer.champions_network", "offer.champion"), "unknown"),
    "bad level": (SMALL.replace("[false, true]", '["yes"]'), "levers.offer.champions_network"),
    "bad step": (SMALL.replace("step = 0.25", "step = 0"), "levers.offer.funding_boost_m.step"),
    "wide step": (SMALL.replace("step = 0.25", "step = 5.0"), "wider than the range"),
    "range key": (SMALL.replace("step = 0.25", "levels = 3"), "levels: unknown key"),
    "out of range": (SMALL.replace("max = 1.5", "max = 99.0"), "levers.offer.funding_boost_m"),
    "p too high": (SMALL.replace("required_p = 0.8", "required_p = 1.5"), "required_p"),
    "p zero": (SMALL.replace("required_p = 0.8", "required_p = 0"), "required_p"),
    "p text": (SMALL.replace("required_p = 0.8", 'required_p = "high"'), "required_p"),
    "runs": (SMALL.replace("runs = 24", "runs = 1"), "runs: must be between"),
    "trials": (SMALL.replace("trials = 10", "trials = 0"), "trials: must be between"),
    "budget": (
        SMALL.replace("trials = 10", "trials = 10000").replace("runs = 24", "runs = 99999"),
        "at most 2,000,000",
    ),
    "objective": (SMALL + 'objective = "cost"\n', "objective"),
    "sampler": (SMALL.replace("seed = 7", 'seed = 7\nsampler = "cmaes"'), "sampler: unknown"),
    "seed": (SMALL.replace("seed = 7", "seed = -7"), "seed: must be between"),
    "scenario": (SMALL.replace('"baseline_2011"', '"nowhere"'), "unknown scenario"),
    "override twice": (
        SMALL.replace("[levers]", '[overrides]\n"offer.champions_network" = true\n\n[levers]'),
        "is also a lever",
    ),
    "bad override": (SMALL.replace("[levers]", '[overrides]\n"offer.x" = 1\n\n[levers]'), "x"),
    "not toml": ("levers = [\n", "malformed TOML"),
    "not utf-8": ("\udcff", "not UTF-8"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_search_file_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    text, named = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    out = tmp_path / "out"
    assert main(["search", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err, err
    assert str(path) in err and "Traceback" not in err
    assert not out.exists()


def test_a_missing_or_unknown_search_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["search", "no_such_search"]) == 2
    assert "unknown search" in capsys.readouterr().err
    assert main(["search", str(tmp_path / "missing.toml")]) == 2
    assert "no such search file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_with_a_posterior_every_package_runs_on_the_same_draws(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "post"
    folder.mkdir()
    table = pa.table({"weight": [1.0, 3.0], "council.peer_weight_m": [2.0, 4.0]})
    pq.write_table(table, folder / "posterior.parquet")
    path = write(tmp_path, SMALL.replace("trials = 10", "trials = 3"))
    argv = ["search", str(path), "--posterior", str(folder), "--out", str(tmp_path / "o")]
    assert main(argv) in (0, 1)
    summary = json.loads((tmp_path / "o" / "search_summary.json").read_text())
    assert summary["posterior"] == str(folder)
    from cbsim import simulate
    from cbsim.calibrate.posterior import Posterior
    from cbsim.policy.runs import common_seeds

    draw = Posterior.load(folder).draw
    result = run_search(load_search(path), draw=draw)
    for candidate in result.candidates[:2]:
        costs = [
            simulate("baseline_2011", seed=seed, **{**draw(seed), **candidate.levers})
            for seed in common_seeds(7, 24)
        ]
        assert candidate.p == np.mean([o["target_met"] for o in costs])
        assert candidate.cost_m == pytest.approx(np.mean([o["central_cost_m"] for o in costs]))


def test_errors_name_the_file_and_field():
    with pytest.raises(InputError) as caught:
        load_search(search_dir() / "no_such.toml")
    assert caught.value.field is None


@pytest.mark.slow
def test_the_shipped_search_finds_a_package_on_fresh_seeds(tmp_path):
    result = run_search(load_search("cheapest_package_2011"), workers=2)
    assert result.winner is not None and result.winner.p.estimate >= 0.9
