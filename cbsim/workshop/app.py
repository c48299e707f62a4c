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
import traceback
from pathlib import Path
from typing import Any, cast

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
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
from cbsim.workshop.panels import (
    STYLE,
    action_log_html,
    council_map_figure,
    departments_html,
    headline_html,
    incentives_html,
)
from cbsim.workshop.server import SCENARIO_ENV

DEFAULT_SCENARIO = "baseline_2011"
PLAY_INTERVAL_MS = 400  # a month every 0.4 s when playing: fast enough, slow enough to follow
TITLE = "cbsim: will half of England's councils develop a community budget by April 2012?"
__all__ = ["DEFAULT_SEED", "RefusedInput", "incentive_control", "model_params", "parse_seed"]

guard.install()  # every value a page sends for a widget is checked (cbsim.workshop.guard)


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


# ------------------------------------------------------------------ panels (plain functions,
# so that SolaraViz redraws them after every step; see the traps note on custom components)
def _html(title: str, body: str, css: str) -> solara.Element:
    return solara.HTML(
        tag="div",
        classes=[css],
        unsafe_innerHTML=f'<div class="cbsim-panel-title">{title}</div>{body}',
    )


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


def CouncilMap(model: CommunityBudgetModel) -> solara.Element:
    """The councils on their peer network, by region, coloured by state."""
    return _figure(
        council_map_figure(model),
        "cbsim-panel-map",
        "councils on their peer network, coloured by state",
    )


def AdoptionCurve(model: CommunityBudgetModel) -> solara.Element:
    """The adoption curve against the target."""
    return _figure(
        adoption_figure(model),
        "cbsim-panel-adoption",
        "share of councils developing a community budget, month by month",
    )


def Departments(model: CommunityBudgetModel) -> solara.Element:
    """Each department's stance and money."""
    return _html("Whitehall departments", departments_html(model), "cbsim-panel-departments")


def ActionLog(model: CommunityBudgetModel) -> solara.Element:
    """What the ministerial groups and departments did."""
    return _html(
        "Ministerial groups and departments: latest actions",
        action_log_html(model),
        "cbsim-panel-log",
    )


def Incentives(model: CommunityBudgetModel) -> solara.Element:
    """The main incentives as this run uses them (the sliders apply on Reset)."""
    return _html(
        "Main incentives in this run (change them in the sidebar, then Reset)",
        incentives_html(model),
        "cbsim-panel-incentives",
    )


PANELS = [CouncilMap, AdoptionCurve, Departments, ActionLog, Incentives]


@solara.component
def Headline(model: CommunityBudgetModel) -> solara.Element:
    """Month, councils developing and the target, above the panels."""
    update_counter.get()  # redraw after every step
    return solara.HTML(tag="div", unsafe_innerHTML=headline_html(model))


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

    with solara.Sidebar(), solara.Card("Scenario"):
        solara.Select(
            label="scenario", values=list(offered), value=scenario.value, on_value=pick
        ).key(f"scenario-picker-{refused}")
        solara.Text(offered[scenario.value], style={"font-size": "13px", "color": "#555"})


@solara.component
def Workshop(scenario: str) -> None:
    """One scenario's model with SolaraViz's controls (step, play/pause, reset, sliders)."""
    notice = solara.use_reactive(cast(str | None, None))
    tab = solara.use_memo(lambda: TabMemory(notice), dependencies=[])
    first = solara.use_memo(lambda: WorkshopModel(scenario_name=scenario), dependencies=[])
    model: solara.Reactive[WorkshopModel] = solara.use_reactive(first)
    params = solara.use_memo(lambda: {**model_params(scenario), "tab": tab}, dependencies=[])
    shown = RefusedInput(notice.value) if notice.value else None
    ErrorLine(shown, on_dismiss=lambda: notice.set(None))  # always drawn: the run keeps its place
    Headline(model.value)
    SolaraViz(
        model, components=PANELS, model_params=params, name=TITLE, play_interval=PLAY_INTERVAL_MS
    )


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
    if failed is not None:
        ErrorLine(failed)
        return
    ScenarioPicker(scenario, offered)
    if shown == scenario.value:
        Workshop(shown).key(f"workshop-{shown}")
    else:
        solara.Text(f"Loading {scenario.value} ...")


page = Page
