"""`cbsim search --scheduler`: the command line reaches a Dask cluster, or says in one line
that it cannot, before any run and without writing an output folder."""

from __future__ import annotations

import json

import pytest

from cbsim.cli import main
from cbsim.sweep import dask_engine

TINY = """\
description = "a tiny search for the command line"
scenario = "baseline_2011"
required_p = 0.8
runs = 12
trials = 4
seed = 3
recheck_runs = 20

[levers]
"offer.funding_boost_m" = { min = 0.0, max = 1.5, step = 0.5 }
"""


def test_an_unreachable_scheduler_is_one_line_and_no_output(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT_S", 2)
    search = tmp_path / "tiny.toml"
    search.write_text(TINY)
    out = tmp_path / "out"
    args = ["search", str(search), "--out", str(out), "--scheduler", "tcp://127.0.0.1:1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("cbsim: error: --scheduler tcp://127.0.0.1:1: ") and err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_a_search_on_a_local_cluster_gives_the_answer_of_one_process(tmp_path, capsys):
    search = tmp_path / "tiny.toml"
    search.write_text(TINY)
    answers = {}
    for name, extra in {"one": [], "dask": ["--scheduler", "local", "--workers", "2"]}.items():
        out = tmp_path / name
        main(["search", str(search), "--out", str(out), *extra])
        summary = json.loads((out / "search_summary.json").read_text())
        trials = (out / "search_trials.csv").read_text()
        answers[name] = (summary["winner"], summary["rechecks"], summary["frontier"], trials)
    assert answers["dask"] == answers["one"]
    assert "Dask LocalCluster" in capsys.readouterr().out
