"""The workshop's live odds (cbsim/workshop/odds.py): the Wilson interval, common seeds,
the same answer however the runs are split, and the calibrated mode (`--posterior`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import cbsim
from cbsim.calibrate.posterior import Posterior
from cbsim.cli import main
from cbsim.workshop import odds as live
from cbsim.workshop import server as viz
from cbsim.workshop.app import odds_settings
from cbsim.workshop.controls import model_params


def test_wilson_interval():
    assert live.wilson(0, 100) == pytest.approx((0.0, 0.037), abs=5e-4)
    assert live.wilson(94, 100) == pytest.approx((0.875, 0.972), abs=5e-4)
    low, high = live.wilson(50, 100)
    assert low < 0.5 < high and high - 0.5 == pytest.approx(0.5 - low)
    assert live.wilson(0, 0) == (0.0, 1.0)


def test_odds_are_the_kernels_runs_on_seeds_0_to_n():
    settings = (("offer.funding_boost_m", 1.0),)
    odds = live.ensemble("baseline_2011", settings, runs=12, parallel=False)
    assert odds is not None
    runs = [cbsim.simulate("baseline_2011", seed=i, **dict(settings)) for i in range(12)]
    assert odds.met == sum(r["target_met"] for r in runs)
    assert odds.mean_cost_at_target_m == pytest.approx(
        sum(r["central_cost_m_at_target"] for r in runs) / 12
    )
    assert odds.fan[0.05][0] <= odds.fan[0.5][-1] <= odds.fan[0.95][-1]
    assert len(odds.fan[0.5]) == 24 and odds.particles is None
    live._cache.clear()
    split = live.ensemble("baseline_2011", settings, runs=12, parallel=True)
    assert split is not None and (split.met, split.fan) == (odds.met, odds.fan)


def test_a_stale_computation_is_dropped():
    import threading

    cancel = threading.Event()
    cancel.set()
    settings = (("council.peer_weight_m", 0.123),)
    for parallel in (False, True):
        dropped = live.ensemble(
            "baseline_2011", settings, runs=40, parallel=parallel, cancel=cancel
        )
        assert dropped is None
    assert not any(key[1] == settings for key in live._cache)


def test_the_odds_follow_the_sliders_as_reset_would_take_them():
    params = model_params("baseline_2011")
    assert dict(odds_settings("baseline_2011", params, {}))["offer.funding_boost_m"] == 0.0
    moved = odds_settings("baseline_2011", params, {"offer.funding_boost_m": 1e300, "x": 1})
    assert dict(moved)["offer.funding_boost_m"] == 50.0 and "x" not in dict(moved)


def posterior(tmp_path: Path) -> Path:
    folder = tmp_path / "calibrated"
    folder.mkdir()
    pd.DataFrame(
        {"weight": [1.0, 3.0], "council.speed": [0.5, 2.0], "pbr.signup_speed": [0.3, 0.4]}
    ).to_parquet(folder / "posterior.parquet", index=False)
    return folder


def test_calibrated_odds_draw_run_i_from_the_posterior_with_seed_i(tmp_path):
    folder = posterior(tmp_path)
    odds = live.ensemble("baseline_2011", (), str(folder), runs=8, parallel=False)
    assert odds is not None and odds.particles == 2
    drawn = Posterior.load(folder)
    met = sum(
        cbsim.simulate("baseline_2011", seed=i, **drawn.draw(i))["target_met"] for i in range(8)
    )
    fan = [
        cbsim.simulate("baseline_2011", seed=i, **drawn.draw(i))["final_share"] for i in range(8)
    ]
    assert odds.met == met
    assert odds.fan[0.5][-1] == pytest.approx(pd.Series(fan).quantile(0.5))
    assert "odds over the calibrated posterior: 2 particles" in live_line(odds)


def live_line(odds) -> str:
    from cbsim.workshop.panels import odds_html

    return odds_html(odds, fresh=True)


class _Done:
    def wait(self, timeout=None):
        return 0


def test_viz_posterior_goes_to_the_server_in_the_environment(monkeypatch, tmp_path, capsys):
    folder = posterior(tmp_path)
    started = []
    monkeypatch.setattr(
        viz.subprocess, "Popen", lambda command, env, **kw: started.append(env) or _Done()
    )
    monkeypatch.setattr(viz, "_check_port_free", lambda host, port: port)
    assert main(["viz", "--posterior", str(folder)]) == 0
    assert started[0][viz.POSTERIOR_ENV] == str(folder.resolve())
    assert "2 particles" in capsys.readouterr().out
    assert main(["viz"]) == 0
    assert viz.POSTERIOR_ENV not in started[1]
    assert started[1]["SOLARA_THEME_SHOW_BANNER"] == "False"


def test_viz_bad_posterior_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["viz", "--posterior", str(tmp_path / "nothing"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "posterior" in err


def test_the_odds_workers_die_with_the_server():
    pool = live.pool()
    assert pool._initializer is live.exit_with_server  # exits when the server's process is gone
    assert pool._initargs == (__import__("os").getpid(),)
