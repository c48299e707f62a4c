"""A finished calibration's outputs: ``posterior.parquet``, ``report.md`` and its figures.

``posterior.parquet`` has one row per particle of the last generation: ``weight`` (normalised
to sum to 1) and one column per calibrated parameter (its dotted path). The figures (matplotlib,
Agg): ``marginals.png`` (each parameter's posterior over its prior, with the hand-set value),
``pairs.png`` (every pair of parameters), ``generations.png`` (ε, acceptance rate and effective
sample size by generation) and ``predictive.png`` (the posterior predictive check of every
target; held-out targets are marked "validation").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cbsim.calibrate.predictive import (
    LEVEL,
    PREDICTIVE_DRAWS,
    effective_sample_size,
    posterior_summary,
    predictive_check,
)
from cbsim.calibrate.priors import prior_density
from cbsim.inputs.calibration import Calibration
from cbsim.inputs.fileio import atomic_write_bytes, atomic_write_text

POSTERIOR = "posterior.parquet"
REPORT = "report.md"
FIGURES = ("marginals.png", "pairs.png", "generations.png", "predictive.png")


def posterior_frame(cal: Calibration, frame: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """The posterior table: `weight` (sums to 1), then each calibrated parameter."""
    table = pd.DataFrame({"weight": weights / weights.sum()})
    for path in cal.paths:
        table[path] = frame[path].to_numpy(float)
    return table


def write_outputs(
    cal: Calibration,
    frame: pd.DataFrame,
    weights: np.ndarray,
    manifest: dict[str, Any],
    folder: Path,
) -> tuple[list[str], dict[str, Any]]:
    """Write every output into `folder`; return their names and the summary the manifest
    keeps (the posterior's medians and intervals, the predictive check)."""
    table = posterior_frame(cal, frame, weights)
    table.to_parquet(folder / POSTERIOR, index=False)
    w = table["weight"].to_numpy()
    summary = posterior_summary(cal, table, w)
    checks = predictive_check(cal, table, w)
    figures = {
        "marginals.png": _marginals(cal, table, summary),
        "pairs.png": _pairs(cal, table),
        "generations.png": _generations(manifest["generations"]),
        "predictive.png": _predictive(checks),
    }
    for name, figure in figures.items():
        atomic_write_bytes(folder / name, _png(figure))
    kept: dict[str, Any] = {
        "posterior": summary,
        "predictive": [_without_values(c) for c in checks],
        "effective_sample_size": effective_sample_size(w),
    }
    atomic_write_text(folder / REPORT, _markdown(cal, manifest, kept))
    return [POSTERIOR, REPORT, *FIGURES], kept


def _without_values(check: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in check.items() if k != "values"}


# ------------------------------------------------------------------------ figures
def _png(figure: Any) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _subplots(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return figure, axes


def _marginals(cal: Calibration, table: pd.DataFrame, summary: list[dict[str, Any]]) -> Any:
    cols = min(3, len(cal.priors))
    rows = math.ceil(len(cal.priors) / cols)
    figure, axes = _subplots(rows, cols, (4.2 * cols, 3.0 * rows))
    for ax, prior, row in zip(axes.flat, cal.priors, summary, strict=False):
        values = table[prior.path].to_numpy()
        top = min(prior.high, max(float(values.max()), row["prior_interval"][1]) * 1.1)
        grid = np.linspace(prior.low, top, 200)
        ax.hist(
            values,
            bins=30,
            range=(prior.low, top),
            weights=table["weight"],
            density=True,
            color="#4c72b0",
            alpha=0.7,
            label="posterior",
        )
        ax.plot(grid, prior_density(prior, grid), "k--", lw=1, label="prior")
        ax.axvline(row["default"], color="#c44e52", lw=1.2, label="hand-set value")
        ax.axvspan(*row["interval"], color="#4c72b0", alpha=0.12, label=f"{LEVEL:.0%} interval")
        ax.set_title(prior.path, fontsize=9)
    for ax in list(axes.flat)[len(cal.priors) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.suptitle(f"{cal.name}: posterior marginals ({len(table)} particles)")
    figure.tight_layout()
    return figure


def _pairs(cal: Calibration, table: pd.DataFrame) -> Any:
    k = len(cal.paths)
    figure, axes = _subplots(k, k, (2.3 * k, 2.3 * k))
    w = table["weight"].to_numpy()
    sizes = 4 + 40 * w / w.max()
    for i, y in enumerate(cal.paths):
        for j, x in enumerate(cal.paths):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(table[x], bins=25, weights=w, color="#4c72b0", alpha=0.7)
            else:
                ax.scatter(table[x], table[y], s=sizes, alpha=0.4, color="#4c72b0", lw=0)
            ax.tick_params(labelsize=6)
            if i == k - 1:
                ax.set_xlabel(x, fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(y, fontsize=7)
    figure.suptitle(f"{cal.name}: posterior, every pair (point size = weight)")
    figure.tight_layout()
    return figure


def _generations(generations: list[dict[str, Any]]) -> Any:
    figure, axes = _subplots(1, 3, (12, 3.2))
    g = [row["generation"] for row in generations]
    panels = (
        ("epsilon", "epsilon (acceptance threshold)"),
        ("acceptance_rate", "acceptance rate"),
        ("effective_sample_size", "effective sample size"),
    )
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        ax.plot(g, [row[key] for row in generations], "o-", color="#4c72b0")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("generation")
        ax.set_xticks(g)
    return figure


def _predictive(checks: list[dict[str, Any]]) -> Any:
    figure, axes = _subplots(len(checks), 1, (8, 1.1 * len(checks) + 0.6))
    for ax, check in zip(axes.flat, checks, strict=True):
        values = np.asarray(check["values"])
        jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(values))
        ax.plot(values, jitter, "o", ms=2, alpha=0.3, color="#4c72b0")
        ax.hlines(0, *check["interval"], lw=4, color="#4c72b0", alpha=0.6, label="posterior")
        ax.hlines(-0.35, *check["prior_interval"], lw=2, color="grey", alpha=0.6, label="prior")
        ax.plot(check["median"], 0, "|", ms=14, color="k")
        _mark_history(ax, check)
        role = "validation" if check["holdout"] else "fitted"
        verdict = "inside" if check["consistent"] else "OUTSIDE"
        ax.set_title(
            f"{check['name']} ({role}): {check['statistic']} {check['wanted']} -> {verdict}",
            fontsize=8,
            loc="left",
        )
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.3)
    axes.flat[0].legend(fontsize=7, loc="upper right")
    figure.suptitle(f"posterior predictive check: {LEVEL:.0%} interval of each target")
    figure.tight_layout()
    return figure


def _mark_history(ax: Any, check: dict[str, Any]) -> None:
    """The observed value (a red line) or the allowed region (shaded green)."""
    wanted = check["wanted"]
    if wanted.startswith("="):
        ax.axvline(float(wanted.split()[1]), color="#c44e52", lw=1.5)
        return
    lo, hi = ax.get_xlim()
    if wanted.startswith("<="):
        bound = float(wanted.split()[1])
        ax.axvspan(min(lo, bound), bound, color="#55a868", alpha=0.15)
        ax.axvline(bound, color="#55a868", lw=1.2)
    elif wanted.startswith(">="):
        bound = float(wanted.split()[1])
        ax.axvspan(bound, max(hi, bound), color="#55a868", alpha=0.15)
        ax.axvline(bound, color="#55a868", lw=1.2)
    else:
        low, high = (float(x) for x in wanted[4:-1].split(","))
        ax.axvspan(low, high, color="#55a868", alpha=0.15)
    span = max(hi - lo, 0.1)
    ax.set_xlim(lo - 0.05 * span, hi + 0.05 * span)


# ------------------------------------------------------------------------ report.md
def _markdown(cal: Calibration, manifest: dict[str, Any], kept: dict[str, Any]) -> str:
    gens = manifest["generations"]
    prior_n = (manifest.get("prior_sample") or {}).get("evaluations", 0)
    evaluations = prior_n + sum(g["evaluations"] for g in gens)
    lines = [
        f"# Calibration: {cal.name}",
        "",
        cal.description,
        "",
        f"- file: `{cal.path}` (copied as `calibration.toml`); seed {cal.seed}",
        f"- ABC-SMC (pyabc): population {cal.population}, {len(gens)} of at most "
        f"{cal.max_generations} generations; stopped: {manifest.get('stop_reason', '')}",
        f"- {evaluations:,} particles evaluated ({prior_n:,} of them the prior sample that set "
        f"the first epsilon), {manifest['simulations_per_evaluation']} runs of the model each",
        f"- final population: {gens[-1]['particles']} particles, "
        f"effective sample size {kept['effective_sample_size']:.0f}",
        "",
        "## Posterior",
        "",
        f"| parameter | prior | prior {LEVEL:.0%} | posterior median | posterior {LEVEL:.0%} "
        "| in prior quantiles | width / prior's | hand-set |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in kept["posterior"]:
        ratio = "" if row["width_ratio"] is None else f"{row['width_ratio']:.2f}"
        quantiles = "({:.2f}, {:.2f})".format(*row["prior_quantiles"])
        lines.append(
            f"| `{row['path']}` | {row['prior']} | {_interval(row['prior_interval'])} | "
            f"{row['median']:.3g} | {_interval(row['interval'])} | {quantiles} | {ratio} | "
            f"{row['default']:g} |"
        )
    lines += [
        "",
        f"*In prior quantiles*: the shares of the prior below the two ends of the posterior "
        f"{LEVEL:.0%} interval; (0.05, 0.95) means the targets taught nothing about the "
        "parameter. *Hand-set*: the value set by hand before this calibration (ODD section 8).",
    ]
    lines += ["", "![marginals](marginals.png)", "", "![pairs](pairs.png)", ""]
    lines += _generation_lines(gens)
    lines += _predictive_lines(kept["predictive"])
    lines += _unpinned_lines(kept["posterior"])
    return "\n".join(lines) + "\n"


def _interval(pair: list[float]) -> str:
    return f"[{pair[0]:.3g}, {pair[1]:.3g}]"


def _generation_lines(gens: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Generations",
        "",
        "| generation | epsilon | evaluated | acceptance rate | effective sample size | s |",
        "|---|---|---|---|---|---|",
    ]
    for g in gens:
        seconds = "" if g["seconds"] is None else f"{g['seconds']:.0f}"
        lines.append(
            f"| {g['generation']} | {g['epsilon']:.4g} | {g['evaluations']:,} | "
            f"{g['acceptance_rate']:.3f} | {g['effective_sample_size']:.0f} | {seconds} |"
        )
    return [*lines, "", "![generations](generations.png)", ""]


def _predictive_lines(checks: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Posterior predictive check",
        "",
        f"Each target's statistic for {PREDICTIVE_DRAWS} particles drawn by weight, on fresh "
        f"seeds; {LEVEL:.0%} interval, and whether history lies inside it.",
        "",
        "| target | role | statistic | history | median | interval | share meeting | verdict "
        "| prior: interval | prior: share meeting |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in checks:
        role = "validation" if c["holdout"] else "fitted"
        share, before = (
            "" if x is None else f"{x:.2f}" for x in (c["share_meeting"], c["prior_share_meeting"])
        )
        verdict = "inside" if c["consistent"] else "**outside**"
        lines.append(
            f"| {c['name']} | {role} | {c['statistic']} | {c['wanted']} | {c['median']:.3g} | "
            f"{_interval(c['interval'])} | {share} | {verdict} | "
            f"{_interval(c['prior_interval'])} | {before} |"
        )
    lines += [
        "",
        "*Share meeting*: of the draws, those whose statistic meets the bounds. A target that "
        "nearly every prior draw already meets cannot tell parameter values apart.",
    ]
    return [*lines, "", "![predictive](predictive.png)", ""]


def _unpinned_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## What these targets pin down, and what they cannot", ""]
    for row in rows:
        low, high = row["prior_quantiles"]
        ruled = [
            f"the lowest {low:.0%}" if low >= 0.15 else "",
            f"the highest {1 - high:.0%}" if high <= 0.85 else "",
        ]
        said = " and ".join(r for r in ruled if r)
        if said:
            lines.append(f"- `{row['path']}`: the targets rule out {said} of the prior.")
        else:
            lines.append(
                f"- `{row['path']}`: not pinned down; the posterior is close to the prior."
            )
    return [*lines, ""]
