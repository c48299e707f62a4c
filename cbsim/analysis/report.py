"""Analysis of a finished sweep: P(target met), sensitivity, scenario discovery, figures.

`analyse(DIR)` reads only the sweep's Parquet tables and `manifest.json` (it knows nothing of
how the runs were executed) and writes into DIR: ``report.md``, ``design_points.csv``,
``sensitivity.csv``, ``prim_boxes.csv`` and PNG figures.

- Per design point: P(target met) with a 95% Wilson score interval, and the mean share of
  authorities developing a community budget at the target date with a 95% t interval.
- Sensitivity of both to each factor: Sobol' S1 and ST with confidence intervals (SALib) for
  ``saltelli`` designs, Morris mu* and sigma (SALib) for ``morris`` designs, RBD-FAST S1
  (SALib) for ``lhs`` designs and, for ``grid`` designs, each factor's main-effect share of the
  variance across design points (exact for a full factorial).
- Scenario discovery: PRIM boxes (EMA Workbench) for the runs that meet the target. On each
  box's peeling trajectory the box shown is the one with the most coverage among those with
  density >= 0.8 (or halfway from the overall rate to 1, if higher; if none reaches it, the
  densest).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cbsim.analysis.sweep_data import Sweep, load_sweep
from cbsim.inputs.errors import CbsimError
from cbsim.inputs.fileio import atomic_write_bytes
from cbsim.outputs.figures import figure_png, plt

CONFIDENCE = 0.95
PRIM_DENSITY = 0.8
PRIM_MAX_BOXES = 2
TABLE_ALL_UP_TO = 40
OUTCOMES = (("p_target", "P(target met)"), ("share_mean", "mean share at target"))
OUTPUTS = (
    "design_points.csv",
    "sensitivity.csv",
    "prim_boxes.csv",
    "design_points.png",
    "p_target_heatmap.png",
    "sensitivity.png",
    "prim_tradeoff.png",
)  # and report.md


# ------------------------------------------------------------------------ statistics
def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (NaNs when n is 0)."""
    if n == 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def mean_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and its Student-t confidence interval (NaN bounds with fewer than 2 values)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(values.mean())
    if len(values) < 2:
        return (mean, math.nan, math.nan)
    half = (
        stats.t.ppf(0.5 + confidence / 2, len(values) - 1)
        * values.std(ddof=1)
        / math.sqrt(len(values))
    )
    return (mean, mean - half, mean + half)


def design_points(runs: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """One row per design point: factor values, run counts, P(target met), mean share."""
    rows = []
    for point, group in runs.groupby("design_point", sort=True):
        ok = group[group["error"].isna()]
        k, n = int(ok["target_met"].astype(bool).sum()), len(ok)
        p_lo, p_hi = wilson_interval(k, n)
        mean, s_lo, s_hi = mean_interval(ok["share_at_target"].to_numpy(dtype=float))
        row = {"design_point": int(point)}
        row.update({f: group[f].iloc[0] for f in factors})
        row.update(
            {
                "runs": len(group),
                "failed": len(group) - n,
                "met": k,
                "p_target": k / n if n else math.nan,
                "p_target_lo": p_lo,
                "p_target_hi": p_hi,
                "share_mean": mean,
                "share_lo": s_lo,
                "share_hi": s_hi,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------ sensitivity
def sensitivity(sweep: Sweep, points: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Sensitivity indices of P(target met) and mean share to each factor, and a note."""
    method, manifest = sweep.method, sweep.manifest
    planned = manifest["design_points"]
    if method in ("saltelli", "morris", "lhs"):
        if len(points) < planned or points[["p_target", "share_mean"]].isna().any().any():
            return None, (
                f"needs every one of the {planned:,} design points with at least "
                "one finished run; resume the sweep first"
            )
    problem = manifest["problem"]
    seed = int(manifest["master_seed"])
    rows = []
    for key, label in OUTCOMES:
        y = points.sort_values("design_point")[key].to_numpy(dtype=float)
        finite = y[~np.isnan(y)]
        if len(finite) == 0 or np.var(finite) == 0:
            for name in sweep.factors:
                rows.append({"outcome": label, "factor": name})
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows += _indices(method, sweep, points, problem, y, seed, label)
    table = pd.DataFrame(rows)
    notes = {
        "saltelli": "Sobol' first-order (S1) and total (ST) indices with 95% bootstrap "
        "confidence intervals (SALib `sobol.analyze`)",
        "morris": "Morris elementary effects: mu* (mean absolute effect, 95% bootstrap "
        "interval) and sigma (spread: interactions or non-linearity) "
        "(SALib `morris.analyze`)",
        "lhs": "RBD-FAST first-order indices (S1) with 95% bootstrap confidence intervals "
        "(SALib `rbd_fast.analyze` on the Latin hypercube)",
        "grid": "main-effect share of variance: Var over a factor's levels of the mean "
        "outcome, divided by the variance over all design points (exact on a full "
        "factorial; what is left is interaction)",
    }
    return table, notes[method]


def _indices(
    method: str,
    sweep: Sweep,
    points: pd.DataFrame,
    problem: dict,
    y: np.ndarray,
    seed: int,
    label: str,
) -> list[dict[str, Any]]:
    names = sweep.factors
    if method == "saltelli":
        from SALib.analyze import sobol

        second = bool(sweep.manifest["experiment"]["sampler"].get("second_order", False))
        res = sobol.analyze(problem, y, calc_second_order=second, conf_level=CONFIDENCE, seed=seed)
        return [
            {
                "outcome": label,
                "factor": n,
                "S1": res["S1"][i],
                "S1_conf": res["S1_conf"][i],
                "ST": res["ST"][i],
                "ST_conf": res["ST_conf"][i],
            }
            for i, n in enumerate(names)
        ]
    x = sweep.design[names].to_numpy(dtype=float) if sweep.design is not None else None
    if method == "morris":
        from SALib.analyze import morris

        levels = int(sweep.manifest["experiment"]["sampler"].get("levels", 4))
        res = morris.analyze(problem, x, y, num_levels=levels, conf_level=CONFIDENCE, seed=seed)
        return [
            {
                "outcome": label,
                "factor": n,
                "mu_star": res["mu_star"][i],
                "mu_star_conf": res["mu_star_conf"][i],
                "sigma": res["sigma"][i],
                "mu": res["mu"][i],
            }
            for i, n in enumerate(names)
        ]
    if method == "lhs":
        from SALib.analyze import rbd_fast

        res = rbd_fast.analyze(problem, x, y, conf_level=CONFIDENCE, seed=seed)
        return [
            {"outcome": label, "factor": n, "S1": res["S1"][i], "S1_conf": res["S1_conf"][i]}
            for i, n in enumerate(names)
        ]
    total = np.nanvar(y)
    return [
        {
            "outcome": label,
            "factor": n,
            "S1": float(points.groupby(n)[_key(label)].mean().var(ddof=0) / total),
        }
        for n in names
    ]


def _key(label: str) -> str:
    return dict((lab, key) for key, lab in OUTCOMES)[label]


# ------------------------------------------------------------------------ scenario discovery
def prim_boxes(runs: pd.DataFrame, factors: list[str]) -> tuple[list[dict[str, Any]], Any]:
    """PRIM boxes for `target_met` over the factors (EMA Workbench), and the first box.

    On each box's peeling trajectory the box kept is the one with the most coverage among
    those whose density reaches `prim_threshold`.
    """
    ok = runs[runs["error"].isna()]
    y = ok["target_met"].astype(bool).to_numpy().astype(int)
    varying = [f for f in factors if ok[f].nunique() > 1]
    if len(ok) == 0 or y.min() == y.max() or not varying:
        return [], None
    x = ok[varying].reset_index(drop=True).copy()
    for name in varying:
        if (
            x[name].dtype == bool
            or x[name].dtype == object
            or str(x[name].dtype) in ("str", "string")
        ):
            x[name] = x[name].map(_level_text).astype(object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        algorithm = prim.Prim(x, y, mass_min=0.05)
        threshold = prim_threshold(float(y.mean()))
        boxes, first = [], None
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


def prim_table(boxes: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per restricted factor of each box (one row for a box with no restriction)."""
    rows = []
    for b in boxes:
        stats_ = {
            "box": b["box"],
            "coverage": b["coverage"],
            "density": b["density"],
            "mass": b["mass"],
        }
        for r in b["restrictions"] or [{}]:
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


def _describe_box(
    number: int,
    box: Any,
    limits: pd.DataFrame,
    box_init: pd.DataFrame,
    total_met: int,
    threshold: float,
) -> dict[str, Any]:
    """A box's statistics and its restricted dimensions (limits that differ from the data's)."""
    restrictions = []
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
                    "box": f"{_num(lo)} to {_num(hi)}",
                    "full": f"{_num(full.iloc[0])} to {_num(full.iloc[1])}",
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


def _level_text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


# ------------------------------------------------------------------------ figures
def heatmap_figure(points: pd.DataFrame, row: str, col: str, title: str) -> plt.Figure:
    """P(target met) on a two-factor grid (averaged over any other factors)."""
    table = points.groupby([row, col])["p_target"].mean().unstack(col).sort_index(ascending=False)
    fig, ax = plt.subplots(figsize=(1.2 * len(table.columns) + 3, 0.55 * len(table) + 2), dpi=100)
    image = ax.imshow(table.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(
        range(len(table.columns)),
        [_level_text(c) if isinstance(c, bool) else _num(c) for c in table.columns],
    )
    ax.set_yticks(
        range(len(table.index)),
        [_level_text(r) if isinstance(r, bool) else _num(r) for r in table.index],
    )
    ax.set_xlabel(col)
    ax.set_ylabel(row)
    for (i, j), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="black")
    fig.colorbar(image, ax=ax, label="P(target met)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def sensitivity_figure(table: pd.DataFrame, method: str) -> plt.Figure:
    """Bar chart of the sensitivity indices, one panel per outcome."""
    outcomes = list(dict.fromkeys(table["outcome"]))
    fig, axes = plt.subplots(
        1,
        len(outcomes),
        figsize=(6 * len(outcomes), 0.45 * table["factor"].nunique() + 2),
        dpi=100,
        squeeze=False,
    )
    first, second = (
        ("mu_star", "sigma")
        if method == "morris"
        else ("S1", "ST")
        if method == "saltelli"
        else ("S1", None)
    )
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


def points_figure(points: pd.DataFrame) -> plt.Figure:
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


# ------------------------------------------------------------------------ the report
def analyse(directory: str | os.PathLike) -> Path:
    """Write report.md, CSV tables and PNG figures into the sweep folder; return the report."""
    sweep = load_sweep(directory)
    out = sweep.path
    exp = sweep.manifest["experiment"]
    factors = sweep.factors
    points = design_points(sweep.runs, factors)
    written: set[str] = set()
    _write_csv(out / "design_points.csv", points, written)
    ok = sweep.runs[sweep.runs["error"].isna()]
    k, n = int(ok["target_met"].astype(bool).sum()), len(ok)
    lo, hi = wilson_interval(k, n)
    mean, s_lo, s_hi = mean_interval(ok["share_at_target"].to_numpy(dtype=float))
    counts = sweep.manifest.get("runs", {})
    planned = int(counts.get("planned", len(sweep.runs)))
    failed = int(sweep.runs["error"].notna().sum())

    lines = [f"# Sweep report: {exp['name']}", ""]
    if exp.get("description"):
        lines += [exp["description"], ""]
    lines += [
        f"- base scenario: `{sweep.manifest['scenario']['name']}`; sampler: "
        f"{_sampler_text(exp['sampler'])}; {sweep.manifest['design_points']:,} design points "
        f"x {exp['replicates']} replicates; master seed {sweep.manifest['master_seed']}",
        f"- runs: {len(sweep.runs):,} of {planned:,} finished, {failed:,} failed; sweep "
        f"status: {sweep.manifest.get('status')}",
        "- factors: " + "; ".join(_factor_text(f) for f in exp["factors"]),
    ]
    if exp.get("overrides"):
        lines.append(
            "- fixed for every run: "
            + ", ".join(f"`{p}` = {_value_text(v)}" for p, v in exp["overrides"].items())
        )
    versions = sweep.manifest.get("versions", {})
    lines.append(f"- cbsim {versions.get('cbsim', '?')}, Mesa {versions.get('mesa', '?')}")
    if len(sweep.runs) < planned:
        lines += [
            "",
            f"**The sweep is incomplete** ({len(sweep.runs):,} of {planned:,} runs): "
            "finish it with `cbsim sweep ... --resume` before relying on these numbers.",
        ]
    lines += [
        "",
        "## Probability of meeting the target",
        "",
        f"Target: {_target_text(ok)}. Over all {n:,} successful runs the target was met "
        f"in {k:,}: P = {_p(k / n if n else math.nan)} (95% Wilson interval "
        f"{_p(lo)} to {_p(hi)}); mean share at the target date {_pct(mean)} "
        f"(95% interval {_pct(s_lo)} to {_pct(s_hi)}).",
        "",
    ]
    lines += _points_section(points, factors)
    figures = {"design_points.png": points_figure(points)}
    lines += ["", "![P(target met) by design point](design_points.png)"]

    heat = _heatmap_factors(sweep, points)
    if heat:
        row, col = heat
        other = [f for f in factors if f not in heat]
        title = f"P(target met), {exp['replicates']} runs per cell" + (
            f" (mean over {', '.join(other)})" if other else ""
        )
        figures["p_target_heatmap.png"] = heatmap_figure(points, row, col, title)
        lines += [
            "",
            "## P(target met) over the grid",
            "",
            "![P(target met) heatmap](p_target_heatmap.png)",
        ]

    table, note = sensitivity(sweep, points)
    lines += ["", "## Sensitivity", ""]
    if table is None:
        lines.append(f"Not computed: {note}.")
    else:
        _write_csv(out / "sensitivity.csv", table, written)
        lines += [note + ".", ""] + _sensitivity_lines(table, sweep.method)
        if table.drop(columns=["outcome", "factor"]).notna().any().any():
            figures["sensitivity.png"] = sensitivity_figure(table, sweep.method)
            lines += ["", "![Sensitivity indices](sensitivity.png)"]

    boxes, first = prim_boxes(sweep.runs, factors)
    lines += ["", "## Scenario discovery (PRIM)", ""]
    if not boxes:
        lines.append(
            "Not computed: PRIM needs runs that meet the target and runs that do "
            "not, and a factor that varies."
        )
    else:
        lines += _prim_lines(boxes)
        _write_csv(out / "prim_boxes.csv", prim_table(boxes), written)
        if first is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                figures["prim_tradeoff.png"] = first.show_tradeoff()
            lines += ["", "![PRIM peeling trajectory: coverage against density](prim_tradeoff.png)"]
    for name, fig in figures.items():
        _write(out / name, figure_png(fig), written)
    lines += [
        "",
        "## Files",
        "",
        "`design_points.csv` (every design point), `sensitivity.csv`, `prim_boxes.csv`, "
        "and the figures above; the runs themselves are in `runs/` "
        "(`pandas.read_parquet`).",
    ]
    report = out / "report.md"
    _write(report, ("\n".join(lines) + "\n").encode("utf-8"), written)  # last: all it shows
    for name in OUTPUTS:  # a file of an earlier report that this one does not have
        if name not in written:
            (out / name).unlink(missing_ok=True)
    return report


def _points_section(points: pd.DataFrame, factors: list[str]) -> list[str]:
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
            *[_value_text(r[f]) for f in factors],
            str(int(r["runs"] - r["failed"]))
            + (f" (+{int(r['failed'])} failed)" if r["failed"] else ""),
            str(int(r["met"])),
            f"{_p(r['p_target'])} [{_p(r['p_target_lo'])}, {_p(r['p_target_hi'])}]",
            f"{_pct(r['share_mean'])} [{_pct(r['share_lo'])}, {_pct(r['share_hi'])}]",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _sensitivity_lines(table: pd.DataFrame, method: str) -> list[str]:
    if method == "morris":
        cols = [("mu_star", "mu*"), ("mu_star_conf", "mu* 95% ±"), ("sigma", "sigma")]
    elif method == "saltelli":
        cols = [("S1", "S1"), ("S1_conf", "S1 95% ±"), ("ST", "ST"), ("ST_conf", "ST 95% ±")]
    elif method == "lhs":
        cols = [("S1", "S1"), ("S1_conf", "S1 95% ±")]
    else:
        cols = [("S1", "main-effect share")]
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
                f"| `{r['factor']}` | " + " | ".join(_num3(r.get(c[0])) for c in cols) + " |"
            )
        lines.append("")
    return lines


def _prim_lines(boxes: list[dict[str, Any]]) -> list[str]:
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


def _heatmap_factors(sweep: Sweep, points: pd.DataFrame) -> tuple[str, str] | None:
    if sweep.method != "grid":
        return None
    varying = [f for f in sweep.factors if points[f].nunique() > 1]
    return (varying[0], varying[1]) if len(varying) >= 2 else None


def _write_csv(path: Path, frame: pd.DataFrame, written: set[str]) -> None:
    _write(path, frame.to_csv(index=False).encode("utf-8"), written)


def _write(path: Path, data: bytes, written: set[str]) -> None:
    """Write one output file atomically; a failure is one error line (the runs are kept)."""
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        plt.close("all")
        raise CbsimError(
            f"{path}: cannot write the report ({exc.strerror or exc}); the "
            "sweep's runs are untouched"
        ) from None
    written.add(path.name)


def _target_text(ok: pd.DataFrame) -> str:
    if ok.empty or "target_count" not in ok:
        return "half of the authorities developing a community budget at the target date"
    count, date = int(ok["target_count"].iloc[0]), ok["target_date"].iloc[0]
    return f"at least {count} authorities developing a community budget in {date}"


def _sampler_text(sampler: dict[str, Any]) -> str:
    extra = ", ".join(f"{k} {v}" for k, v in sampler.items() if k != "method" and v is not None)
    return f"{sampler['method']}" + (f" ({extra})" if extra else "")


def _factor_text(factor: dict[str, Any]) -> str:
    if "levels" in factor:
        return f"`{factor['path']}` in {{{', '.join(_value_text(v) for v in factor['levels'])}}}"
    return f"`{factor['path']}` from {_num(factor['min'])} to {_num(factor['max'])}"


def _value_text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return _num(value)
    return str(value)


def _num(value: Any) -> str:
    return f"{float(value):.4g}"


def _num3(value: Any) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{float(value):.3f}")
    )


def _p(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.1%}"
