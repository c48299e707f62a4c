"""The workshop view's controls: built from the parameter declarations, and what the page
accepts from them.

A browser can send any value for any control (Solara's widget protocol takes what it is
sent), so what comes back from the page is checked here before a model is built: a slider's
value is clamped into its declared range, a switch takes only true or false, a choice only
one of the values offered, and the seed box only a bounded whole number (`parse_seed`).
"""

from __future__ import annotations

import math
from typing import Any

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.parameters import Parameter
from cbsim.inputs.scenario import Scenario, load_scenario
from cbsim.workshop.panels import incentive_label, main_incentives

DEFAULT_SEED = 1
SEED_MAX = 2**63 - 1  # the largest seed a sweep gives a run (`run_seed`), so any run replays
SEED_DIGITS = len(str(SEED_MAX))


class RefusedInput(CbsimError):
    """A value from the page that the view refuses; its text is the one line shown."""


def parse_seed(value: Any) -> int | None:
    """A seed from the seed box: a whole number from 0 to `SEED_MAX`, or None (a fresh seed)
    when the box is blank; `RefusedInput` (one line) for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= SEED_MAX:
        return value
    text = value.strip() if isinstance(value, str) else None
    if text == "" or value is None:
        return None
    if text is not None and text.isascii() and text.isdecimal() and len(text) <= SEED_DIGITS + 2:
        seed = int(text)  # at most 21 digits: never near int()'s 4,300-digit limit
        if seed <= SEED_MAX:
            return seed
    raise RefusedInput(
        f"random seed refused: expected a whole number from 0 to {SEED_MAX:,} "
        f"(or blank for a fresh seed), got {_shown(value)}"
    )


def _shown(value: Any) -> str:
    """A value from the page, cut short for a one-line message."""
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdecimal() and len(text) > 24:
            return f"a {len(text):,}-digit number"
        return repr(text[:24] + "...") if len(text) > 24 else repr(text)
    return f"a {type(value).__name__}"


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


def stance_choices(p: Parameter, values: dict[str, Any]) -> list[str]:
    """The stances offered for a department: never below its floor (the scenario's
    commitment)."""
    floor = values.get(p.path.removesuffix(".stance") + ".floor", p.choices[0])
    return list(p.choices[p.choices.index(floor) :])


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
        return {
            "type": "Select",
            "value": value,
            "values": stance_choices(p, values),
            "label": label,
        }
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


def accepted_value(p: Parameter, value: Any, values: dict[str, Any]) -> Any:
    """`value` for incentive `p` as the page may set it, or None when it is refused: a number
    clamped into the declared range (whole for an int), true or false for a switch, an
    offered stance for a department."""
    if p.kind == "bool":
        return value if isinstance(value, bool) else None
    if p.kind == "stance":
        return value if isinstance(value, str) and value in stance_choices(p, values) else None
    if not p.numeric or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    low, high = _range(p)
    clamped = min(max(value, low), high)
    return int(round(clamped)) if p.kind == "int" else float(clamped)


def accepted_incentives(spec: Scenario, values: dict[str, Any]) -> dict[str, Any]:
    """The main incentives' values from the page, each checked by `accepted_value`; a value
    that is refused, or a name that is not a main incentive, is left out (the scenario's own
    value stands)."""
    accepted = {}
    for p in main_incentives(spec):
        if p.path in values:
            value = accepted_value(p, values[p.path], spec.values)
            if value is not None:
                accepted[p.path] = value
    return accepted
