"""Scenario discovery: every PRIM route (EMA Workbench) to the runs that meet the target.

PRIM is run as a covering: a box is found, the runs in it are set aside, and peeling starts
again on the runs left, so each separate route to success gets its own box. On each box's
peeling trajectory the box kept is the one with the most coverage among those with density
>= `prim_threshold` (if none reaches it, the densest). Boxes are looked for until a new box's
density falls below that threshold, the target-meeting runs left are fewer than
`LEFT_COVERAGE_STOP` of them all, no runs are left, or `PRIM_MAX_BOXES` boxes were found.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, TypedDict

import pandas as pd

from cbsim.analysis.statistics import wilson_interval
from cbsim.analysis.text import level_text, num

PRIM_DENSITY = 0.8
PRIM_MAX_BOXES = 8
LEFT_COVERAGE_STOP = 0.05  # stop when fewer target-meeting runs than this share are left
MASS_MIN = 0.05  # EMA Workbench's default smallest box (share of all runs) ...
MIN_BOX_RUNS = 20  # ... lowered to one design point's runs (at least this many) if smaller


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
    density_lo: float  # 95% Wilson interval of the density
    density_hi: float
    threshold: float
    mass: float
    runs_in_box: int
    met_in_box: int
    runs_alone: int  # runs within the box's limits, earlier boxes' runs included
    met_alone: int
    restrictions: list[Restriction]


@dataclass
class Discovery:
    """PRIM's boxes, the first PrimBox (for its trade-off figure), and why the search
    stopped (or, with no box, why PRIM was not run)."""

    boxes: list[Box] = field(default_factory=list)
    first: Any = None
    stop: str = ""
    threshold: float = PRIM_DENSITY
    mass_min: float = MASS_MIN
    total_met: int = 0
    total_runs: int = 0


def prim_boxes(runs: pd.DataFrame, factors: list[str]) -> tuple[list[Box], Any]:
    """PRIM boxes for `target_met` over the factors, and the first PrimBox (or None)."""
    found = discover(runs, factors)
    return found.boxes, found.first


def discover(runs: pd.DataFrame, factors: list[str], replicates: int = 1) -> Discovery:
    """Every PRIM route to `target_met` over the factors that vary (see the module)."""
    ok = runs[runs["error"].isna()]
    y = ok["target_met"].astype(bool).to_numpy().astype(int)
    varying = [f for f in factors if ok[f].nunique() > 1]
    found = Discovery(total_met=int(y.sum()), total_runs=len(y))
    if len(ok) == 0:
        found.stop = "no run finished without an error"
    elif y.min() == y.max():
        found.stop = (
            f"{'every' if y.min() else 'no'} run met the target ({int(y.sum()):,} of "
            f"{len(y):,}): there is nothing to tell apart"
        )
    elif not varying:
        found.stop = "no factor varies across the runs"
    if found.stop:
        return found
    found.threshold = prim_threshold(float(y.mean()))
    found.mass_min = min(MASS_MIN, max(replicates, MIN_BOX_RUNS) / len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        x = _prim_inputs(ok, varying)
        algorithm = prim.Prim(x, y, mass_min=found.mass_min)
        _cover(algorithm, found, len(y))
    for box in found.boxes:
        inside = _inside(x, box["restrictions"])
        box["runs_alone"], box["met_alone"] = int(inside.sum()), int(y[inside].sum())
    return found


def _inside(x: pd.DataFrame, restrictions: list[Restriction]) -> Any:
    """Which rows of `x` lie within a box's limits."""
    inside = pd.Series(True, index=x.index)
    for r in restrictions:
        column = x[r["factor"]]
        if r["levels"] is not None:
            inside &= column.isin(r["levels"])
        else:
            inside &= (column >= r["low"]) & (column <= r["high"])
    return inside.to_numpy()


def _cover(algorithm: Any, found: Discovery, n: int) -> None:
    """Find boxes one after another, each among the runs outside the earlier ones."""
    left = found.total_met
    for number in range(1, PRIM_MAX_BOXES + 1):
        box = algorithm.find_box()
        if box is None:
            found.stop = "no runs are left outside the boxes"
            return
        trajectory = box.peeling_trajectory
        dense = trajectory[trajectory["density"] >= found.threshold]
        i = int(dense["coverage"].idxmax() if len(dense) else trajectory["density"].idxmax())
        box.select(i)
        found.first = found.first or box
        if number > 1 and box.density < found.threshold:
            found.stop = (
                f"the next box's density, {box.density:.3f}, is below {found.threshold:.3g}"
            )
            return
        described = _describe_box(number, box, box.box_lims[i], algorithm.box_init, found, n)
        found.boxes.append(described)
        left -= described["met_in_box"]
        if box.density < found.threshold:
            found.stop = f"even the densest box reaches only {box.density:.3f}"
            return
        if left < LEFT_COVERAGE_STOP * found.total_met:
            found.stop = (
                f"the target-meeting runs left outside the boxes, {left:,} of "
                f"{found.total_met:,}, are fewer than {LEFT_COVERAGE_STOP:.0%} of them"
            )
            return
    found.stop = f"{PRIM_MAX_BOXES} boxes is the most looked for"


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
            "density_lo": b["density_lo"],
            "density_hi": b["density_hi"],
            "mass": b["mass"],
            "runs_in_box": b["runs_in_box"],
            "met_in_box": b["met_in_box"],
            "runs_alone": b["runs_alone"],
            "met_alone": b["met_alone"],
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
    number: int, box: Any, limits: pd.DataFrame, box_init: pd.DataFrame, found: Discovery, n: int
) -> Box:
    """A box's statistics (counted on its runs: those outside earlier boxes) and its
    restricted dimensions (limits that differ from the data's)."""
    runs_in_box = len(box.yi)
    met_in_box = int(box.prim.y[box.yi].sum())
    lo, hi = wilson_interval(met_in_box, runs_in_box)
    return {
        "box": number,
        "coverage": met_in_box / found.total_met,
        "density": met_in_box / runs_in_box if runs_in_box else float("nan"),
        "density_lo": lo,
        "density_hi": hi,
        "threshold": float(found.threshold),
        "mass": runs_in_box / n,
        "runs_in_box": runs_in_box,
        "met_in_box": met_in_box,
        "runs_alone": runs_in_box,
        "met_alone": met_in_box,
        "restrictions": _restrictions(limits, box_init),
    }


def _restrictions(limits: pd.DataFrame, box_init: pd.DataFrame) -> list[Restriction]:
    """The factors whose limits in the box differ from the sampled ones."""
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
    return restrictions
