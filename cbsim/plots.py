"""Figures: the adoption curve against the 50% line and the target date."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def adoption_figure(timeseries: pd.DataFrame, target_share: float, target_date: str,
                    title: str = "", n_councils: int = 152) -> plt.Figure:
    """Share of authorities developing a community budget, month by month."""
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    months = list(timeseries["month"])
    x = range(len(months))
    ax.plot(x, timeseries["share_developing"], color="#1f6f8b", lw=2.2, label="developing")
    ax.plot(x, (timeseries["developing"] + timeseries["exploring"]) / n_councils,
            color="#99c4d3", lw=1.2, ls="--", label="developing or exploring")
    ax.axhline(target_share, color="#c0392b", lw=1, ls=":", label=f"target {target_share:.0%}")
    if target_date in months:
        ax.axvline(months.index(target_date), color="#7f8c8d", lw=1, ls="-.",
                   label=f"target date {target_date}")
    ticks = [i for i, m in enumerate(months) if m.endswith("-04") or m.endswith("-10")]
    ax.set_xticks(ticks, [months[i] for i in ticks], rotation=0)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"share of {n_councils} upper-tier authorities")
    ax.set_title(title or "Community budgets: adoption")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(alpha=0.25)
    fig.tight_layout()
    return fig


def figure_png(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes (then closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
