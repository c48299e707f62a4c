"""The frontier: the design points where P(target met) crosses the required level.

On a grid, the frontier is every pair of neighbouring cells (one factor one level apart, the
others equal) with P on either side of the level: ordered levels (numbers, months, stances)
are neighbours in order; boolean and other text levels (scenarios) are all neighbours of
each other. For sampled
designs (no neighbours), it is every design point whose 95% interval contains the level.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from cbsim.analysis.text import p_ci, value_text
from cbsim.inputs.reference import STANCES

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

SHOWN = 40  # rows of the report's frontier table; all are in frontier.csv
P_COLUMNS = ["design_point", "p_target", "p_target_lo", "p_target_hi", "runs", "failed"]


def level_order(column: pd.Series) -> list[Any] | None:
    """A factor's levels in their order when they have one — numbers, calendar months
    (YYYY-MM) and department stances (withhold < align < pool) — else None (booleans,
    scenarios and other text, whose levels are all neighbours of each other)."""
    levels = list(dict.fromkeys(column.dropna().tolist()))
    if pd.api.types.is_bool_dtype(column):
        return None
    if pd.api.types.is_numeric_dtype(column):
        return sorted(levels)
    if all(isinstance(v, str) and MONTH.fullmatch(v) for v in levels):
        return sorted(levels)
    if all(v in STANCES for v in levels):
        return sorted(levels, key=STANCES.index)
    return None


def is_ordered(column: pd.Series) -> bool:
    """Whether a factor's levels have an order (see `level_order`)."""
    return level_order(column) is not None


def grid_crossings(points: pd.DataFrame, factors: list[str], level: float) -> pd.DataFrame:
    """One row per pair of neighbouring cells with P on either side of `level`."""
    valid = points.dropna(subset=["p_target"])
    frames = [_crossings_along(valid, factors, f, level) for f in factors]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["factor", "below_level", "above_level", "others"])
    return pd.concat(frames, ignore_index=True)


def _crossings_along(valid: pd.DataFrame, factors: list[str], factor: str, level: float):
    """The crossing pairs of cells that differ in `factor` alone."""
    others = [g for g in factors if g != factor]
    ranked = level_order(valid[factor])
    ordered = ranked is not None
    levels = ranked if ranked is not None else list(dict.fromkeys(valid[factor].tolist()))
    order = {v: i for i, v in enumerate(levels)}
    cells = valid[[*others, factor, *P_COLUMNS]].copy()
    cells["_rank"] = cells[factor].map(order)
    a, b = cells.add_suffix("_a"), cells.add_suffix("_b")
    keys_a, keys_b = [f"{g}_a" for g in others], [f"{g}_b" for g in others]
    if others:
        pairs = a.merge(b, left_on=keys_a, right_on=keys_b)
    else:
        pairs = a.merge(b, how="cross")
    step = pairs["_rank_b"] - pairs["_rank_a"]
    pairs = pairs[(step == 1) if ordered else (step > 0)]
    crosses = (pairs["p_target_a"] >= level) != (pairs["p_target_b"] >= level)
    return pd.DataFrame([_oriented(r, factor, others, level) for _, r in pairs[crosses].iterrows()])


def _oriented(pair: pd.Series, factor: str, others: list[str], level: float) -> dict:
    """A crossing pair as a row: the cell below the level first, then the one above."""
    low, high = ("a", "b") if pair["p_target_a"] < level else ("b", "a")
    row = {
        "factor": factor,
        "below_level": pair[f"{factor}_{low}"],
        "above_level": pair[f"{factor}_{high}"],
        "others": "; ".join(f"`{g}` = {value_text(pair[f'{g}_a'])}" for g in others),
    }
    for side, suffix in (("below", low), ("above", high)):
        row.update({f"{c}_{side}": pair[f"{c}_{suffix}"] for c in P_COLUMNS})
        for c in ("design_point", "runs", "failed"):
            row[f"{c}_{side}"] = int(row[f"{c}_{side}"])
    return row


def straddling_points(points: pd.DataFrame, level: float) -> pd.DataFrame:
    """Design points whose 95% interval contains `level`, closest to it first."""
    inside = (points["p_target_lo"] <= level) & (points["p_target_hi"] >= level)
    part = points[inside].copy()
    part["_distance"] = (part["p_target"] - level).abs()
    return part.sort_values(["_distance", "design_point"]).drop(columns="_distance")


def frontier_points(table: pd.DataFrame, grid: bool) -> set[int]:
    """The design points on the frontier (either side of a crossing pair, or straddling)."""
    if table.empty:
        return set()
    if grid:
        return {int(p) for p in table["design_point_below"]} | {
            int(p) for p in table["design_point_above"]
        }
    return {int(p) for p in table["design_point"]}


def _p_cell(row: pd.Series, side: str) -> str:
    n = int(row[f"runs_{side}"] - row[f"failed_{side}"])
    text = p_ci(row[f"p_target_{side}"], row[f"p_target_lo_{side}"], row[f"p_target_hi_{side}"], n)
    return f"{text} (point {int(row[f'design_point_{side}'])})"


def grid_lines(table: pd.DataFrame, points: pd.DataFrame, level: float) -> list[str]:
    """The frontier of a grid: the crossing pairs, as a table."""
    if table.empty:
        return [_no_crossing(points, level)]
    unsure = (table["p_target_hi_below"] >= level) & (table["p_target_lo_above"] <= level)
    lines = [
        f"{len(table):,} pairs of neighbouring cells (one factor one level apart, or any two "
        "levels of a factor whose levels have no order such as the scenario, the others "
        f"equal) have P on either side of {level:g}; "
        f"{len(frontier_points(table, True)):,} design points take part"
        + (f" (the first {SHOWN} shown; all in `frontier.csv`)" if len(table) > SHOWN else "")
        + f". In {int(unsure.sum()):,} of the pairs both 95% intervals contain {level:g}: "
        "the cells' order is then within noise, and more replicates would place the "
        "frontier better.",
        "",
        "| factor changed | below → at or above | the other factors | P below [95% CI] "
        "| P at or above [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for _, r in table.head(SHOWN).iterrows():
        lines.append(
            f"| `{r['factor']}` | {value_text(r['below_level'])} → "
            f"{value_text(r['above_level'])} | {r['others'] or '(none)'} | "
            f"{_p_cell(r, 'below')} | {_p_cell(r, 'above')} |"
        )
    return lines


def sampled_lines(table: pd.DataFrame, points: pd.DataFrame, level: float, reps: int) -> list[str]:
    """The frontier of a sampled design: the points whose interval contains the level."""
    if table.empty:
        return [_no_crossing(points, level)]
    lines = [
        f"{len(table):,} of {len(points):,} design points have a 95% interval that contains "
        f"{level:g}: P could be on either side of the level there"
        + (
            f" (the {SHOWN} closest to it shown; all in `frontier.csv`)"
            if len(table) > SHOWN
            else ""
        )
        + "."
    ]
    if reps < 10:
        lines[0] += (
            f" With {reps} run{'s' if reps > 1 else ''} per design point each point's interval "
            "is wide; the PRIM boxes below locate the frontier over many points at once."
        )
    lines += ["", "| point | P(target met) [95% CI] |", "|---|---|"]
    for _, r in table.head(SHOWN).iterrows():
        n = int(r["runs"] - r["failed"])
        p_text = p_ci(r["p_target"], r["p_target_lo"], r["p_target_hi"], n)
        lines.append(f"| {int(r['design_point'])} | {p_text} |")
    return lines


def _no_crossing(points: pd.DataFrame, level: float) -> str:
    """Why there is no frontier: P is on one side of the level everywhere."""
    p = points["p_target"].dropna()
    if p.empty:
        return "No design point has a finished run: there is no P to compare with the level."
    if (p >= level).all():
        return f"No frontier: P >= {level:g} at every design point (lowest P {p.min():.3f})."
    if (p < level).all():
        return f"No frontier: P < {level:g} at every design point (highest P {p.max():.3f})."
    above, below = int((p >= level).sum()), int((p < level).sum())
    return (
        f"No crossing to show: P >= {level:g} at {above:,} design points and below it at "
        f"{below:,}, but no pair or point qualifies under the rule above."
    )
