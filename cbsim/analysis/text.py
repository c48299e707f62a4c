"""How the report writes numbers, factor values and its Markdown tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

TABLE_ALL_UP_TO = 40  # design points; above this the table shows the 10 best, 5 worst ...
FRONTIER_ROWS = 30  # ... and at most this many frontier points


# ------------------------------------------------------------------------ values
def num(value: Any) -> str:
    """A number to 4 significant figures."""
    return f"{float(value):.4g}"


def num3(value: Any) -> str:
    """A number to 3 decimals; a dash for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.3f}"


def prob(value: float) -> str:
    """A probability to 3 decimals; a dash for a missing one."""
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def pct(value: float) -> str:
    """A share as a percentage to 1 decimal; a dash for a missing one."""
    return "–" if value is None or math.isnan(value) else f"{value:.1%}"


def p_ci(p: float, lo: float, hi: float, n: int) -> str:
    """A probability with its 95% interval, or in words why there is none."""
    if n == 0 or math.isnan(p):
        return "no P (no run finished without an error)"
    return f"{prob(p)} [{prob(lo)}, {prob(hi)}]"


def share_ci(mean: float, lo: float, hi: float, n: int) -> str:
    """A mean share with its 95% interval, or in words why there is none."""
    if n == 0 or math.isnan(mean):
        return "no mean (no run finished without an error)"
    if n == 1 or math.isnan(lo):
        return f"{pct(mean)} (one run: no interval)"
    return f"{pct(mean)} [{pct(lo)}, {pct(hi)}]"


def level_text(value: Any) -> str:
    """A factor level as text: booleans as in TOML (true, false)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def value_text(value: Any) -> str:
    """A parameter value as text: booleans as in TOML, floats to 4 significant figures."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return num(value)
    return str(value)


# ------------------------------------------------------------------------ the design
def target_text(ok: pd.DataFrame) -> str:
    """The target the successful runs `ok` were measured against."""
    if ok.empty or "target_count" not in ok:
        return "half of the authorities developing a community budget at the target date"
    count, date = int(ok["target_count"].iloc[0]), ok["target_date"].iloc[0]
    return f"at least {count} authorities developing a community budget in {date}"


def sampler_text(sampler: dict[str, Any]) -> str:
    """The sampler and its settings, e.g. ``saltelli (n 64, second_order False)``."""
    extra = ", ".join(f"{k} {v}" for k, v in sampler.items() if k != "method" and v is not None)
    return f"{sampler['method']}" + (f" ({extra})" if extra else "")


def factor_text(factor: dict[str, Any]) -> str:
    """A factor and the levels or range it was sampled over."""
    if "levels" in factor:
        return f"`{factor['path']}` in {{{', '.join(value_text(v) for v in factor['levels'])}}}"
    return f"`{factor['path']}` from {num(factor['min'])} to {num(factor['max'])}"


# ------------------------------------------------------------------------ tables
def points_lines(
    points: pd.DataFrame, factors: list[str], frontier: set[int], level: float
) -> list[str]:
    """The design points table: every point, or for a large design the 10 best, the 5 worst
    and the frontier points (those where P crosses `level`), marked †."""
    shown = points
    lines = []
    if len(points) > TABLE_ALL_UP_TO:
        ranked = points.sort_values(["p_target", "share_mean"], ascending=False)
        edge = ranked[ranked["design_point"].isin(frontier)].head(FRONTIER_ROWS)
        keep = set(ranked.head(10).index) | set(edge.index) | set(ranked.tail(5).index)
        shown = ranked[ranked.index.isin(keep)]
        more = len(frontier) - len(edge)
        lines += [
            f"Of {len(points):,} design points (all in `design_points.csv`): the 10 most likely "
            f"to meet the target, the 5 least likely and {len(edge):,} where P crosses the "
            f"required level {level:g} (marked †"
            + (f"; {more:,} more in `frontier.csv`" if more > 0 else "")
            + "), by P:",
            "",
        ]
    head = [
        "point",
        *[f"`{f}`" for f in factors],
        "runs",
        "met",
        "P(target met) [95% CI]",
        "mean share at target [95% CI]",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in shown.iterrows():
        n = int(r["runs"] - r["failed"])
        point = int(r["design_point"])
        cells = [
            str(point) + (" †" if point in frontier else ""),
            *[value_text(r[f]) for f in factors],
            str(n) + (f" (+{int(r['failed'])} failed)" if r["failed"] else ""),
            str(int(r["met"])),
            p_ci(r["p_target"], r["p_target_lo"], r["p_target_hi"], n),
            share_ci(r["share_mean"], r["share_lo"], r["share_hi"], n),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if frontier and len(points) <= TABLE_ALL_UP_TO:
        lines += ["", f"† a design point where P crosses the required level {level:g} (below)."]
    return lines


SENSITIVITY_COLUMNS = {  # sampler method: (column, heading) of each index shown
    "morris": [("mu_star", "mu*"), ("mu_star_conf", "mu* 95% ±"), ("sigma", "sigma")],
    "saltelli": [("S1", "S1"), ("S1_conf", "S1 95% ±"), ("ST", "ST"), ("ST_conf", "ST 95% ±")],
    "lhs": [("S1", "S1"), ("S1_conf", "S1 95% ±")],
    "grid": [("S1", "main-effect share"), ("S1_conf", "95% ±")],
}
NO_INTERVAL = {
    "grid": "one run at some design point: the bootstrap needs two or more runs at each",
}


def sensitivity_lines(
    table: pd.DataFrame, method: str, warnings: dict[str, str] | None = None
) -> list[str]:
    """One table of sensitivity indices per outcome (after its warning, if any)."""
    cols = SENSITIVITY_COLUMNS.get(method, SENSITIVITY_COLUMNS["grid"])
    lines = []
    for outcome in dict.fromkeys(table["outcome"]):
        part = table[table["outcome"] == outcome]
        lines += [f"**{outcome}**", ""]
        if warnings and outcome in warnings:
            lines += [warnings[outcome], ""]
        lines += [
            "| factor | " + " | ".join(c[1] for c in cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        if all(c[0] not in part or part[c[0]].isna().all() for c in cols):
            lines += [f"| (no variation in {outcome}) |" + " |" * len(cols), ""]
            continue
        missing = False
        for _, r in part.iterrows():
            cells = [_index_cell(r.get(c[0]), c[0]) for c in cols]
            missing = missing or "no interval" in cells
            lines.append(f"| `{r['factor']}` | " + " | ".join(cells) + " |")
        if missing:
            why = NO_INTERVAL.get(method, "SALib gave none for it")
            lines += ["", f"No interval: {why}."]
        lines.append("")
    return lines


def _index_cell(value: Any, column: str) -> str:
    """A sensitivity index; a missing interval in words."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no interval" if column.endswith("_conf") else "not defined"
    return f"{float(value):.3f}"
