"""Scenario discovery: PRIM boxes (EMA Workbench) for the runs that meet the target.

On each box's peeling trajectory the box shown is the one with the most coverage among those
with density >= 0.8 (or halfway from the overall rate to 1, if higher; if none reaches it,
the densest). A second box, if any, is looked for among the runs outside the first.
"""

from __future__ import annotations

import warnings
from typing import Any, TypedDict

import pandas as pd

from cbsim.analysis.text import level_text, num

PRIM_DENSITY = 0.8
PRIM_MAX_BOXES = 2


class Restriction(TypedDict):
    """One factor a box restricts: numeric bounds, or the categorical levels it keeps."""

    factor: str
    box: str  # the box's range or levels, as text
    full: str  # the sampled range or levels, as text
    low: float | None
    high: float | None
    levels: list[str] | None


class Box(TypedDict):
    """A PRIM box: its statistics and the factors it restricts."""

    box: int  # 1 for the first box
    coverage: float
    density: float
    threshold: float
    mass: float
    runs_in_box: int
    met_in_box: int
    restrictions: list[Restriction]


def prim_boxes(runs: pd.DataFrame, factors: list[str]) -> tuple[list[Box], Any]:
    """PRIM boxes for `target_met` over the factors (EMA Workbench), and the first box.

    On each box's peeling trajectory the box kept is the one with the most coverage among
    those whose density reaches `prim_threshold`. The first box is EMA Workbench's PrimBox
    (for its trade-off figure), or None when there is no box.
    """
    ok = runs[runs["error"].isna()]
    y = ok["target_met"].astype(bool).to_numpy().astype(int)
    varying = [f for f in factors if ok[f].nunique() > 1]
    if len(ok) == 0 or y.min() == y.max() or not varying:
        return [], None
    x = _prim_inputs(ok, varying)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        algorithm = prim.Prim(x, y, mass_min=0.05)
        threshold = prim_threshold(float(y.mean()))
        boxes: list[Box] = []
        first = None
        for number in range(1, PRIM_MAX_BOXES + 1):
            box = algorithm.find_box()
            if box is None:
                break
            first = first or box
            trajectory = box.peeling_trajectory
            dense = trajectory[trajectory["density"] >= threshold]
            i = int(dense["coverage"].idxmax() if len(dense) else trajectory["density"].idxmax())
            box.select(i)
            if number > 1 and box.density < threshold:
                break  # later boxes only when they too pick out reliable success
            boxes.append(
                _describe_box(
                    number, box, box.box_lims[i], algorithm.box_init, int(y.sum()), threshold
                )
            )
            if box.density < threshold:
                break
    return boxes, first


def prim_threshold(base_rate: float) -> float:
    """Density a PRIM box must reach: 0.8, or halfway from the base rate to 1 if higher."""
    return max(PRIM_DENSITY, (1 + base_rate) / 2)


def prim_table(boxes: list[Box]) -> pd.DataFrame:
    """One row per restricted factor of each box (one row for a box with no restriction)."""
    rows = []
    for b in boxes:
        stats_ = {
            "box": b["box"],
            "coverage": b["coverage"],
            "density": b["density"],
            "mass": b["mass"],
        }
        restrictions: list[dict[str, Any]] = [dict(r) for r in b["restrictions"]] or [{}]
        for r in restrictions:
            rows.append(
                {
                    **stats_,
                    "factor": r.get("factor"),
                    "in_box": r.get("box"),
                    "low": r.get("low"),
                    "high": r.get("high"),
                    "sampled_range": r.get("full"),
                }
            )
    return pd.DataFrame(rows)


def _prim_inputs(ok: pd.DataFrame, varying: list[str]) -> pd.DataFrame:
    """The varying factors of the runs: categorical ones (booleans, text) as text levels,
    numeric ones as floats (PRIM pastes fractional limits, also on whole-number factors)."""
    x = ok[varying].reset_index(drop=True).copy()
    for name in varying:
        if (
            x[name].dtype == bool
            or x[name].dtype == object
            or str(x[name].dtype) in ("str", "string")
        ):
            x[name] = x[name].map(level_text).astype(object)
        else:
            x[name] = x[name].astype(float)
    return x


def _describe_box(
    number: int,
    box: Any,
    limits: pd.DataFrame,
    box_init: pd.DataFrame,
    total_met: int,
    threshold: float,
) -> Box:
    """A box's statistics and its restricted dimensions (limits that differ from the data's)."""
    restrictions: list[Restriction] = []
    for name in limits.columns:
        lo, hi = limits[name].iloc[0], limits[name].iloc[1]
        full = box_init[name]
        if (lo, hi) == (full.iloc[0], full.iloc[1]):
            continue
        if isinstance(lo, set):
            restrictions.append(
                {
                    "factor": name,
                    "box": "{" + ", ".join(sorted(lo)) + "}",
                    "full": "{" + ", ".join(sorted(full.iloc[0])) + "}",
                    "low": None,
                    "high": None,
                    "levels": sorted(lo),
                }
            )
        else:
            restrictions.append(
                {
                    "factor": name,
                    "box": f"{num(lo)} to {num(hi)}",
                    "full": f"{num(full.iloc[0])} to {num(full.iloc[1])}",
                    "low": float(lo),
                    "high": float(hi),
                    "levels": None,
                }
            )
    return {
        "box": number,
        "coverage": float(box.coverage),
        "density": float(box.density),
        "threshold": float(threshold),
        "mass": float(box.mass),
        "runs_in_box": int(round(box.mass * len(box.prim.y))),
        "met_in_box": int(round(box.coverage * total_met)),
        "restrictions": restrictions,
    }
