"""Marginals: P(target met) and the mean share at each level of one factor, pooled over the
runs at every value of the other factors (their ranges and levels as designed), with 95%
intervals (Wilson for P, Student t for the mean share).

A factor with few distinct values (a grid's levels, booleans, stances, scenarios) gets one
row per value; a factor sampled over a range gets one row per fifth of its sampled values.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cbsim.analysis.frontier import level_order
from cbsim.analysis.statistics import pooled_estimates
from cbsim.analysis.text import num, p_ci, share_ci, value_text

MAX_LEVELS = 12  # a factor with more distinct values is cut into BINS bins
BINS = 5


def marginals(ok: pd.DataFrame, factors: list[str], paired: bool = False) -> pd.DataFrame:
    """One row per factor and level (or bin) of the successful runs `ok`; with `paired`
    seeds, the intervals take the replicate as the unit (`pooled_estimates`)."""
    rows: list[dict[str, Any]] = []
    for factor in factors:
        values = ok[factor]
        if values.nunique() < 2:
            continue
        for label, index in _groups(values):
            part = ok.loc[index]
            est = pooled_estimates(part, paired)
            rows.append(
                {
                    "factor": factor,
                    "level": label,
                    "runs": len(part),
                    "met": int(part["target_met"].astype(bool).sum()),
                    "p_target": est["p"],
                    "p_target_lo": est["p_lo"],
                    "p_target_hi": est["p_hi"],
                    "share_mean": est["share"],
                    "share_lo": est["share_lo"],
                    "share_hi": est["share_hi"],
                }
            )
    return pd.DataFrame(rows)


def _groups(values: pd.Series) -> list[tuple[str, pd.Index]]:
    """The runs' index at each level of a factor (in the levels' order when they have one),
    or in each fifth of its values when it is a number with many values."""
    many = values.nunique() > MAX_LEVELS
    if many and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        bins = pd.qcut(values.astype(float), BINS, duplicates="drop")
        out = []
        for interval in bins.cat.categories:
            index = values.index[bins == interval]
            out.append((f"{num(values[index].min())} to {num(values[index].max())}", index))
        return out
    levels = level_order(values) or list(dict.fromkeys(values.tolist()))
    return [(value_text(v), values.index[values == v]) for v in levels]


def marginal_lines(table: pd.DataFrame, paired: bool = False) -> list[str]:
    """The marginals as one Markdown table per factor."""
    if table.empty:
        return ["No factor varies: there is no marginal to show."]
    lines = [
        "P(target met) and the mean share at each level of one factor (or each fifth of "
        "its sampled values), pooled over the runs at every value of the other factors as "
        "designed (see above): a marginal is an average over the other factors' ranges, "
        "not the effect of the factor at any one setting of them. "
        + (
            "Seeds are paired, so the runs of a replicate are not independent: each "
            "interval is Student t over the replicates' means."
            if paired
            else "Intervals: Wilson for P, Student t for the share."
        ),
        "",
    ]
    for factor in dict.fromkeys(table["factor"]):
        lines += [
            f"**`{factor}`**",
            "",
            "| level | runs | met | P(target met) [95% CI] | mean share at target [95% CI] |",
            "|---|---|---|---|---|",
        ]
        for _, r in table[table["factor"] == factor].iterrows():
            n = int(r["runs"])
            lines.append(
                f"| {r['level']} | {n:,} | {int(r['met']):,} | "
                f"{p_ci(r['p_target'], r['p_target_lo'], r['p_target_hi'], n)} | "
                f"{share_ci(r['share_mean'], r['share_lo'], r['share_hi'], n)} |"
            )
        lines.append("")
    return lines
