"""The report on a finished sweep: `analyse(DIR)`.

`analyse` reads only the sweep's Parquet tables and `manifest.json` (it knows nothing of how
the runs were executed) and writes into DIR: ``report.md``, ``design_points.csv``,
``sensitivity.csv``, ``prim_boxes.csv`` and PNG figures. What goes into it:

- per design point, P(target met) and the mean share at the target date with 95% intervals
  (`cbsim.analysis.statistics`);
- the sensitivity of both to each factor (`cbsim.analysis.sensitivity`);
- scenario discovery: PRIM boxes for the runs that meet the target
  (`cbsim.analysis.discovery`);
- the figures (`cbsim.analysis.figures`), with the text formatted by `cbsim.analysis.text`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from cbsim.analysis import frontier
from cbsim.analysis.degenerate import outcome_warnings, uninformative_line
from cbsim.analysis.discovery import discover, prim_table
from cbsim.analysis.discovery_text import discovery_lines
from cbsim.analysis.figures import heatmap_figure, points_figure, sensitivity_figure
from cbsim.analysis.html import report_html
from cbsim.analysis.marginals import marginal_lines, marginals
from cbsim.analysis.scope import averaged_over, required_level
from cbsim.analysis.sensitivity import WARNING, sensitivity
from cbsim.analysis.staging import REPORT, REPORT_HTML, ReportFiles
from cbsim.analysis.statistics import design_points, pooled_estimates
from cbsim.analysis.sweep_data import Sweep, load_sweep
from cbsim.analysis.text import (
    factor_text,
    level_text,
    p_ci,
    points_lines,
    sampler_text,
    sensitivity_lines,
    share_ci,
    target_text,
    value_text,
)
from cbsim.analysis.timeseries import series_section
from cbsim.inputs.factors import SCENARIO_FACTOR
from cbsim.sweep.folder import lock_held

FILES_SECTION = [
    "",
    "## Files",
    "",
    "`report.html` (this report as one page, figures included), `design_points.csv` "
    "(every design point), `frontier.csv`, `marginals.csv`, `sensitivity.csv`, "
    "`prim_boxes.csv`, and the figures above; the runs themselves are in `runs/` "
    "(`pandas.read_parquet`).",
]


def analyse(directory: str | os.PathLike, required_p: float | None = None) -> Path:
    """Write report.md, report.html, CSV tables and PNG figures into the sweep folder, as a
    whole (an analysis that fails leaves the previous one); return report.md's path.

    `required_p` is the P the frontier is drawn at (default: the one the manifest records,
    else `cbsim.analysis.scope.REQUIRED_P_DEFAULT`)."""
    sweep = load_sweep(directory)
    level, level_source = required_level(sweep.manifest, required_p)
    with ReportFiles(sweep.path) as outputs:
        points = design_points(sweep.runs, sweep.factors)
        outputs.csv("design_points.csv", points)
        crossings = _frontier_table(sweep, points, level)
        outputs.csv("frontier.csv", crossings)
        on_frontier = frontier.frontier_points(crossings, sweep.method == "grid")
        lines = _header_lines(sweep)
        lines += _target_lines(sweep)
        lines += points_lines(points, sweep.factors, on_frontier, level)
        outputs.figures["design_points.png"] = points_figure(points)
        lines += ["", "![P(target met) by design point](design_points.png)"]
        lines += _frontier_lines(sweep, points, crossings, level, level_source)
        lines += _marginal_lines(sweep, outputs)
        lines += _heatmap_lines(sweep, points, outputs)
        lines += series_section(sweep.path, outputs.staging, sweep)
        lines += _sensitivity_lines(sweep, points, outputs)
        lines += _discovery_lines(sweep, outputs)
        outputs.write_figures()
        lines += FILES_SECTION
        text = "\n".join(lines) + "\n"
        title = f"Sweep report: {sweep.manifest.experiment.name}"
        outputs.write(REPORT_HTML, report_html(text, title, outputs.read).encode("utf-8"))
        outputs.write(REPORT, text.encode("utf-8"))
        return outputs.commit()


def _header_lines(sweep: Sweep) -> list[str]:
    """Title, description, and what was run: scenario, sampler, factors, runs, versions."""
    manifest, exp = sweep.manifest, sweep.manifest.experiment
    planned = manifest.runs.planned
    finished = len(sweep.runs)
    failed = int(sweep.runs["error"].notna().sum())
    versions = manifest.versions
    lines = [f"# Sweep report: {exp.name}", ""]
    if exp.description:
        lines += [exp.description, ""]
    lines += [
        f"- {_base_text(sweep)}; sampler: "
        f"{sampler_text(exp.sampler)}; {manifest.design_points:,} design "
        f"point{'s' if manifest.design_points != 1 else ''} "
        f"x {exp.replicates} replicates; master seed {manifest.master_seed}",
        f"- runs: {finished:,} of {planned:,} finished, {failed:,} failed; sweep "
        f"status: {_status_text(sweep)}",
        "- factors: " + "; ".join(factor_text(f) for f in exp.factors),
        "- seeds: "
        + (
            "paired (common random numbers: replicate r has the same seed at every design "
            "point, so differences between design points carry less seed-to-seed noise; "
            "pooled intervals take the replicate as the unit)"
            if exp.paired
            else "every run its own (from the master seed and the run id)"
        )
        + ("; monthly series kept (series/)" if exp.series else ""),
    ]
    if exp.overrides:
        lines.append(
            "- fixed for every run: "
            + ", ".join(f"`{p}` = {value_text(v)}" for p, v in exp.overrides.items())
        )
    lines.append(f"- cbsim {versions.get('cbsim', '?')}, Mesa {versions.get('mesa', '?')}")
    if finished < planned:
        lines += [
            "",
            f"**The sweep is incomplete** ({finished:,} of {planned:,} runs): "
            "finish it with `cbsim sweep ... --resume` before relying on these numbers.",
        ]
    return lines


def _status_text(sweep: Sweep) -> str:
    """The manifest's status; for `running`, whether a sweep really is writing into the
    folder (its lock is held) or was stopped without a word (killed, a machine down)."""
    status = sweep.manifest.status
    if status != "running":
        return status
    if lock_held(sweep.path):
        return "running (a cbsim sweep is still writing into this folder)"
    return (
        "running, says the manifest, but no cbsim sweep is running in this folder (it was "
        "stopped without finishing, e.g. killed): finish it with `cbsim sweep ... --resume`"
    )


def _base_text(sweep: Sweep) -> str:
    """The base scenario, or that the scenario is one of the factors."""
    if SCENARIO_FACTOR in sweep.factors:
        return "scenario: a factor (each design point's own, below)"
    return f"base scenario: `{sweep.manifest.scenario.name}`"


def _target_lines(sweep: Sweep) -> list[str]:
    """P(target met) and the mean share at the target date over all successful runs, and
    what that average is taken over."""
    ok = sweep.runs[sweep.runs["error"].isna()]
    k, n = int(ok["target_met"].astype(bool).sum()), len(ok)
    paired = sweep.manifest.experiment.paired
    est = pooled_estimates(ok, paired)
    kind = (
        ("95% t interval over the replicates' means: seeds are paired", "the same")
        if paired
        else ("95% Wilson interval", "95% t interval")
    )
    return [
        "",
        "## Probability of meeting the target",
        "",
        f"Target: {_targets_text(ok)}. Over all {n:,} successful runs the target was met "
        f"in {k:,}: P = {p_ci(est['p'], est['p_lo'], est['p_hi'], n)} ({kind[0]}); mean "
        f"share at the target date {share_ci(est['share'], est['share_lo'], est['share_hi'], n)}"
        f" ({kind[1]}).",
        "",
        averaged_over(sweep.manifest, n, len(sweep.runs)),
        "",
    ]


def _targets_text(ok: pd.DataFrame) -> str:
    """The target the runs were measured against; when the design points' scenarios set
    different targets, each one with the scenarios that set it (the first would mislead)."""
    keys = [c for c in ("target_count", "target_date") if c in ok]
    if len(keys) < 2 or ok.drop_duplicates(keys).shape[0] <= 1:
        return target_text(ok)
    parts = []
    for _, group in ok.groupby(keys, sort=True):
        names = (
            sorted(group[SCENARIO_FACTOR].astype(str).unique()) if SCENARIO_FACTOR in group else []
        )
        where = f" ({', '.join(names)})" if names else ""
        parts.append(target_text(group) + where)
    return "each run's own scenario's: " + "; ".join(parts)


def _frontier_table(sweep: Sweep, points: pd.DataFrame, level: float) -> pd.DataFrame:
    if sweep.method == "grid":
        return frontier.grid_crossings(points, sweep.factors, level)
    return frontier.straddling_points(points, level)


def _frontier_lines(
    sweep: Sweep, points: pd.DataFrame, table: pd.DataFrame, level: float, source: str
) -> list[str]:
    """Where P crosses the required level, with each P's 95% interval."""
    lines = [
        "",
        f"## Where P crosses the required level ({level:g})",
        "",
        f"Required level: P(target met) >= {level:g} ({source}).",
        "",
    ]
    if sweep.method == "grid":
        return lines + frontier.grid_lines(table, points, level)
    reps = sweep.manifest.experiment.replicates
    return lines + frontier.sampled_lines(table, points, level, reps)


def _marginal_lines(sweep: Sweep, outputs: ReportFiles) -> list[str]:
    """P and the mean share at each level of each factor, over the others."""
    paired = sweep.manifest.experiment.paired
    table = marginals(sweep.runs[sweep.runs["error"].isna()], sweep.factors, paired)
    outputs.csv("marginals.csv", table)
    return ["", "## Each factor on its own (marginals)", "", *marginal_lines(table, paired)]


def _heatmap_lines(sweep: Sweep, points: pd.DataFrame, outputs: ReportFiles) -> list[str]:
    """For a grid with two or more varying factors: P(target met) over the first two."""
    if sweep.method != "grid":
        return []
    varying = [f for f in sweep.factors if points[f].nunique() > 1]
    if len(varying) < 2:
        return []
    row, col = varying[0], varying[1]
    other = [f for f in varying if f not in (row, col)]
    replicates = sweep.manifest.experiment.replicates
    title = f"P(target met), {replicates} runs per cell" + (
        f" (mean over {', '.join(other)})" if other else ""
    )
    outputs.figures["p_target_heatmap.png"] = heatmap_figure(points, row, col, title)
    over = (
        "Each cell is the mean of the design points' P over "
        + "; ".join(
            f"`{f}` in {{{', '.join(level_text(v) for v in dict.fromkeys(points[f]))}}}"
            for f in other
        )
        + " (each equally)"
        if other
        else f"Each cell is one design point's P over its {replicates} runs"
    )
    return [
        "",
        "## P(target met) over the grid",
        "",
        f"{over}; the 95% interval of every design point is in the table above and in "
        "`design_points.csv`.",
        "",
        "![P(target met) heatmap](p_target_heatmap.png)",
    ]


def _sensitivity_lines(sweep: Sweep, points: pd.DataFrame, outputs: ReportFiles) -> list[str]:
    table, note = sensitivity(sweep, points)
    ok = sweep.runs[sweep.runs["error"].isna()]
    warned = {k: uninformative_line(k, v) for k, v in outcome_warnings(points, ok).items()}
    lines = ["", "## Sensitivity", ""]
    if table is None:
        if note.startswith(WARNING):
            lines += [f"**Warning:** not computed: {note.removeprefix(WARNING)}."]
        else:
            lines += [f"Not computed: {note}."]
        return lines + [line for w in warned.values() for line in ("", w)]
    outputs.csv("sensitivity.csv", table)
    lines += [note + ".", ""] + _categorical_note(sweep)
    lines += sensitivity_lines(table, sweep.method, warned)
    if table.drop(columns=["outcome", "factor"]).notna().any().any():
        outputs.figures["sensitivity.png"] = sensitivity_figure(table, sweep.method)
        lines += ["", "![Sensitivity indices](sensitivity.png)"]
    return lines


def _categorical_note(sweep: Sweep) -> list[str]:
    """For Morris with a scenario factor of 3 or more levels: its elementary effects are steps
    between levels in the order the file lists them, so its mu* depends on that order."""
    levels = sweep.manifest.experiment.factors
    scenario = next((f for f in levels if f.get("path") == SCENARIO_FACTOR), None)
    if sweep.method != "morris" or scenario is None or len(scenario.get("levels", [])) < 3:
        return []
    return [
        "**Note:** `scenario` is categorical, and Morris steps it between its levels in the "
        "order the experiment lists them, on its grid of levels: its mu* and sigma depend "
        "on that order, so compare scenarios with the marginals "
        "above rather than with these indices.",
        "",
    ]


def _discovery_lines(sweep: Sweep, outputs: ReportFiles) -> list[str]:
    found = discover(sweep.runs, sweep.factors, sweep.manifest.experiment.replicates)
    lines = ["", "## Scenario discovery (PRIM): every route to the target", ""]
    lines += discovery_lines(found)
    if not found.boxes:
        return lines
    outputs.csv("prim_boxes.csv", prim_table(found.boxes))
    if found.first is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs.figures["prim_tradeoff.png"] = found.first.show_tradeoff()
        lines += [
            "",
            "![PRIM peeling trajectory of box 1: coverage against density](prim_tradeoff.png)",
        ]
    return lines
