"""Matplotlib set-up for files (Agg backend), figures as PNG or SVG, and the adoption curve
(the one figure of a run shared by `cbsim run`, the report and the workshop view)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cbsim.inputs.months import format_month  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from cbsim.model.model import CommunityBudgetModel

STATE_COLOURS = {"none": "#c9ced3", "exploring": "#f0a500", "developing": "#1f6f8b"}
TARGET_COLOUR = "#c0392b"
TITLE_WIDTH = 80  # characters a line of a figure title (a run with many --set overrides)


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes (then closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def figure_svg(fig: Figure) -> str:
    """The figure as SVG text (for an <img> that scales to its panel)."""
    buffer = io.StringIO()
    # text as text (the browser draws it, in DejaVu Sans or its own sans-serif): smaller and
    # faster than glyph outlines
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg")
    return buffer.getvalue()


def adoption_figure(
    model: CommunityBudgetModel,
    title: str | None = None,
    fan: Mapping[float, Sequence[float]] | None = None,
    events: Sequence[str] | None = None,
    size: tuple[float, float] = (6.2, 4.0),
) -> Figure:
    """Share of councils developing a community budget, month by month over the whole run,
    against the target share (50%) and the target date; the current month marked.

    The one adoption curve of cbsim: the workshop view and `cbsim run`'s adoption.png. The
    workshop adds `fan` (quantile -> share month by month over many runs: the median and the
    25-75% and 5-95% bands are drawn) and `events` (months, YYYY-MM, numbered 1, 2, ... on
    the time axis).
    """
    series = model.datacollector.model_vars
    n = len(model.council_list)
    span = model.end_index - model.start_index
    target_share = model.params["timeline.target_share"]
    target_x = model.target_index - model.start_index
    now = model.month_index - model.start_index
    fig = Figure(figsize=size, dpi=100)
    ax = fig.add_subplot()
    ax.set_autoscale_on(False)
    if fan:
        _draw_fan(ax, fan)
    if events:
        _draw_events(ax, events, model.start_index)
    x = range(len(series["share_developing"]))
    either = [(d + e) / n for d, e in zip(series["developing"], series["exploring"], strict=True)]
    ax.fill_between(
        x, series["share_developing"], either, color="#f0a500", alpha=0.25, lw=0, label="exploring"
    )
    ax.plot(
        x,
        series["share_developing"],
        color=STATE_COLOURS["developing"],
        lw=2.4,
        label="this run: developing a CB" if fan else "developing a CB",
    )
    ax.axhline(
        target_share,
        color=TARGET_COLOUR,
        lw=1.2,
        ls=":",
        label=f"target: {target_share:.0%} of {n}",
    )
    ax.axvline(
        target_x,
        color="#555555",
        lw=1,
        ls="-.",
        label=f"target date {model.params['timeline.target_date']}",
    )
    ax.plot([now], [model.share_developing], "o", color=STATE_COLOURS["developing"], ms=7)
    near_end = now > 0.75 * span  # label to the left of the marker, inside the axes
    ax.annotate(
        f"{model.month}: {model.share_developing:.0%}",
        (now, model.share_developing),
        textcoords="offset points",
        ha="right" if near_end else "left",
        xytext=(-6 if near_end else 6, -14 if model.share_developing > 0.9 else 6),
        fontsize=9,
        fontweight="bold",
    )
    ticks = [t for t in range(span + 1) if format_month(model.start_index + t)[5:] in ("04", "10")]
    ax.set_xticks(ticks, [format_month(model.start_index + t) for t in ticks], fontsize=8)
    ax.set_xlim(0, span)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    ax.set_ylabel(f"share of {n} upper-tier authorities", fontsize=9)
    ax.set_title(textwrap.fill(title or f"Adoption, {model.month}", TITLE_WIDTH), fontsize=11)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(alpha=0.25)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.92, bottom=0.09)
    return fig


def _draw_fan(ax: Axes, fan: Mapping[float, Sequence[float]]) -> None:
    """The spread of many runs: 5-95% and 25-75% bands and the median."""
    x = range(len(fan[0.5]))
    colour = "#5b8fa8"
    ax.fill_between(x, fan[0.05], fan[0.95], color=colour, alpha=0.15, lw=0, label="90% of runs")
    ax.fill_between(x, fan[0.25], fan[0.75], color=colour, alpha=0.3, lw=0, label="50% of runs")
    ax.plot(x, fan[0.5], color=colour, lw=1.2, ls="--", label="median run")


def _draw_events(ax: Axes, months: Sequence[str], start_index: int) -> None:
    """Numbered marks for real events on the time axis (their captions are beside the chart)."""
    seen: dict[int, int] = {}
    for number, month in enumerate(months, start=1):
        year, mm = (int(part) for part in month.split("-"))
        x = year * 12 + mm - 1 - start_index
        stack = seen.get(x, 0)
        seen[x] = stack + 1
        ax.axvline(x, color="#7d3c98", lw=0.8, alpha=0.5, zorder=0)
        ax.annotate(
            str(number),
            (x, 0.0),
            xytext=(0, 7 + 14 * stack),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="white",
            fontweight="bold",
            bbox={"boxstyle": "circle,pad=0.2", "fc": "#7d3c98", "ec": "none"},
        )
