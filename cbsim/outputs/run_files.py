"""Outputs of one run: summary text, timeseries.csv, outcomes.json, adoption.png."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cbsim.inputs.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from cbsim.model.model import CommunityBudgetModel
from cbsim.outputs.figures import adoption_figure, figure_png

RUN_FILES = ("timeseries.csv", "outcomes.json", "actions.json", "adoption.png")


@dataclass(frozen=True)
class Provenance:
    """What made a run besides its scenario file: the seed, the `--set` overrides (as
    applied, after conversion) and the posterior its calibrated parameters came from."""

    seed: int | None
    overrides: dict[str, Any] = field(default_factory=dict)
    posterior: str | None = None

    def overrides_text(self) -> str:
        """`path=value, ...` (TOML spelling of booleans), or "" without overrides."""
        return ", ".join(f"{path}={_value_text(v)}" for path, v in self.overrides.items())

    def title(self, scenario: str) -> str:
        """The plot's title: the scenario, the seed and every override."""
        extras = [f"seed {self.seed}", self.overrides_text()]
        if self.posterior is not None:
            extras.append(f"posterior {Path(self.posterior).name}")
        return f"{scenario} ({'; '.join(e for e in extras if e)})"

    def as_dict(self) -> dict[str, Any]:
        """What outcomes.json records."""
        return {"seed": self.seed, "overrides": dict(self.overrides), "posterior": self.posterior}


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def summary(model: CommunityBudgetModel, provenance: Provenance | int | None) -> str:
    """A short human-readable summary of a finished run."""
    made = _provenance(provenance)
    o = model.outcomes()
    n = len(model.council_list)
    lines = [
        f"scenario {o['scenario']}, seed {made.seed}, {model.params['timeline.start']} to "
        f"{o['final_month']}",
        *([f"overrides: {made.overrides_text()}"] if made.overrides else []),
        *([f"posterior: {made.posterior}"] if made.posterior else []),
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
    lines += cost_lines(o)
    return "\n".join(lines)


def cost_lines(o: dict) -> list[str]:
    """What the incentives cost the centre in a run's outcomes `o` (docs/costs.md)."""
    to_target = o["central_cost_m_at_target"]
    shown = "-" if to_target is None else f"{to_target:.1f}"
    return [
        f"cost to the centre (£m): {o['central_cost_m']:.1f} over the run, {shown} to "
        f"{o['target_date']} (docs/costs.md)",
        f"  funding boost {o['cost_boost_m']:.1f}, payment by results {o['cost_pbr_m']:.1f}, "
        f"champions network {o['cost_champions_m']:.1f}, savings forgone by the freedom to "
        f"reinvest {o['cost_reinvest_m']:.1f}; money pooled is a transfer, not a cost",
    ]


STAGING_PREFIX = ".run."
STAGING_SUFFIX = ".tmp"


def _provenance(provenance: Provenance | int | None) -> Provenance:
    """A Provenance from a plain seed too (a run without overrides)."""
    return provenance if isinstance(provenance, Provenance) else Provenance(seed=provenance)


def write_run_outputs(
    model: CommunityBudgetModel, out: str | os.PathLike, provenance: Provenance | int | None
) -> Path:
    """Write the run's files (`RUN_FILES`) into `out`; return `out`.

    A new `out` is built as a hidden folder beside it and renamed into place, so it is
    either absent or complete. An existing `out` (an earlier run, or a mount point such as
    a Docker volume, where a rename from outside fails) gets the files made in a hidden
    staging folder inside it, then each replaces its namesake at once. Raises OSError when a
    file cannot be written (full disk, no permission): the staging folder is removed and an
    earlier run's files are left as they were. An interruption (KeyboardInterrupt, SIGTERM
    turned into one) cleans up the same way.
    """
    out = Path(out)
    if out.exists():
        _remove_stale_staging(out)
        staging = out / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}{STAGING_SUFFIX}"
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(out.parent, f".{out.name}")
        staging = out.parent / f".{out.name}{STAGING_PREFIX}{uuid.uuid4().hex[:12]}{STAGING_SUFFIX}"
    try:
        staging.mkdir()
        _write_files(model, staging, _provenance(provenance))
        if out.exists():
            for name in RUN_FILES:
                os.replace(staging / name, out / name)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_files(model: CommunityBudgetModel, folder: Path, provenance: Provenance) -> None:
    """Every file of `RUN_FILES`, written atomically into `folder`."""
    series = model.timeseries()
    atomic_write_text(folder / "timeseries.csv", series.to_csv(index=False))
    outcomes = {**provenance.as_dict(), **model.outcomes()}
    atomic_write_json(folder / "outcomes.json", outcomes)
    atomic_write_json(folder / "actions.json", model.action_log)
    fig = adoption_figure(model, title=provenance.title(model.scenario_name))
    atomic_write_bytes(folder / "adoption.png", figure_png(fig))


def _remove_stale_staging(folder: Path, prefix: str = "") -> None:
    """Remove staging folders a killed run left in `folder`."""
    for old in folder.glob(f"{prefix}{STAGING_PREFIX}*{STAGING_SUFFIX}"):
        shutil.rmtree(old, ignore_errors=True)
