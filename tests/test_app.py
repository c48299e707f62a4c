"""The workshop view without a browser: controls built from the declarations, the reset path
SolaraViz takes, the panels, and `cbsim viz`'s checks (tests/test_browser.py drives the page)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from mesa.visualization.solara_viz import _build_model_init_kwargs, _check_model_params

from cbsim.cli import main
from cbsim.inputs.errors import InputError
from cbsim.inputs.parameters import Parameter, declared
from cbsim.inputs.scenario import available_scenarios, load_scenario
from cbsim.model.model import CommunityBudgetModel
from cbsim.outputs.figures import adoption_figure
from cbsim.workshop import server as viz
from cbsim.workshop.app import (
    DEFAULT_SEED,
    RefusedInput,
    WorkshopModel,
    incentive_control,
    initial_scenario,
    model_params,
    parse_seed,
    scenario_choices,
)
from cbsim.workshop.england import england_svg, legend_html, project
from cbsim.workshop.history import EVENTS
from cbsim.workshop.odds import ensemble
from cbsim.workshop.panels import (
    action_log_html,
    departments_html,
    headline_html,
    history_html,
    incentives_html,
    main_incentives,
    money_html,
    odds_html,
)

SCENARIOS = [s.name for s in available_scenarios()]


# ------------------------------------------------------------------ controls
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_control_per_main_incentive_from_its_declaration(scenario):
    params = model_params(scenario)
    spec = load_scenario(scenario)
    main = [p for p in declared().values() if p.main]
    assert main, "no parameter is declared main=True"
    assert set(params) == {"scenario_name", "rng"} | {p.path for p in main}
    for p in main:
        control = params[p.path]
        assert control["value"] == spec.values[p.path]
        if p.kind == "bool":
            assert control["type"] == "Checkbox"
        elif p.numeric:
            assert control["type"] == ("SliderFloat" if p.kind == "float" else "SliderInt")
            assert (control["min"], control["max"]) == (p.min, p.max)
            assert p.unit in control["label"]
            assert 0 < control["step"] <= (p.max - p.min) / 50
        else:
            assert control["type"] == "Select"
            assert control["value"] in control["values"]
            assert set(control["values"]) <= set(p.choices)


def test_stance_choices_never_go_below_the_departments_floor():
    assert model_params("dwp_engages")["departments.DWP.stance"]["values"] == ["pool"]
    assert model_params("baseline_2011")["departments.DWP.stance"]["values"] == [
        "withhold",
        "align",
        "pool",
    ]


def test_a_main_incentive_of_a_kind_without_a_control_is_refused():
    odd = Parameter("timeline.start", "month", "YYYY-MM", "2011-04", None, None, "x", main=True)
    with pytest.raises(ValueError, match="no control"):
        incentive_control(odd, {"timeline.start": "2011-04"})


def test_mesa_accepts_the_page_parameters():
    model = WorkshopModel(scenario_name="baseline_2011")
    _check_model_params(model, model_params("baseline_2011"))  # what SolaraViz checks


def test_reset_as_solaraviz_does_it_applies_the_slider_values():
    """Reset: SolaraViz calls the model's class with the inputs' values and Mesa's own
    scenario object (mesa.visualization.solara_viz.ModelController.do_reset)."""
    params = model_params("baseline_2011")
    values = {k: (v["value"] if isinstance(v, dict) else v) for k, v in params.items()}
    values["offer.funding_boost_m"] = 2.5
    values["offer.national_pooling"] = True
    model = WorkshopModel(scenario_name="baseline_2011")
    kwargs = _build_model_init_kwargs(
        model, values, add_scenario_when_empty=True, require_model_accepts_scenario=True
    )
    assert "scenario" in kwargs  # Mesa's experimental Scenario, which the adapter drops
    restarted = type(model)(**kwargs)
    assert restarted.params["offer.funding_boost_m"] == 2.5
    assert restarted.params["offer.national_pooling"] is True
    assert restarted.scenario_name == "baseline_2011"
    reference = CommunityBudgetModel(
        scenario="baseline_2011",
        rng=DEFAULT_SEED,
        **{"offer.funding_boost_m": 2.5, "offer.national_pooling": True},
    )
    restarted.run_for(12)
    reference.run_for(12)
    assert restarted.timeseries().equals(reference.timeseries())


def test_seed_box_text():
    assert parse_seed("7") == 7
    assert parse_seed(" 42 ") == 42
    assert parse_seed(3) == 3
    assert parse_seed("") is None
    assert parse_seed(None) is None
    for refused in ("abc", True):  # refused in one line (tests/test_workshop_inputs.py)
        with pytest.raises(RefusedInput):
            parse_seed(refused)


def test_scenario_picker_lists_the_shipped_scenarios_and_a_file_of_ones_own(tmp_path, monkeypatch):
    assert set(scenario_choices("baseline_2011")) == set(SCENARIOS)
    own = tmp_path / "my_offer.toml"
    own.write_text('name = "my_offer"\ndescription = "mine"\n[offer]\nfunding_boost_m = 3.0\n')
    choices = scenario_choices(str(own))
    assert choices[str(own)] == "mine"
    monkeypatch.setenv("CBSIM_SCENARIO", str(own))
    assert initial_scenario() == str(own)
    assert WorkshopModel(scenario_name=str(own)).params["offer.funding_boost_m"] == 3.0


# ------------------------------------------------------------------ panels
@pytest.fixture(scope="module")
def stepped() -> CommunityBudgetModel:
    model = CommunityBudgetModel(scenario="baseline_2011", rng=1)
    model.run_for(13)  # to 2012-05, past the target date
    return model


def test_headline_shows_calendar_month_count_share_and_target(stepped):
    html = headline_html(stepped)
    assert '<span class="cbsim-month">2012-05</span>' in html
    assert f'<b class="cbsim-developing">{stepped.count_developing}</b> of 152' in html
    assert f"{stepped.share_developing:.0%}" in html
    assert "target: 76 by 2012-04" in html
    assert "target missed" in html  # the baseline reproduces history


def test_departments_table_has_stance_and_money_of_each(stepped):
    html = departments_html(stepped)
    for d in stepped.departments:
        assert f"<td>{d.name}</td>" in html
        assert f"{d.pooled_m:,.1f}" in html and f"{d.aligned_m:,.1f}" in html
        assert f">{d.stance}</span>" in html


def test_action_log_newest_first(stepped):
    html = action_log_html(stepped)
    assert html.count("<li") == min(len(stepped.action_log), 14)
    last = stepped.action_log[-1]
    assert (
        html.index(last["action"]) < html.index(stepped.action_log[-2]["action"])
        or last["action"] == stepped.action_log[-2]["action"]
    )
    fresh = CommunityBudgetModel(scenario="baseline_2011", rng=1)
    assert "No actions yet" in action_log_html(fresh)


def test_incentives_table_from_the_declarations(stepped):
    html = incentives_html(stepped)
    for p in main_incentives():
        assert f'data-path="{p.path}"' in html
        assert p.description.split("[")[0].strip()[:40] in html.replace("&#x27;", "'")


def test_text_from_scenario_files_is_escaped(tmp_path):
    evil = tmp_path / "evil.toml"
    evil.write_text('name = "<img src=x onerror=alert(1)>"\ndescription = "x"\n')
    model = CommunityBudgetModel(scenario=str(evil), rng=1)
    assert "<img" not in headline_html(model)
    assert "&lt;img src=x onerror=alert(1)&gt;" in headline_html(model)


def test_map_shows_every_council_at_its_centroid_coloured_by_state(stepped):
    svg = england_svg(stepped.council_list)
    assert svg.count('class="cbsim-council"') == 152 and 'data-councils="152"' in svg
    assert svg.count('class="cbsim-council-inset"') == 33  # London, magnified
    states = {c.state for c in stepped.council_list}
    assert len(states) >= 2 and all(f'data-state="{s}"' in svg for s in states)
    assert svg.count('stroke="#111" stroke-width="2"') == 28 + sum(  # pilots ringed
        1 for c in stepped.council_list if c.pilot_area and c.authority.region == "London"
    )
    assert "cbsim-links" not in svg  # peer links off unless asked for
    assert "cbsim-links" in england_svg(stepped.council_list, stepped.network.graph.edges())
    # equal-aspect projection: north is up, east is right
    newcastle = project(-1.61, 54.97)
    plymouth = project(-4.14, 50.37)
    norwich = project(1.30, 52.63)
    assert newcastle[1] < plymouth[1] and plymouth[0] < norwich[0]
    assert 0 <= min(plymouth) and max(norwich) <= 420
    legend = legend_html(stepped.council_list)
    assert f'cbsim-count-developing">{stepped.count_developing}<' in legend


def test_odds_line_money_and_history(stepped):
    odds = ensemble("baseline_2011", (("offer.funding_boost_m", 1.0),), runs=20, parallel=False)
    assert odds is not None and odds.runs == 20
    line = odds_html(odds, fresh=True)
    assert 'data-state="ready"' in line and "P(target met) = " in line
    assert "95% interval" in line and "seeds 0&ndash;19" in line
    assert 'data-state="computing"' in odds_html(odds, fresh=False)
    money = money_html(stepped, odds)
    assert "cost to the centre" in money and "to 2012-04" in money
    assert f"£{odds.mean_cost_at_target_m:,.1f}m" in money
    history = history_html()
    assert [e.month for e in EVENTS] == [
        "2011-04", "2011-05", "2011-12", "2011-12", "2012-04", "2012-06"
    ]  # fmt: skip
    assert history.count("<li") == len(EVENTS) and all(e.source for e in EVENTS)


def test_adoption_curve_with_the_odds_fan_and_the_history(stepped):
    fan = {q: [0.2 + 0.1 * q] * 24 for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
    fig = adoption_figure(stepped, fan=fan, events=[e.month for e in EVENTS])
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "median run" in labels and "this run: developing a CB" in labels
    numbers = [t.get_text() for t in ax.texts]
    assert [str(i) for i in range(1, len(EVENTS) + 1)] == [n for n in numbers if n.isdigit()]


def test_adoption_curve_has_target_line_target_date_and_current_month(stepped):
    fig = adoption_figure(stepped)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "target: 50% of 152" in labels
    assert "target date 2012-04" in labels
    assert ax.get_xlim() == (0, 23)
    assert "2012-05" in ax.get_title()
    assert "2011-04" in [t.get_text() for t in ax.get_xticklabels()]


# ------------------------------------------------------------------ cbsim viz
def test_viz_binds_loopback_by_default_and_warns_otherwise(monkeypatch, capsys):
    started = []

    class FakeServer:
        def __init__(self, command, env, **kwargs):
            started.append((command, env))

        def wait(self):
            return 0

    monkeypatch.setattr(viz.subprocess, "Popen", FakeServer)
    monkeypatch.setattr(viz, "_check_port_free", lambda host, port: port)
    assert main(["viz", "compelling_offer"]) == 0  # `cbsim viz` says where the page is
    command, env = started[-1]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8765"
    assert env["CBSIM_SCENARIO"] == "compelling_offer"
    out = capsys.readouterr()
    assert "http://127.0.0.1:8765/" in out.out
    assert "warning: listening" not in out.err

    assert main(["viz", "baseline_2011", "--host", "0.0.0.0", "--port", "9000"]) == 0
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err


def test_viz_passes_a_scenario_file_as_an_absolute_path(monkeypatch, tmp_path):
    own = tmp_path / "mine.toml"
    own.write_text('name = "mine"\n')
    started = []
    monkeypatch.setattr(
        viz.subprocess, "Popen", lambda command, env, **kw: started.append(env) or _Done()
    )
    monkeypatch.setattr(viz, "_check_port_free", lambda host, port: port)
    monkeypatch.chdir(tmp_path)
    viz.serve("mine.toml")
    assert started[-1]["CBSIM_SCENARIO"] == str(own.resolve())


class _Done:
    def wait(self):
        return 0


def test_viz_refuses_an_unknown_scenario_and_a_busy_port():
    with pytest.raises(InputError, match="unknown scenario"):
        viz.serve("baseline_2O11")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port}"):
            viz.serve("baseline_2011", port=port)
    with pytest.raises(InputError, match="not a port number"):
        viz.serve("baseline_2011", port=70000)


def test_cli_viz_bad_scenario_is_one_line_and_exit_2():
    result = subprocess.run(
        [sys.executable, "-m", "cbsim", "viz", "no_such_scenario"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown scenario" in result.stderr


def test_loopback_addresses():
    assert viz.is_loopback("127.0.0.1") and viz.is_loopback("::1")
    assert viz.is_loopback("localhost")
    assert not viz.is_loopback("0.0.0.0") and not viz.is_loopback("192.168.1.5")
    assert not viz.is_loopback("workshop.local")


def test_asset_packages_read_from_the_installed_solara():
    packages = viz.solara_asset_packages()
    names = {p.rsplit("@", 1)[0] for p in packages}
    assert {
        "requirejs",
        "@widgetti/solara-vuetify-app",
        "@widgetti/vue-grid-layout",
        "font-awesome",
    } <= names
    assert all("@" in p.lstrip("@") for p in packages)
