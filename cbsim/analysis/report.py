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

import math
import os
import warnings
from pathlib import Path

import pandas as pd

from cbsim.analysis.discovery import prim_boxes, prim_table
from cbsim.analysis.figures import heatmap_figure, points_figure, sensitivity_figure
from cbsim.analysis.sensitivity import WARNING, sensitivity
from cbsim.analysis.staging import REPORT, ReportFiles
from cbsim.analysis.statistics import design_points, mean_interval, wilson_interval
from cbsim.analysis.sweep_data import Sweep, load_sweep
from cbsim.analysis.text import (
    factor_text,
    pct,
    points_lines,
    prim_lines,
    prob,
    sampler_text,
    sensitivity_lines,
    target_text,
    value_text,
)

FILES_SECTION = [
    "",
    "## Files",
    "",
    "`design_points.csv` (every design point), `sensitivity.csv`, `prim_boxes.csv`, "
    "and the figures above; the runs themselves are in `runs/` "
    "(`pandas.read_parquet`).",
]


def analyse(directory: str | os.PathLike) -> Path:
    """Write report.md, CSV tables and PNG figures into the sweep folder, as a whole (an
    analysis that fails leaves the previous one); return the report's path."""
    sweep = load_sweep(directory)
    with ReportFiles(sweep.path) as outputs:
        points = design_points(sweep.runs, sweep.factors)
        outputs.csv("design_points.csv", points)
        lines = _header_lines(sweep)
        lines += _target_lines(sweep)
        lines += points_lines(points, sweep.factors)
        outputs.figures["design_points.png"] = points_figure(points)
        lines += ["", "![P(target met) by design point](design_points.png)"]
        lines += _heatmap_lines(sweep, points, outputs)
        lines += _sensitivity_lines(sweep, points, outputs)
        lines += _discovery_lines(sweep, outputs)
        outputs.write_figures()
        lines += FILES_SECTION
        outputs.write(REPORT, ("\n".join(lines) + "\n").encode("utf-8"))
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
        f"- base scenario: `{manifest.scenario.name}`; sampler: "
        f"{sampler_text(exp.sampler)}; {manifest.design_points:,} design points "
        f"x {exp.replicates} replicates; master seed {manifest.master_seed}",
        f"- runs: {finished:,} of {planned:,} finished, {failed:,} failed; sweep "
        f"status: {manifest.status}",
        "- factors: " + "; ".join(factor_text(f) for f in exp.factors),
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


def _target_lines(sweep: Sweep) -> list[str]:
    """P(target met) and the mean share at the target date over all successful runs."""
    ok = sweep.runs[sweep.runs["error"].isna()]
    k, n = int(ok["target_met"].astype(bool).sum()), len(ok)
    lo, hi = wilson_interval(k, n)
    mean, s_lo, s_hi = mean_interval(ok["share_at_target"].to_numpy(dtype=float))
    return [
        "",
        "## Probability of meeting the target",
        "",
        f"Target: {target_text(ok)}. Over all {n:,} successful runs the target was met "
        f"in {k:,}: P = {prob(k / n if n else math.nan)} (95% Wilson interval "
        f"{prob(lo)} to {prob(hi)}); mean share at the target date {pct(mean)} "
        f"(95% interval {pct(s_lo)} to {pct(s_hi)}).",
        "",
    ]


def _heatmap_lines(sweep: Sweep, points: pd.DataFrame, outputs: ReportFiles) -> list[str]:
    """For a grid with two or more varying factors: P(target met) over the first two."""
    if sweep.method != "grid":
        return []
    varying = [f for f in sweep.factors if points[f].nunique() > 1]
    if len(varying) < 2:
        return []
    row, col = varying[0], varying[1]
    other = [f for f in sweep.factors if f not in (row, col)]
    replicates = sweep.manifest.experiment.replicates
    title = f"P(target met), {replicates} runs per cell" + (
        f" (mean over {', '.join(other)})" if other else ""
    )
    outputs.figures["p_target_heatmap.png"] = heatmap_figure(points, row, col, title)
    return [
        "",
        "## P(target met) over the grid",
        "",
        "![P(target met) heatmap](p_target_heatmap.png)",
    ]


def _sensitivity_lines(sweep: Sweep, points: pd.DataFrame, outputs: ReportFiles) -> list[str]:
    table, note = sensitivity(sweep, points)
    lines = ["", "## Sensitivity", ""]
    if table is None:
        if note.startswith(WARNING):
            return lines + [f"**Warning:** not computed: {note.removeprefix(WARNING)}."]
        return lines + [f"Not computed: {note}."]
    outputs.csv("sensitivity.csv", table)
    lines += [note + ".", ""] + sensitivity_lines(table, sweep.method)
    if table.drop(columns=["outcome", "factor"]).notna().any().any():
        outputs.figures["sensitivity.png"] = sensitivity_figure(table, sweep.method)
        lines += ["", "![Sensitivity indices](sensitivity.png)"]
    return lines


def _discovery_lines(sweep: Sweep, outputs: ReportFiles) -> list[str]:
    boxes, first = prim_boxes(sweep.runs, sweep.factors)
    lines = ["", "## Scenario discovery (PRIM)", ""]
    if not boxes:
        return lines + [
            "Not computed: PRIM needs runs that meet the target and runs that do "
            "not, and a factor that varies."
        ]
    lines += prim_lines(boxes)
    outputs.csv("prim_boxes.csv", prim_table(boxes))
    if first is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs.figures["prim_tradeoff.png"] = first.show_tradeoff()
        lines += ["", "![PRIM peeling trajectory: coverage against density](prim_tradeoff.png)"]
    return lines
