"""How the report writes numbers, factor values and its Markdown tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cbsim.analysis.discovery import Box

TABLE_ALL_UP_TO = 40  # design points; above this the table shows the 10 best and 5 worst


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
def points_lines(points: pd.DataFrame, factors: list[str]) -> list[str]:
    """The design points table (every point, or the 10 best and 5 worst of a large design)."""
    shown = points
    lines = []
    if len(points) > TABLE_ALL_UP_TO:
        ranked = points.sort_values(["p_target", "share_mean"], ascending=False)
        shown = pd.concat([ranked.head(10), ranked.tail(5)])
        lines += [
            f"The 10 design points most likely to meet the target and the 5 least "
            f"likely, of {len(points):,} (all in `design_points.csv`):",
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
        cells = [
            str(int(r["design_point"])),
            *[value_text(r[f]) for f in factors],
            str(int(r["runs"] - r["failed"]))
            + (f" (+{int(r['failed'])} failed)" if r["failed"] else ""),
            str(int(r["met"])),
            f"{prob(r['p_target'])} [{prob(r['p_target_lo'])}, {prob(r['p_target_hi'])}]",
            f"{pct(r['share_mean'])} [{pct(r['share_lo'])}, {pct(r['share_hi'])}]",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


SENSITIVITY_COLUMNS = {  # sampler method: (column, heading) of each index shown
    "morris": [("mu_star", "mu*"), ("mu_star_conf", "mu* 95% ±"), ("sigma", "sigma")],
    "saltelli": [("S1", "S1"), ("S1_conf", "S1 95% ±"), ("ST", "ST"), ("ST_conf", "ST 95% ±")],
    "lhs": [("S1", "S1"), ("S1_conf", "S1 95% ±")],
    "grid": [("S1", "main-effect share")],
}


def sensitivity_lines(table: pd.DataFrame, method: str) -> list[str]:
    """One table of sensitivity indices per outcome."""
    cols = SENSITIVITY_COLUMNS.get(method, SENSITIVITY_COLUMNS["grid"])
    lines = []
    for outcome in dict.fromkeys(table["outcome"]):
        part = table[table["outcome"] == outcome]
        lines += [
            f"**{outcome}**",
            "",
            "| factor | " + " | ".join(c[1] for c in cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        if all(c[0] not in part or part[c[0]].isna().all() for c in cols):
            lines += [f"| (no variation in {outcome}) |" + " |" * len(cols), ""]
            continue
        for _, r in part.iterrows():
            lines.append(
                f"| `{r['factor']}` | " + " | ".join(num3(r.get(c[0])) for c in cols) + " |"
            )
        lines.append("")
    return lines


def prim_lines(boxes: list[Box]) -> list[str]:
    """What PRIM's boxes mean, then each box: its statistics and restricted factors."""
    lines = [
        f"Runs that meet the target, explained by the factors (EMA Workbench PRIM). "
        f"Coverage: share of all target-meeting runs that fall in the box; density: "
        f"share of the runs in the box that meet the target. The box shown is the point "
        f"of PRIM's peeling trajectory with the most coverage at density >= "
        f"{boxes[0]['threshold']:.3g} (0.8, or halfway from the overall rate to 1 if "
        f"that is higher); a second box, if any, is found among the runs outside the "
        f"first.",
        "",
    ]
    for b in boxes:
        lines += [
            f"**Box {b['box']}**: coverage {b['coverage']:.3f}, density "
            f"{b['density']:.3f}, mass {b['mass']:.3f} ({b['runs_in_box']:,} runs, "
            f"{b['met_in_box']:,} meeting the target)",
            "",
        ]
        if not b["restrictions"]:
            lines += ["No restriction: the whole space.", ""]
            continue
        lines += ["| factor | in the box | sampled range |", "|---|---|---|"]
        lines += [f"| `{r['factor']}` | {r['box']} | {r['full']} |" for r in b["restrictions"]]
        lines.append("")
    return lines
