"""The report's scenario-discovery section: every PRIM box, with its statistics and limits."""

from __future__ import annotations

from cbsim.analysis.discovery import LEFT_COVERAGE_STOP, PRIM_MAX_BOXES, Box, Discovery
from cbsim.analysis.text import prob


def discovery_lines(found: Discovery) -> list[str]:
    """What PRIM's boxes mean, each box (its statistics and restricted factors), and why
    the search stopped; or why PRIM was not run."""
    if not found.boxes:
        return [
            f"**Not computed:** PRIM needs runs that meet the target and runs that do not, "
            f"and a factor that varies; here {found.stop}."
        ]
    lines = [
        f"Runs that meet the target, explained by the factors (EMA Workbench PRIM), route "
        f"by route: a box is found, its runs are set aside, and PRIM looks again among the "
        f"runs left, until a new box's density falls below {found.threshold:.3g} (0.8, or "
        f"halfway from the overall rate to 1 if higher), fewer than "
        f"{LEFT_COVERAGE_STOP:.0%} of the target-meeting runs are left, or "
        f"{PRIM_MAX_BOXES} boxes are found. On each box's peeling trajectory the box kept "
        f"has the most coverage among those dense enough. Coverage: share of all "
        f"{found.total_met:,} target-meeting runs that fall in the box; density: share of "
        f"the runs in the box that meet the target (a proportion, with its 95% Wilson "
        f"interval). A later box is counted on the runs outside the earlier boxes; "
        f'"on its own" counts every run within its limits. Smallest box allowed: '
        f"{found.mass_min:.3g} of the runs ({max(1, round(found.mass_min * found.total_runs)):,}).",
        "",
        f"**{len(found.boxes)} route{'s' if len(found.boxes) > 1 else ''} found**; the search "
        f"stopped because {found.stop}.",
        "",
    ]
    for b in found.boxes:
        lines += _box_lines(b)
    return lines


def _box_lines(b: Box) -> list[str]:
    alone = b["met_alone"] / b["runs_alone"] if b["runs_alone"] else float("nan")
    lines = [
        f"**Box {b['box']}**: coverage {b['coverage']:.3f}, density {b['density']:.3f} "
        f"[{prob(b['density_lo'])}, {prob(b['density_hi'])}], mass {b['mass']:.3f} "
        f"({b['runs_in_box']:,} runs, {b['met_in_box']:,} meeting the target)"
        + (
            f"; on its own {b['met_alone']:,} of {b['runs_alone']:,} runs meet the target "
            f"(density {alone:.3f})"
            if b["box"] > 1
            else ""
        ),
        "",
    ]
    if not b["restrictions"]:
        return lines + ["No restriction: the whole space.", ""]
    lines += ["| factor | in the box | sampled range |", "|---|---|---|"]
    lines += [f"| `{r['factor']}` | {r['box']} | {r['full']} |" for r in b["restrictions"]]
    return lines + [""]
