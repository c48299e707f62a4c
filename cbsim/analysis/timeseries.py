"""When: the monthly series a sweep kept (``series = true``) as fan charts, and the month each
run reached a target share, with its distribution over runs.

A library for the report: `load_series` reads ``DIR/series/`` (None when the sweep kept no
series), `fan_chart` draws the median and the 50% and 90% bands over runs month by month,
`month_reached` finds each run's first month at or above a target share, and
`series_section` puts them together as the report's "## When" section.

Panels (`panel_groups`): one per design point when there are at most `MAX_PANELS`; else one
per scenario when a scenario factor varies over at most `MAX_PANELS` (9); else the design points
with the three highest and three lowest P(target met); else the whole sweep in one panel.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cbsim.analysis.statistics import wilson_interval
from cbsim.analysis.sweep_data import Sweep, load_sweep
from cbsim.analysis.text import p_ci, pct, value_text
from cbsim.inputs.errors import CbsimError
from cbsim.inputs.factors import SCENARIO_FACTOR
from cbsim.outputs.figures import TARGET_COLOUR, plt
from cbsim.sweep.manifest import read_manifest
from cbsim.sweep.series_store import check_series_part, series_parts
from cbsim.sweep.spec import RUNS_DIR

SHARE = "share_developing"
COST = "central_cost_m_to_date"
MAX_PANELS = 9
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
LABELS = {
    SHARE: "share of authorities developing a community budget",
    COST: "cost to the centre so far (£m)",
    "pooled_m_to_date": "money pooled so far (£m)",
}
BAND_COLOUR = "#1f6f8b"
SECTION_VARIABLES = (SHARE, COST, "developing")  # what the report's section reads


# ------------------------------------------------------------------------ reading
def load_series(
    sweep_dir: str | os.PathLike[str], variables: Sequence[str] | None = None
) -> pd.DataFrame | None:
    """The sweep's monthly series in long format (run_id, month as a Timestamp, month_index,
    variable as a category, value), sorted; None when the sweep kept no series. Only the
    `variables` named are read (all when None): a large sweep's series are tens of bytes a
    row in memory. Series parts whose runs part is missing (a sweep stopped between the two
    writes) are left out."""
    folder = Path(sweep_dir)
    if not read_manifest(folder).experiment.series:
        return None
    tables = [_checked_part(part, folder, variables) for part in series_parts(folder)]
    if not tables:
        frame = pd.DataFrame(columns=["run_id", "month", "month_index", "variable", "value"])
        return frame.astype({"run_id": "int64", "month_index": "int32", "value": "float64"})
    frame = pa.concat_tables(tables).to_pandas()
    frame["variable"] = frame["variable"].astype("category")
    months = frame["month"].astype("category")  # a few dozen distinct months
    dates = pd.to_datetime(months.cat.categories.astype(str), format="%Y-%m")
    frame["month"] = months.cat.rename_categories(dates).astype(dates.dtype)
    order = ["run_id", "month_index", "variable"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def _checked_part(part: Path, folder: Path, variables: Sequence[str] | None) -> pa.Table:
    """A series part, checked against its runs part of the same name (`check_series_part`:
    only run ids of that part) and holding each run's months once: a part copied over
    another by hand would otherwise count runs twice, or under another run's id."""
    check_series_part(part, folder / RUNS_DIR / part.name)
    try:
        filters = None if variables is None else [("variable", "in", list(variables))]
        table = pq.read_table(part, filters=filters)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise CbsimError(f"{part}: unreadable series part ({exc})") from None
    if table.select(["run_id", "month_index", "variable"]).to_pandas().duplicated().any():
        raise CbsimError(f"{part}: holds a run's month twice (a damaged series part)")
    return table


# ------------------------------------------------------------------------ panels
def panel_groups(runs: pd.DataFrame, factors: Sequence[str] = ()) -> tuple[pd.Series, str]:
    """Each run's panel label (indexed by run_id) and what the panels are, in words."""
    runs = runs.set_index("run_id", drop=False)
    points = runs.drop_duplicates("design_point").set_index("design_point")
    # every factor names a panel: in an incomplete sweep a factor may not vary among the
    # runs present, and leaving it out would read as an average over its levels
    varying = [f for f in factors if f in points]
    if 1 < len(points) <= MAX_PANELS:
        labels = {p: _point_label(points.loc[p], varying, p) for p in points.index}
        return runs["design_point"].map(labels), "one panel per design point"
    if SCENARIO_FACTOR in varying and 1 < points[SCENARIO_FACTOR].nunique() <= MAX_PANELS:
        return runs[SCENARIO_FACTOR].astype(str), "one panel per scenario (over the other factors)"
    if len(points) > MAX_PANELS and "target_met" in runs:
        # ranked by P, ties (common with few replicates: many points at 0 or 1) broken by
        # the mean share at the target date, so the extremes are the extremes
        by_point = runs.groupby("design_point")
        share = by_point["share_at_target"].mean() if "share_at_target" in runs else 0.0
        ranking = pd.DataFrame({"p": by_point["target_met"].mean(), "share": share})
        ranking = ranking.sort_values(["p", "share"], kind="stable")
        p = ranking["p"]
        chosen = [*p.index[-3:][::-1], *p.index[:3][::-1]]
        labels = {k: f"{_point_label(points.loc[k], varying, k)} (P = {p[k]:.2f})" for k in chosen}
        rank = runs["design_point"].map({k: i for i, k in enumerate(chosen)}).dropna()
        order = rank.sort_values(kind="stable").index  # highest P first, as `chosen`
        return runs["design_point"].map(labels).loc[order], (
            "the three design points with the highest and the three with the lowest P(target "
            "met), ties broken by the mean share at the target date"
        )
    return pd.Series("all runs", index=runs.index), "all runs in one panel"


def _point_label(point: pd.Series, varying: Sequence[str], index: int) -> str:
    if not varying:
        return f"design point {index}"
    return ", ".join(f"{f} = {value_text(point[f])}" for f in varying)


# ------------------------------------------------------------------------ the fan chart
def fan_bands(series: pd.DataFrame, groups: pd.Series, variable: str = SHARE) -> pd.DataFrame:
    """Quantiles over runs (`QUANTILES` columns), by panel label and month."""
    rows = series[(series["variable"] == variable) & series["run_id"].isin(groups.index)]
    rows = rows.assign(panel=rows["run_id"].map(groups))
    bands = rows.groupby(["panel", "month"], sort=False)["value"].quantile(np.array(QUANTILES))
    return bands.unstack()


def fan_chart(
    series: pd.DataFrame,
    runs: pd.DataFrame,
    path: str | os.PathLike[str],
    variable: str = SHARE,
    factors: Sequence[str] = (),
    target_share: float | None = None,
) -> Path:
    """Write a PNG fan chart of `variable`: the median and the 50% and 90% bands over runs,
    month by month, one panel per group of `panel_groups`; the target share (if given) as a
    line on the share chart. Failed runs (with an error) are left out."""
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    groups, _ = panel_groups(ok, factors)
    bands = fan_bands(series, groups, variable)
    panels = list(dict.fromkeys(groups))
    n = max(1, len(panels))
    cols = min(3, n)
    fig, axes = plt.subplots(
        math.ceil(n / cols),
        cols,
        figsize=(4.2 * cols, 3.0 * math.ceil(n / cols) + 0.4),
        dpi=100,
        squeeze=False,
        sharey=True,
    )
    for ax, panel in zip(axes.flat, panels, strict=False):
        _fan_panel(ax, bands.loc[panel], int((groups == panel).sum()), str(panel))
        if target_share is not None and variable == SHARE:
            ax.axhline(target_share, color=TARGET_COLOUR, linestyle="--", linewidth=1)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"{LABELS.get(variable, variable)}: median, 50% and 90% of runs", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return Path(path)


def _fan_panel(ax: plt.Axes, band: pd.DataFrame, n_runs: int, title: str) -> None:
    months = band.index.to_numpy()
    ax.fill_between(months, band[0.05], band[0.95], color=BAND_COLOUR, alpha=0.18, lw=0)
    ax.fill_between(months, band[0.25], band[0.75], color=BAND_COLOUR, alpha=0.35, lw=0)
    ax.plot(months, band[0.5], color=BAND_COLOUR, linewidth=1.6)
    ax.set_title(f"{title}\n({n_runs} runs)", fontsize=8)
    ax.tick_params(labelsize=7)
    for label in ax.get_xticklabels():
        label.set_rotation(30)


# ------------------------------------------------------------------------ the month reached
def month_reached(
    series: pd.DataFrame, runs: pd.DataFrame, target_share: float | pd.Series
) -> pd.Series:
    """Per run (indexed by run_id, the runs without an error that have a series): the first
    month its share developing reached `target_share` (a share, or one per run_id), NaT if
    it never did."""
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    share = series[(series["variable"] == SHARE) & series["run_id"].isin(ok["run_id"])]
    target = (
        share["run_id"].map(target_share)
        if isinstance(target_share, pd.Series)
        else pd.Series(float(target_share), index=share.index)
    )
    hit = share[share["value"] >= target - 1e-9]
    first = hit.groupby("run_id")["month"].min()
    ids = pd.Index(sorted(share["run_id"].unique()), name="run_id")
    return first.reindex(ids).rename("month_reached")


def run_target_shares(series: pd.DataFrame, runs: pd.DataFrame) -> pd.Series:
    """Each run's own target as a share (its target_count over its authorities), by run_id."""
    counts = series[series["variable"] == "developing"].set_index(["run_id", "month_index"])
    shares = series[series["variable"] == SHARE].set_index(["run_id", "month_index"])
    ratio = (counts["value"] / shares["value"]).replace([np.inf, -np.inf], np.nan)
    authorities = ratio.groupby(level="run_id").max().round()
    return (runs.set_index("run_id")["target_count"] / authorities).dropna()


def month_reached_table(
    reached: pd.Series, runs: pd.DataFrame, groups: pd.Series | None = None
) -> pd.DataFrame:
    """The month reached over runs, per group: runs, P(reached by the run's last month),
    P(reached by its target date, if the runs say it), and the median month with the 5th
    and 95th percentiles (`later` when beyond the runs' last month)."""
    labels = groups if groups is not None else pd.Series("all runs", index=reached.index)
    deadline = None
    if "target_date" in runs:
        dates = runs.set_index("run_id")["target_date"]
        deadline = pd.to_datetime(dates.astype(str), format="%Y-%m", errors="coerce")
    rows = []
    for label in dict.fromkeys(labels[labels.index.isin(reached.index)].dropna()):
        ids = labels.index[labels == label].intersection(reached.index)
        months = reached.loc[ids]
        row: dict[str, object] = {"group": label, "runs": len(ids)}
        row["reached"] = int(months.notna().sum())
        row["p_reached"] = float(months.notna().mean())
        if deadline is not None:
            row["by_target_date"] = int((months <= deadline.reindex(ids)).sum())
            row["p_by_target_date"] = float((months <= deadline.reindex(ids)).mean())
        for name, q in (("month_p05", 0.05), ("month_median", 0.5), ("month_p95", 0.95)):
            row[name] = _month_quantile(months, q)
        rows.append(row)
    return pd.DataFrame(rows)


def _month_quantile(months: pd.Series, q: float) -> str:
    """A quantile of months over runs, never-reached counted as later than any month."""
    if months.empty:
        return "–"
    ordinal = months.map(lambda m: np.inf if pd.isna(m) else m.year * 12 + m.month - 1)
    value = float(np.quantile(ordinal.to_numpy(dtype=float), q, method="inverted_cdf"))
    if math.isinf(value):
        return "later"
    return f"{int(value) // 12:04d}-{int(value) % 12 + 1:02d}"


def reached_curves(
    reached: pd.Series, groups: pd.Series, series: pd.DataFrame | None = None
) -> dict[str, pd.Series]:
    """P(reached by each month) per group label, as a step curve indexed by month: over the
    group's own months (from its runs' first to their last month in `series`, so that a
    scenario that starts in 2013 is not drawn as "not reached" in 2011), else over the months
    in which any run reached it."""
    spans = None if series is None else series.groupby("run_id")["month"].agg(["min", "max"])
    months = reached.dropna()
    curves = {}
    for label in dict.fromkeys(groups[groups.index.isin(reached.index)].dropna()):
        ids = groups.index[groups == label].intersection(reached.index)
        mine = reached.loc[ids]
        if spans is not None and not spans.reindex(ids).dropna().empty:
            own = spans.reindex(ids).dropna()
            axis = pd.date_range(own["min"].min(), own["max"].max(), freq="MS")
        elif not months.empty:
            axis = pd.date_range(months.min(), months.max(), freq="MS")
        else:
            continue
        p = [(mine <= month).sum() / len(mine) for month in axis]
        curves[str(label)] = pd.Series(p, index=axis, name=str(label))
    return curves


def month_reached_figure(
    reached: pd.Series,
    groups: pd.Series,
    path: str | os.PathLike[str],
    target: str,
    deadline: str | None = None,
    series: pd.DataFrame | None = None,
    own_deadlines: dict[str, str] | None = None,
) -> Path:
    """Write a PNG of P(reached by each month) per group: a step curve over the group's own
    months (`reached_curves`; runs that never reached it keep each curve below 1), the target
    date `deadline` (YYYY-MM) marked, or each group's own (`own_deadlines`, in its colour)."""
    labels = list(dict.fromkeys(groups.reindex(reached.index).dropna()))
    fig, ax = plt.subplots(figsize=(7.0, 3.6 + 0.18 * len(labels)), dpi=100)
    if reached.notna().any():
        for label, curve in reached_curves(reached, groups, series).items():
            # one month past the last, so the last month's step is drawn as wide as the others
            months = curve.index.append(
                pd.DatetimeIndex([curve.index[-1] + pd.DateOffset(months=1)])
            )
            values = np.append(curve.to_numpy(), curve.iloc[-1])
            (line,) = ax.step(months, values, where="post", label=label, lw=1.4)
            if own_deadlines and label in own_deadlines:
                when = mdates.date2num(pd.Timestamp(f"{own_deadlines[label]}-01"))
                ax.axvline(when, color=line.get_color(), linestyle="--", linewidth=0.9)
        if deadline is not None:
            ax.axvline(
                mdates.date2num(pd.Timestamp(f"{deadline}-01")),
                color=TARGET_COLOUR,
                linestyle="--",
                linewidth=1,
                label=f"target date {deadline}",
            )
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    ax.set_ylim(0, 1.02)  # a curve at 1 stays visible above the frame
    ax.set_ylabel(f"P({target} reached by the month)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return Path(path)


# ------------------------------------------------------------------------ the section
def series_section(
    sweep_dir: str | os.PathLike[str],
    figures_dir: str | os.PathLike[str],
    sweep: Sweep | None = None,
) -> list[str]:
    """The report's "## When" section (Markdown lines; images written to `figures_dir` and
    linked by file name), or [] when the sweep kept no series. `sweep`: the sweep as the
    rest of the report read it (a sweep still running adds parts meanwhile); the series of
    runs it does not hold are left out."""
    sweep = load_sweep(sweep_dir) if sweep is None else sweep
    series = load_series(sweep_dir, SECTION_VARIABLES)
    if series is None:
        return []
    series = series[series["run_id"].isin(sweep.runs["run_id"])]
    successful = sweep.runs[sweep.runs["error"].isna()]
    ok = successful[successful["run_id"].isin(series["run_id"].unique())]
    lost = _lost_series_line(len(successful) - len(ok), len(successful))
    if ok.empty:  # every run failed, or every series is gone
        return ["", "## When", "", lost] if lost else []
    groups, what = panel_groups(ok, sweep.factors)
    folder = Path(figures_dir)
    targets = run_target_shares(series, ok)
    one_target = targets.nunique() == 1
    fan_chart(
        series,
        ok,
        folder / "fan_share.png",
        SHARE,
        sweep.factors,
        float(targets.iloc[0]) if one_target and len(targets) else None,
    )
    fan_chart(series, ok, folder / "fan_cost.png", COST, sweep.factors)
    reached = month_reached(series, ok, targets)
    target = f"{pct(targets.iloc[0])} developing" if one_target else "the target"
    dates: list[str] = sorted(ok["target_date"].astype(str).unique()) if "target_date" in ok else []
    deadline = str(dates[0]) if len(dates) == 1 else None
    month_reached_figure(
        reached,
        groups,
        folder / "month_reached.png",
        target,
        deadline,
        series,
        None if deadline or not dates else _group_deadlines(ok, groups),
    )
    table = month_reached_table(reached, ok, groups)
    return [
        "",
        "## When",
        "",
        f"Month by month over {_shown_runs(groups, len(ok))} ({what}): the median "
        "(line), the middle 50% and 90% of runs (bands).",
        "",
        *([lost, ""] if lost else []),
        "![Share developing, fan chart](fan_share.png)",
        "",
        "![Cost to the centre so far, fan chart](fan_cost.png)",
        "",
        f"The month each run first reached {target} (its own target share: target_count "
        "over the authorities), over runs: P(reached by the run's last month), P(reached by "
        "the target date), each with its 95% Wilson interval, and the median month with the "
        "5th and 95th percentiles over runs ('later': not within the run).",
        "",
        *_table_lines(table),
        "",
        "![P(target reached by month)](month_reached.png)",
    ]


def _shown_runs(groups: pd.Series, with_series: int) -> str:
    """How many runs the panels show, of how many have a series (a selection of panels
    shows fewer)."""
    shown = int(groups.notna().sum())
    if shown < with_series:
        return f"{shown:,} of the {with_series:,} runs with a monthly series"
    return f"{with_series:,} runs with a monthly series"


def _group_deadlines(runs: pd.DataFrame, groups: pd.Series) -> dict[str, str]:
    """Each group's target date (YYYY-MM), for the groups whose runs share one."""
    dates = runs.set_index("run_id")["target_date"].astype(str)
    by_group = dates.groupby(groups.reindex(dates.index)).unique()
    return {str(label): str(found[0]) for label, found in by_group.items() if len(found) == 1}


def _lost_series_line(lost: int, successful: int) -> str:
    """A warning when successful runs have no monthly series (series parts deleted or moved
    by hand), or "" when none lacks one."""
    if not lost:
        return ""
    if lost == successful:
        return (
            f"**The sweep kept monthly series (`series = true`), but there are no monthly "
            f"series of its {successful:,} successful runs in series/** (deleted or moved?): "
            "no fan charts and no month reached."
        )
    return (
        f"**{lost:,} of {successful:,} successful runs have no monthly series** (their "
        "series/ part is missing): the charts and the table below leave them out."
    )


def _table_lines(table: pd.DataFrame) -> list[str]:
    head = ["group", "runs", "P(reached)", "P(by target date)", "median month", "5%–95%"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.to_dict("records"):
        cells = [
            str(row["group"]),
            f"{row['runs']:,}",
            _p_text(row["reached"], row["runs"]),
            _p_text(row.get("by_target_date"), row["runs"]),
            str(row["month_median"]),
            f"{row['month_p05']} – {row['month_p95']}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _p_text(k: float | None, n: int) -> str:
    """`k` of `n` runs as P with its 95% Wilson interval ("not recorded" without `k`)."""
    if k is None or math.isnan(k):
        return "not recorded"
    return p_ci(int(k) / n if n else math.nan, *wilson_interval(int(k), n), n)
