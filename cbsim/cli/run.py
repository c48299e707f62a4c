"""`cbsim run`: one scenario, one seed; its outputs carry the overrides that made it."""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
from pathlib import Path
from typing import Any

from cbsim.cli.common import command, say, seed_arg
from cbsim.inputs.errors import CbsimError

EXAMPLES = [
    "cbsim run baseline_2011 --seed 3",
    "cbsim run baseline_2011 --set offer.funding_boost_m=1.0 --out out/boost-1m",
    "cbsim run troubled_families_2012 --against baseline_2011",
    "cbsim run baseline_2011 --posterior posteriors/history --seed 7",
]


def add(sub) -> None:
    """Register `cbsim run`."""
    run = command(sub, "run", "run one scenario and write its outputs", EXAMPLES)
    run.add_argument("scenario", metavar="SCENARIO", help="scenario name or path to a TOML file")
    run.add_argument("--seed", type=seed_arg, default=1, help="random seed (default 1)")
    run.add_argument(
        "--posterior",
        metavar="DIR",
        help="take the calibrated parameters from a particle of the posterior in DIR (cbsim "
        "calibrate), picked by weight from the seed; --set goes on top",
    )
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a parameter, e.g. --set offer.national_pooling=true (recorded in "
        "outcomes.json, the summary and the plot's title)",
    )
    run.add_argument(
        "--out",
        metavar="DIR",
        help="new or empty output folder (default out/SCENARIO-seedN, plus a digest of "
        "the --set overrides when there are any)",
    )
    run.add_argument(
        "--force", action="store_true", help="replace the run files of an existing --out folder"
    )
    run.add_argument(
        "--against",
        metavar="SCENARIO",
        help="print one seed's cost per extra authority against SCENARIO (see cbsim compare)",
    )
    run.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the scenario, write its outputs, print its summary."""
    from cbsim.inputs.fileio import check_output_path
    from cbsim.inputs.scenario import load_scenario, parse_set_options
    from cbsim.model.model import CommunityBudgetModel
    from cbsim.outputs.run_files import RUN_FILES, Provenance, summary, write_run_outputs

    if args.out is not None:
        check_output_path(args.out, "--out")  # before any work: a name the disk would refuse
    spec = _with_posterior(load_scenario(args.scenario), args)
    overrides = parse_set_options(args.sets)
    spec = spec.with_overrides(overrides, source="--set")
    against = load_scenario(args.against) if args.against else None
    applied = {path: spec.values[path] for path in overrides}
    if args.out is None:
        out = default_out(spec.name, args.seed, applied, args.posterior)
    else:
        out = Path(args.out)
    check_output_path(out, "--out")
    _check_new_or_forced(out, args.force)
    provenance = Provenance(
        seed=args.seed,
        overrides=applied,
        posterior=args.posterior,
    )

    def stop(signum: int, frame: object) -> None:  # SIGTERM: stop as Ctrl-C does (exit 130)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        model = CommunityBudgetModel(scenario=spec, rng=args.seed)
        model.run_to_end()
        try:
            write_run_outputs(model, out, provenance)  # cleans up after itself if stopped
            _record_posterior(out, args)
        except OSError as exc:
            raise CbsimError(f"{out}: cannot write outputs ({exc.strerror or exc})") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    lines = [summary(model, provenance)]
    if against is not None:
        from cbsim.policy.compare import against_line

        lines.append(against_line(model.outcomes(), against, args.seed))
    lines.append(f"outputs: {out}/ ({', '.join(RUN_FILES)})")
    return say(lines, f"the outputs are in {out}/")


def default_out(
    scenario: str, seed: int, overrides: dict[str, Any], posterior: str | None = None
) -> Path:
    """out/SCENARIO-seedN, or out/SCENARIO-seedN-XXXXXXXX with `--set` overrides or a
    posterior (a digest of the overrides as applied, in path order, and the posterior's
    folder), so that runs made otherwise do not collide and the same run finds its folder."""
    name = f"{scenario}-seed{seed}"
    if overrides or posterior is not None:
        made = json.dumps([sorted(overrides.items()), posterior], default=str)
        name += "-" + hashlib.sha256(made.encode()).hexdigest()[:8]
    return Path("out") / name


def _check_new_or_forced(out: Path, force: bool) -> None:
    """An existing, non-empty `out` is refused (like a sweep's) unless --force."""
    if force or not out.exists():
        return
    if not out.is_dir():
        raise CbsimError(f"--out: {out} exists and is not a folder")
    if any(out.iterdir()):
        raise CbsimError(
            f"--out: {out} already holds files (an earlier run?); choose another folder, "
            "or add --force to replace its run files"
        )


def _with_posterior(spec, args: argparse.Namespace):
    """`spec` with the parameters of the posterior particle `--seed` picks (if --posterior)."""
    if args.posterior is None:
        return spec
    from cbsim.calibrate.posterior import load_posterior

    draw = load_posterior(args.posterior).draw(args.seed)
    return spec.with_overrides(draw, source=f"--posterior {args.posterior}")


def _record_posterior(out: Path, args: argparse.Namespace) -> None:
    """posterior.json beside the run's outputs: which posterior and particle it used."""
    from cbsim.calibrate.posterior import load_posterior, write_draw_record
    from cbsim.inputs.scenario import parse_set_option

    if args.posterior is None:
        return write_draw_record(out, None)
    overridden = [parse_set_option(s)[0] for s in args.sets]
    write_draw_record(out, load_posterior(args.posterior).record(args.seed, overridden))
