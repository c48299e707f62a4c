"""The workshop view: the community budgets model live in the browser (Mesa SolaraViz).

Serve it with `cbsim viz [SCENARIO]` (see `cbsim.workshop.server`) or
`solara run cbsim/workshop/app.py`, which reads the scenario from $CBSIM_SCENARIO (default
baseline_2011). The page imports the model, never the reverse. Every browser tab gets its
own model: `Page` creates it per session, so two participants never drive each other's run.
"""

from __future__ import annotations

import base64
import math
import os
from pathlib import Path
from typing import Any

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from cbsim.inputs.parameters import Parameter
from cbsim.inputs.scenario import available_scenarios, load_scenario
from cbsim.model.model import CommunityBudgetModel
from cbsim.outputs.figures import adoption_figure, figure_svg
from cbsim.workshop.panels import (
    STYLE,
    action_log_html,
    council_map_figure,
    departments_html,
    headline_html,
    incentive_label,
    incentives_html,
    main_incentives,
)
from cbsim.workshop.server import SCENARIO_ENV

DEFAULT_SCENARIO = "baseline_2011"
DEFAULT_SEED = 1
PLAY_INTERVAL_MS = 400  # a month every 0.4 s when playing: fast enough, slow enough to follow
TITLE = "cbsim: will half of England's councils develop a community budget by April 2012?"


class WorkshopModel(CommunityBudgetModel):
    """The model as SolaraViz (re)creates it when Reset is pressed.

    SolaraViz calls the class with the page's parameters as keywords: the incentives under
    their dotted paths (passed on as they are), the seed as text from the seed box, and
    Mesa's own `scenario` object, which cbsim has no use for (its scenario is a TOML file,
    given here as `scenario_name`).
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        rng: Any = DEFAULT_SEED,
        scenario: Any = None,
        **values: Any,
    ) -> None:
        del scenario  # Mesa's experimental Scenario object, added by SolaraViz on Reset
        super().__init__(scenario=scenario_name, rng=parse_seed(rng), **values)


def parse_seed(value: Any) -> int | None:
    """A seed from the seed box: a whole number, or None (a fresh seed) when blank or not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdecimal() else None


def initial_scenario() -> str:
    """The scenario the page opens with: $CBSIM_SCENARIO (name or path), else the baseline."""
    return os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO


def scenario_choices(current: str) -> dict[str, str]:
    """Scenario picker entries, name -> description: the shipped scenarios, plus `current`
    when it is a file of its own."""
    choices = {Path(s.path).stem: s.description for s in available_scenarios()}
    if current not in choices:
        choices[current] = load_scenario(current).description
    return choices


def _range(p: Parameter) -> tuple[float, float]:
    """A numeric incentive's slider range: its declared bounds (a slider needs both)."""
    if p.min is None or p.max is None:
        raise ValueError(f"{p.path}: a main incentive of kind {p.kind!r} needs a min and a max")
    return p.min, p.max


def _slider_step(p: Parameter) -> float:
    """About a hundred positions over the range, on a round number (0.01, 0.02, 0.05, ...)."""
    low, high = _range(p)
    raw = (high - low) / 100
    scale = 10.0 ** math.floor(math.log10(raw))
    return next(round(f * scale, 12) for f in (1, 2, 5, 10) if f * scale >= raw * (1 - 1e-9))


def incentive_control(p: Parameter, values: dict[str, Any]) -> dict[str, Any]:
    """The SolaraViz input for one main incentive, from its declaration and the scenario."""
    value = values[p.path]
    label = incentive_label(p)
    if p.kind == "bool":
        return {"type": "Checkbox", "value": value, "label": label}
    if p.kind == "float":
        return {
            "type": "SliderFloat",
            "value": value,
            "min": p.min,
            "max": p.max,
            "step": _slider_step(p),
            "label": f"{label} ({p.unit})",
        }
    if p.kind == "int":
        low, high = _range(p)
        return {
            "type": "SliderInt",
            "value": value,
            "min": int(low),
            "max": int(high),
            "step": 1,
            "label": f"{label} ({p.unit})",
        }
    if p.kind == "stance":
        # A department never starts below its floor (the scenario's commitment).
        floor = values.get(p.path.removesuffix(".stance") + ".floor", p.choices[0])
        allowed = list(p.choices[p.choices.index(floor) :])
        return {"type": "Select", "value": value, "values": allowed, "label": label}
    raise ValueError(f"{p.path}: a main incentive of kind {p.kind!r} has no control")


def model_params(scenario: str) -> dict[str, Any]:
    """SolaraViz `model_params`: the scenario (fixed), the seed and one control per main
    incentive, built from the parameter declarations with the scenario's values."""
    spec = load_scenario(scenario)
    params: dict[str, Any] = {
        "scenario_name": scenario,
        "rng": {"type": "InputText", "value": str(DEFAULT_SEED), "label": "random seed"},
    }
    for p in main_incentives(spec):
        params[p.path] = incentive_control(p, spec.values)
    return params


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
def ScenarioPicker(scenario: solara.Reactive[str]) -> None:
    """Pick a scenario: the page restarts with its values (sliders included)."""
    choices = scenario_choices(scenario.value)
    with solara.Sidebar(), solara.Card("Scenario"):
        solara.Select(label="scenario", values=list(choices), value=scenario)
        solara.Text(choices[scenario.value], style={"font-size": "13px", "color": "#555"})


@solara.component
def Workshop(scenario: str) -> None:
    """One scenario's model with SolaraViz's controls (step, play/pause, reset, sliders)."""
    first = solara.use_memo(lambda: WorkshopModel(scenario_name=scenario), dependencies=[])
    model: solara.Reactive[WorkshopModel] = solara.use_reactive(first)
    params = solara.use_memo(lambda: model_params(scenario), dependencies=[])
    Headline(model.value)
    SolaraViz(
        model, components=PANELS, model_params=params, name=TITLE, play_interval=PLAY_INTERVAL_MS
    )


@solara.component
def Page() -> None:
    """The page: a scenario picker and, for the picked scenario, the model and its panels.

    Created once per browser tab, so every tab has its own model.
    """
    scenario = solara.use_reactive(initial_scenario())
    shown, set_shown = solara.use_state(scenario.value)
    # SolaraViz puts its controls in the sidebar through a portal, where a new scenario's
    # sliders would inherit the old sliders' positions. So a newly picked scenario is shown
    # after one render without any Workshop, which clears the sidebar's controls.
    solara.use_effect(lambda: set_shown(scenario.value), [scenario.value])
    solara.Style(STYLE)
    ScenarioPicker(scenario)
    if shown == scenario.value:
        Workshop(shown).key(f"workshop-{shown}")
    else:
        solara.Text(f"Loading {scenario.value} ...")


page = Page
