"""The report's figures: P(target met) by design point, on a two-factor grid, and the
sensitivity indices. (PRIM's trade-off figure is EMA Workbench's own.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cbsim.analysis.text import level_text, num
from cbsim.outputs.figures import plt


def heatmap_figure(points: pd.DataFrame, row: str, col: str, title: str) -> Figure:
    """P(target met) on a two-factor grid (averaged over any other factors)."""
    table = points.groupby([row, col])["p_target"].mean().unstack(col).sort_index(ascending=False)
    fig, ax = plt.subplots(figsize=(1.2 * len(table.columns) + 3, 0.55 * len(table) + 2), dpi=100)
    image = ax.imshow(table.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(table.columns)), [_tick(c) for c in table.columns])
    ax.set_yticks(range(len(table.index)), [_tick(r) for r in table.index])
    ax.set_xlabel(col)
    ax.set_ylabel(row)
    for (i, j), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="black")
    fig.colorbar(image, ax=ax, label="P(target met)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def sensitivity_figure(table: pd.DataFrame, method: str) -> Figure:
    """Bar chart of the sensitivity indices, one panel per outcome."""
    outcomes = list(dict.fromkeys(table["outcome"]))
    fig, axes = plt.subplots(
        1,
        len(outcomes),
        figsize=(6 * len(outcomes), 0.45 * table["factor"].nunique() + 2),
        dpi=100,
        squeeze=False,
    )
    first, second = _indices_shown(method)
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        part = table[table["outcome"] == outcome].iloc[::-1]
        y = np.arange(len(part))
        height = 0.38 if second else 0.6
        err = part.get(f"{first}_conf")
        ax.barh(
            y + (height / 2 if second else 0),
            part[first].fillna(0),
            height,
            xerr=None if err is None else err.fillna(0),
            color="#1f6f8b",
            label="main-effect share" if method == "grid" else first,
            capsize=2,
        )
        if second:
            err2 = part.get(f"{second}_conf")
            ax.barh(
                y - height / 2,
                part[second].fillna(0),
                height,
                xerr=None if err2 is None else err2.fillna(0),
                color="#e0a84f",
                label=second,
                capsize=2,
            )
        ax.set_yticks(y, part["factor"])
        ax.set_title(outcome, fontsize=10)
        ax.axvline(0, color="grey", lw=0.8)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle(f"Sensitivity ({method} design)", fontsize=11)
    fig.tight_layout()
    return fig


def points_figure(points: pd.DataFrame) -> Figure:
    """P(target met) of every design point, sorted, with Wilson intervals."""
    part = points.dropna(subset=["p_target"]).sort_values("p_target").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    x = np.arange(len(part))
    ax.fill_between(
        x,
        part["p_target_lo"],
        part["p_target_hi"],
        color="#99c4d3",
        alpha=0.6,
        step="mid",
        label="95% Wilson interval",
    )
    ax.plot(
        x, part["p_target"], color="#1f6f8b", lw=1.5, drawstyle="steps-mid", label="P(target met)"
    )
    ax.set_xlabel("design points, sorted by P(target met)")
    ax.set_ylabel("P(target met)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def _tick(level: object) -> str:
    """A grid level as a tick label: numbers to 4 significant figures; booleans as in TOML,
    stances, months and other text as they are."""
    numeric = isinstance(level, int | float | np.number) and not isinstance(level, bool | np.bool_)
    return num(level) if numeric else level_text(level)


def _indices_shown(method: str) -> tuple[str, str | None]:
    """The index drawn as the main bar and the second one beside it (if any)."""
    if method == "morris":
        return ("mu_star", "sigma")
    if method == "saltelli":
        return ("S1", "ST")
    return ("S1", None)
