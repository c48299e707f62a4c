"""Outputs of one run: summary text, timeseries.csv, outcomes.json, adoption.png."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from cbsim.inputs.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from cbsim.model.model import CommunityBudgetModel
from cbsim.outputs.figures import adoption_figure, figure_png

RUN_FILES = ("timeseries.csv", "outcomes.json", "actions.json", "adoption.png")


def summary(model: CommunityBudgetModel, seed: int | None) -> str:
    """A short human-readable summary of a finished run."""
    o = model.outcomes()
    n = len(model.council_list)
    lines = [
        f"scenario {o['scenario']}, seed {seed}, {model.params['timeline.start']} to "
        f"{o['final_month']}",
        f"at target date {o['target_date']}: {o['count_at_target']} of {n} authorities "
        f"developing a community budget ({o['share_at_target']:.1%}); target "
        f"{o['target_count']} -> {'MET' if o['target_met'] else 'NOT MET'}",
        f"target first reached: {o['month_target_reached'] or 'never'}; "
        f"at {o['final_month']}: {o['final_count']} ({o['final_share']:.1%})",
        "money by department over the run (£m): pooled / aligned / stance at target date",
    ]
    for d in model.departments:
        lines.append(
            f"  {d.name:<11} {o[f'pooled_m_{d.name}']:8.1f} / "
            f"{o[f'aligned_m_{d.name}']:8.1f} / {o[f'stance_{d.name}_at_target']}"
        )
    lines.append(f"  {'total':<11} {o['pooled_m_total']:8.1f} / {o['aligned_m_total']:8.1f}")
    return "\n".join(lines)


def write_run_outputs(
    model: CommunityBudgetModel, out: str | os.PathLike, seed: int | None
) -> Path:
    """Write the run's files (`RUN_FILES`) into `out`, all or nothing (built in a temporary
    folder); return `out`. Raises OSError when a file cannot be written (full disk, no
    permission); the temporary folder is removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.tmp"
    staging.mkdir()  # not mkdtemp: the folder may become `out`, so it gets the usual mode
    try:
        series = model.timeseries()
        atomic_write_text(staging / "timeseries.csv", series.to_csv(index=False))
        outcomes = {"seed": seed, **model.outcomes()}
        atomic_write_json(staging / "outcomes.json", outcomes)
        atomic_write_json(staging / "actions.json", model.action_log)
        fig = adoption_figure(model, title=f"{model.scenario_name} (seed {seed})")
        atomic_write_bytes(staging / "adoption.png", figure_png(fig))
        if out.is_dir():  # an earlier run's folder: each file is replaced whole
            for item in staging.iterdir():
                os.replace(item, out / item.name)
        else:  # a new folder appears at once, with every file in it
            os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
