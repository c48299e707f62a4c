"""Files and text of `compare` and `search`: tables (CSV), summaries (JSON), the cost/P
frontier figure (PNG, Agg) and the lines the CLI prints (docs/policy.md)."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from cbsim.inputs.errors import InputError
from cbsim.inputs.fileio import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_output_path,
)
from cbsim.policy.compare import Comparison
from cbsim.policy.search import SearchResult
from cbsim.policy.stats import Interval, wilson_interval

COMPARE_FILES = ("compare_runs.csv", "compare_summary.json")
SEARCH_FILES = ("search_trials.csv", "search_frontier.png", "search_summary.json")


# ------------------------------------------------------------------------ files
def check_out_folder(out: str | os.PathLike[str]) -> Path:
    """`--out` as a folder that can be made or reused (checked before any work)."""
    path = check_output_path(out, "--out")
    if path.exists() and not path.is_dir():
        raise InputError("--out", None, f"{path} exists and is not a folder")
    return path


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """Rows with the same keys as CSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_comparison(comparison: Comparison, out: str | os.PathLike[str]) -> list[Path]:
    """The per-seed table (CSV) and the summary (JSON) in `out`; their paths."""
    folder = check_out_folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    table, summary = (folder / name for name in COMPARE_FILES)
    atomic_write_text(table, rows_csv(comparison.rows))
    atomic_write_json(summary, comparison.summary())
    return [table, summary]


def search_rows(result: SearchResult) -> list[dict[str, Any]]:
    """One row per package tried: its levers, P, costs, feasible and on the frontier."""
    rows = []
    for c in result.candidates:
        rows.append(
            {
                "trial": c.trial,
                **c.levers,
                "p": c.p,
                "cost_m": c.cost_m,
                "central_cost_m": c.central_cost_m,
                "central_cost_m_at_target": c.central_cost_m_at_target,
                "feasible": c.feasible,
                "frontier": c.trial in result.frontier,
            }
        )
    return rows


def write_search(result: SearchResult, out: str | os.PathLike[str]) -> list[Path]:
    """The packages tried (CSV), the cost/P frontier (PNG) and the summary (JSON) in `out`."""
    folder = check_out_folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    table, figure, summary = (folder / name for name in SEARCH_FILES)
    atomic_write_text(table, rows_csv(search_rows(result)))
    atomic_write_bytes(figure, frontier_png(result))
    atomic_write_json(summary, result.summary())
    return [table, figure, summary]


def frontier_png(result: SearchResult) -> bytes:
    """Mean cost against P(target met) of every package tried, the frontier joined, the
    required P marked and the winner ringed."""
    from matplotlib.figure import Figure

    from cbsim.outputs.figures import TARGET_COLOUR, figure_png

    search = result.search
    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    ax = fig.add_subplot()
    cands = result.candidates
    ax.scatter(
        [c.cost_m for c in cands],
        [c.p for c in cands],
        s=14,
        c=["#1f6f8b" if c.feasible else "#9aa5ad" for c in cands],
        label="package tried",
    )
    edge = sorted((c for c in cands if c.trial in result.frontier), key=lambda c: c.cost_m)
    ax.step(
        [c.cost_m for c in edge],
        [c.p for c in edge],
        where="post",
        color="#1f6f8b",
        lw=1,
        label="frontier",
    )
    bars = [wilson_interval(round(c.p * search.runs), search.runs) for c in edge]
    ax.errorbar(
        [c.cost_m for c in edge],
        [c.p for c in edge],
        yerr=[[i.estimate - i.low for i in bars], [i.high - i.estimate for i in bars]],
        fmt="none",
        ecolor="#1f6f8b",
        elinewidth=0.8,
        capsize=2,
        label=f"95% Wilson interval ({search.runs} seeds)",
    )
    ax.axhline(search.required_p, color=TARGET_COLOUR, ls="--", lw=1, label="required P")
    winner = result.winner
    if winner is not None:
        fresh = winner.p
        ax.errorbar(
            [winner.cost_m],
            [fresh.estimate],
            yerr=[[fresh.estimate - fresh.low], [fresh.high - fresh.estimate]],
            fmt="D",
            ms=4,
            color=TARGET_COLOUR,
            capsize=3,
            label=f"winner on {winner.runs} fresh seeds (95%)",
        )
        ax.scatter(
            [winner.candidate.cost_m],
            [winner.candidate.p],
            s=90,
            facecolors="none",
            edgecolors=TARGET_COLOUR,
            label="winner",
        )
    ax.set_xlabel(f"mean {search.objective} (£m, {search.runs} common seeds)")
    ax.set_ylabel("P(target met)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"{search.name}: cost against P(target met)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return figure_png(fig)


# ------------------------------------------------------------------------ text
def _signed(x: float, digits: int) -> str:
    return f"{x:+.{digits}f}"


def _interval(i: Interval, digits: int) -> str:
    high = "inf" if math.isinf(i.high) else _signed(i.high, digits)
    return f"[{_signed(i.low, digits)}, {high}]"


def comparison_lines(c: Comparison) -> list[str]:
    """What `cbsim compare` prints."""
    lines = [
        f"B: {c.name_b}",
        f"A: {c.name_a}",
        f"{c.runs} seeds from --seed {c.seed}, the same for A and B"
        + (f"; parameters drawn from the posterior {c.posterior}" if c.posterior else ""),
        f"{'':<44}{'A':>9}{'B':>9}  {'B - A':>8} {'paired 95%':<19} unpaired 95%",
    ]
    for d in c.differences:
        digits = 1 if "cost" in d.outcome or "count" in d.outcome else 3
        lines.append(
            f"{d.label:<44}{d.mean_a:9.{digits}f}{d.mean_b:9.{digits}f}  "
            f"{_signed(d.paired.estimate, digits):>8} {_interval(d.paired, digits):<19} "
            f"{_interval(d.unpaired, digits)}"
        )
    ratio = c.cost_per_extra
    if ratio is None:
        lines.append(
            "cost per extra authority developing a community budget: none (B adds no "
            "authority at the target date on average)"
        )
    else:
        high = "unbounded" if math.isinf(ratio.high) else f"{ratio.high:.2f}"
        lines.append(
            f"cost per extra authority developing a community budget at the target date: "
            f"£{ratio.estimate:.2f}m [{ratio.low:.2f}, {high}] (bootstrap over the seeds)"
        )
    return lines


def _package(levers: dict[str, Any]) -> str:
    shown = []
    for path, value in levers.items():
        name = path.removeprefix("offer.")
        if isinstance(value, bool):
            shown.append(f"{name} {'on' if value else 'off'}")
        else:
            shown.append(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}")
    return ", ".join(shown)


def search_lines(result: SearchResult) -> list[str]:
    """What `cbsim search` prints."""
    s = result.search
    feasible = sum(c.feasible for c in result.candidates)
    lines = [
        f"{s.name}: {result.trials} trials ({len(result.candidates)} packages, {feasible} "
        f"with P >= {s.required_p:g} on {s.runs} common seeds); {result.runs_done:,} runs in "
        f"{result.seconds:.1f} s on {result.engine}"
    ]
    for r in result.rechecks:
        verdict = "kept" if r.passed else "fell below"
        lines.append(
            f"re-checked on {r.runs} fresh seeds: {_package(r.candidate.levers)}: P = "
            f"{r.p.estimate:.3f} [{r.p.low:.3f}, {r.p.high:.3f}] (Wilson 95%), {verdict} "
            f"{s.required_p:g}; mean {s.objective} £{r.cost_m:.1f}m"
        )
    winner = result.winner
    if winner is None:
        best = max(result.candidates, key=lambda c: (c.p, -c.cost_m))
        lines.append(
            f"no package reached P >= {s.required_p:g} on fresh seeds; the likeliest tried: "
            f"{_package(best.levers)} (P = {best.p:.3f} on the search's seeds, "
            f"£{best.cost_m:.1f}m)"
        )
    else:
        lines.append(
            f"cheapest package: {_package(winner.candidate.levers)}; mean {s.objective} "
            f"£{winner.cost_m:.1f}m; P(target met) = {winner.p.estimate:.3f} "
            f"[{winner.p.low:.3f}, {winner.p.high:.3f}]"
        )
    return lines
