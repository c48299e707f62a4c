"""The workshop view: the community budgets model live in the browser (Mesa SolaraViz).

Serve it with `cbsim viz [SCENARIO]` (see `cbsim.workshop.server`) or
`solara run cbsim/workshop/app.py`, which reads the scenario from $CBSIM_SCENARIO (default
baseline_2011). The page imports the model, never the reverse. Every browser tab gets its
own model: `Page` creates it per session, so two participants never drive each other's run.
"""

from __future__ import annotations

import base64
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, cast

import solara
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import ModelController, ModelCreator
from mesa.visualization.utils import update_counter

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.scenario import available_scenarios, load_scenario
from cbsim.model.model import CommunityBudgetModel
from cbsim.outputs.figures import adoption_figure, figure_svg
from cbsim.workshop import guard
from cbsim.workshop.controls import (
    DEFAULT_SEED,
    RefusedInput,
    accepted_incentives,
    incentive_control,
    model_params,
    parse_seed,
)
from cbsim.workshop.england import england_svg, legend_html
from cbsim.workshop.history import EVENTS
from cbsim.workshop.odds import Odds, ensemble, posterior_folder, settings_key
from cbsim.workshop.panels import (
    STYLE,
    action_log_html,
    departments_html,
    headline_html,
    history_html,
    incentives_html,
    money_html,
    odds_html,
)
from cbsim.workshop.server import SCENARIO_ENV, hide_solara_banner

DEFAULT_SCENARIO = "baseline_2011"
PLAY_INTERVAL_MS = 400  # a month every 0.4 s when playing: fast enough, slow enough to follow
TITLE = "cbsim: will half of England's councils develop a community budget by April 2012?"
__all__ = ["DEFAULT_SEED", "RefusedInput", "incentive_control", "model_params", "parse_seed"]

guard.install()  # every value a page sends for a widget is checked (cbsim.workshop.guard)
hide_solara_banner()  # "This website runs on Solara" would cover the chart on a projector


class TabMemory:
    """What one browser tab keeps between Resets: the seed its run was started with, and
    the one line shown above the run (a refused seed), or None."""

    def __init__(self, notice: solara.Reactive[str | None]) -> None:
        self.seed: int | None = DEFAULT_SEED
        self.notice = notice


class WorkshopModel(CommunityBudgetModel):
    """The model as SolaraViz (re)creates it when Reset is pressed.

    SolaraViz calls the class with the page's parameters as keywords: the incentives under
    their dotted paths, the seed as text from the seed box, the tab's `TabMemory`, and
    Mesa's own `scenario` object, which cbsim has no use for (its scenario is a TOML file,
    given here as `scenario_name`). What the page sent is checked first
    (`cbsim.workshop.controls`): an incentive's value is clamped into its range or, if it
    is not one the control offers, left at the scenario's. A seed that is not a bounded whole
    number is refused: with a tab, the run restarts with the tab's last seed and the tab
    shows one line saying so; without one, `RefusedInput` is raised.
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        rng: Any = DEFAULT_SEED,
        scenario: Any = None,
        tab: TabMemory | None = None,
        **values: Any,
    ) -> None:
        del scenario  # Mesa's experimental Scenario object, added by SolaraViz on Reset
        seed = _seed_for(rng, tab)
        spec = load_scenario(scenario_name)
        super().__init__(scenario=spec, rng=seed, **accepted_incentives(spec, values))


def _seed_for(text: Any, tab: TabMemory | None) -> int | None:
    """The seed to run with: the seed box's, else (refused) the tab's last, saying so."""
    try:
        seed = parse_seed(text)
    except RefusedInput as exc:
        if tab is None:
            raise
        used = "a fresh seed" if tab.seed is None else f"seed {tab.seed}"
        tab.notice.set(f"{exc}; the run restarted with {used}")
        return tab.seed
    if tab is not None:
        tab.seed = seed
        tab.notice.set(None)
    return seed


def initial_scenario() -> str:
    """The scenario the page opens with: $CBSIM_SCENARIO (name or path), else the baseline."""
    return os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO


def scenario_choices(current: str) -> dict[str, str]:
    """Scenario picker entries, name -> description: the shipped scenarios, plus `current`
    (the scenario the server was started with) when it is a file of its own. The page offers
    these and no others."""
    choices = {Path(s.path).stem: s.description for s in available_scenarios()}
    if current not in choices:
        choices[current] = load_scenario(current).description
    return choices


def _offered(start: str) -> tuple[dict[str, str], BaseException | None]:
    """The scenarios the page offers, or the error that stops it opening `start`."""
    try:
        return scenario_choices(start), None
    except Exception as exc:  # shown as one line; logged with its traceback if unexpected
        log_error(exc)
        return {}, exc


def one_line(exc: BaseException) -> str:
    """What the page shows of an error: one line, never a traceback. A refusal or bad input
    says what it is; anything else is logged on the server with its traceback
    (`log_error`) and the page says only that."""
    if isinstance(exc, CbsimError):
        text = " ".join(str(exc).split())
        return text if len(text) <= 400 else text[:397] + "..."
    return f"Something went wrong ({type(exc).__name__}); the details are in the server's log."


def log_error(exc: BaseException | None) -> None:
    """The traceback of an unexpected error, on the server's stderr (never on a page)."""
    if exc is not None and not isinstance(exc, CbsimError):
        print("cbsim viz: error in the workshop page:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
        sys.stderr.flush()


@solara.component
def ErrorLine(exc: BaseException | None, on_dismiss: Any = None) -> None:
    """An error as one line on the page (an empty line when there is none)."""
    if exc is None:
        solara.Div(classes=["cbsim-no-error"])
        return
    with solara.Row(classes=["cbsim-error"], style={"align-items": "center"}):
        solara.Div(
            children=[one_line(exc)],
            classes=["cbsim-error-text"],
            style={"color": "#b00020", "font-weight": "600", "padding": "4px"},
        )
        if on_dismiss is not None:
            solara.Button("OK", on_click=on_dismiss, small=True, text=True)


# ------------------------------------------------------------------ the stage: components
# that read Mesa's update counter, so that they redraw after every step (see the traps note)
def _figure(fig: Figure, css: str, alt: str) -> solara.Element:
    """A figure as an SVG image that scales with its panel."""
    data = base64.b64encode(figure_svg(fig).encode()).decode()
    return solara.HTML(
        tag="div",
        classes=[css],
        unsafe_innerHTML=(
            f'<img class="cbsim-figure" alt="{alt}" src="data:image/svg+xml;base64,{data}">'
        ),
    )


@solara.component
def Headline(model: CommunityBudgetModel) -> solara.Element:
    """Month, councils developing and the target, above the panels."""
    update_counter.get()  # redraw after every step
    return solara.HTML(tag="div", unsafe_innerHTML=headline_html(model))


@solara.component
def OddsAndMoney(
    model: CommunityBudgetModel, odds: solara.Reactive[Odds | None], wanted: solara.Reactive[Any]
) -> None:
    """The live odds for the sliders' settings and the money, this run's and the runs'."""
    update_counter.get()
    shown = odds.value
    fresh = shown is not None and shown.settings == wanted.value
    solara.HTML(tag="div", unsafe_innerHTML=odds_html(shown, fresh) + money_html(model, shown))


@solara.component
def Stage(model: CommunityBudgetModel, reactive_odds: solara.Reactive[Odds | None]) -> None:
    """England on a map, and the adoption chart with the odds' fan and the real history."""
    update_counter.get()
    odds = reactive_odds.value
    links, set_links = solara.use_state(False)
    with solara.Div(classes=["cbsim-stage"]):
        with solara.Div(classes=["cbsim-panel-map"]):
            edges = list(model.network.graph.edges()) if links else None
            solara.HTML(
                tag="div",
                classes=["cbsim-map"],
                unsafe_innerHTML=england_svg(model.council_list, edges),
            )
            with solara.Row(classes=["cbsim-map-foot"], style={"align-items": "center"}):
                solara.HTML(tag="div", unsafe_innerHTML=legend_html(model.council_list))
                solara.Switch(label="peer links", value=links, on_value=set_links)
        with solara.Div(classes=["cbsim-panel-adoption"]):
            fig = adoption_figure(
                model,
                title=f"Share developing a community budget, {model.month}",
                fan=odds.fan if odds is not None else None,
                events=[e.month for e in EVENTS],
                size=(6.4, 3.3),
            )
            _figure(fig, "cbsim-chart", "share of councils developing a community budget")
            solara.HTML(tag="div", unsafe_innerHTML=history_html())


@solara.component
def MoreDetail(model: CommunityBudgetModel) -> None:
    """Below the stage: the departments, the ministerial groups' actions, the incentives."""
    update_counter.get()
    with solara.Div(classes=["cbsim-more"]):
        solara.HTML(
            tag="div",
            classes=["cbsim-panel-departments"],
            unsafe_innerHTML=_titled("Whitehall departments", departments_html(model)),
        )
        solara.HTML(
            tag="div",
            classes=["cbsim-panel-log"],
            unsafe_innerHTML=_titled(
                "Ministerial groups and departments: latest actions", action_log_html(model)
            ),
        )
        solara.HTML(
            tag="div",
            classes=["cbsim-panel-incentives"],
            unsafe_innerHTML=_titled(
                "Incentives in this run (the sliders apply on Reset)", incentives_html(model)
            ),
        )


def _titled(title: str, body: str) -> str:
    return f'<div class="cbsim-panel-title">{title}</div>{body}'


@solara.component
def ScenarioPicker(scenario: solara.Reactive[str], offered: dict[str, str]) -> None:
    """Pick one of the `offered` scenarios: the page restarts with its values (sliders
    included). Any other value a page sends is ignored, whether or not such a file exists."""
    refused, set_refused = solara.use_state(0)

    def pick(name: Any) -> None:
        if isinstance(name, str) and name in offered:
            scenario.set(name)
        else:  # redraw the picker, showing the scenario still in use
            set_refused(refused + 1)

    with solara.Sidebar(), solara.Card("Scenario", classes=["cbsim-scenario-card"]):
        solara.Select(
            label="scenario", values=list(offered), value=scenario.value, on_value=pick
        ).key(f"scenario-picker-{refused}")
        solara.Text(offered[scenario.value], classes=["cbsim-scenario-description"])


@solara.component
def Workshop(scenario: str) -> None:
    """One scenario's model: the run controls (step, play/pause, reset, play speed) and the
    incentives in the sidebar (Mesa's `ModelController` and `ModelCreator`, so Reset is
    SolaraViz's), the live odds for the incentives as set, and the stage."""
    notice = solara.use_reactive(cast(str | None, None))
    tab = solara.use_memo(lambda: TabMemory(notice), dependencies=[])
    first = solara.use_memo(lambda: WorkshopModel(scenario_name=scenario), dependencies=[])
    model: solara.Reactive[WorkshopModel] = solara.use_reactive(first)
    params = solara.use_memo(lambda: {**model_params(scenario), "tab": tab}, dependencies=[])
    chosen = solara.use_reactive(cast(dict[str, Any], {}))
    play_ms = solara.use_reactive(PLAY_INTERVAL_MS)
    once = solara.use_reactive(1)  # a redraw every month
    no_threads = solara.use_reactive(False)
    odds = solara.use_reactive(cast(Odds | None, None))  # read by the panels only, so that
    wanted = solara.use_reactive(cast(Any, None))  # a slider moved redraws no sidebar
    with solara.Sidebar():
        with solara.Card("Run", classes=["cbsim-run"]):
            ModelController(
                model,
                model_parameters=chosen,
                play_interval=play_ms,
                render_interval=once,
                use_threads=no_threads,
            )
            solara.SliderFloat(
                "play speed (seconds a month)",
                value=play_ms.value / 1000,
                min=0.1,
                max=2.0,
                step=0.1,
                on_value=lambda s: play_ms.set(int(round(float(s) * 1000))),
            )
        with solara.Card("Incentives", classes=["cbsim-controls"]):
            ModelCreator(model, params, model_parameters=chosen)
    shown = RefusedInput(notice.value) if notice.value else None
    ErrorLine(shown, on_dismiss=lambda: notice.set(None))  # always drawn: the run keeps its place
    OddsWorker(scenario, params, chosen, odds, wanted)
    Headline(model.value)
    OddsAndMoney(model.value, odds, wanted)
    Stage(model.value, odds)
    MoreDetail(model.value)


@solara.component
def OddsWorker(
    scenario: str,
    params: dict[str, Any],
    chosen: solara.Reactive[dict[str, Any]],
    odds: solara.Reactive[Odds | None],
    wanted: solara.Reactive[Any],
) -> None:
    """Computes the odds for the controls as set, in a background thread, whenever they
    change; a computation overtaken by a newer change is dropped (`ensemble`'s cancel)."""
    posterior = solara.use_memo(posterior_folder, dependencies=[])
    settings = odds_settings(scenario, params, chosen.value)

    def compute(cancel: threading.Event) -> Odds | None:
        return ensemble(scenario, settings, posterior, cancel=cancel)

    result = solara.use_thread(compute, dependencies=[settings], intrusive_cancel=False)
    solara.use_effect(lambda: wanted.set(settings), [settings])

    def publish() -> None:
        if result.value is not None:
            odds.set(result.value)

    solara.use_effect(publish, [result.value])
    if result.error is not None:
        log_error(result.error)
        ErrorLine(result.error)


def odds_settings(
    scenario: str, params: dict[str, Any], chosen: dict[str, Any]
) -> tuple[tuple[str, Any], ...]:
    """The incentives the odds are for: the sliders' values (before Reset), each checked as
    Reset checks it (`accepted_incentives`)."""
    values = {k: v["value"] for k, v in params.items() if isinstance(v, dict) and "value" in v}
    values.update(chosen)
    return settings_key(accepted_incentives(load_scenario(scenario), values))


@solara.component
def Page() -> None:
    """The page: a scenario picker and, for the picked scenario, the model and its panels.

    Created once per browser tab, so every tab has its own model. A scenario that cannot
    be opened (a bad $CBSIM_SCENARIO) is one line on the page, not a traceback.
    """
    start = solara.use_memo(initial_scenario, dependencies=[])
    offered, failed = solara.use_memo(lambda: _offered(start), dependencies=[])
    scenario = solara.use_reactive(start)
    shown, set_shown = solara.use_state(scenario.value)
    # SolaraViz puts its controls in the sidebar through a portal, where a new scenario's
    # sliders would inherit the old sliders' positions. So a newly picked scenario is shown
    # after one render without any Workshop, which clears the sidebar's controls.
    solara.use_effect(lambda: set_shown(scenario.value), [scenario.value])
    solara.Style(STYLE)
    solara.Title("cbsim workshop")
    if failed is not None:
        ErrorLine(failed)
        return
    ScenarioPicker(scenario, offered)
    if shown == scenario.value:
        Workshop(shown).key(f"workshop-{shown}")
    else:
        solara.Text(f"Loading {scenario.value} ...")


page = Page
