"""`cbsim sweep` and `cbsim analyse`: many scenarios x seeds, then the report."""

from __future__ import annotations

import argparse

from cbsim.cli.common import command, say
from cbsim.inputs.errors import CbsimError
from cbsim.sweep import options as sweep_options


def add(sub) -> None:
    """Register `cbsim sweep` and `cbsim analyse`."""
    sweep = command(
        sub,
        "sweep",
        "run an experiment (many scenarios x seeds)",
        [
            "cbsim sweep offer_vs_pressure_grid --workers 2",
            "cbsim sweep experiments/my_grid.toml --out sweeps/my_grid --resume",
            "cbsim sweep sobol_sensitivity --scheduler tcp://10.0.0.5:8786",
            "cbsim sweep offer_vs_pressure_grid --posterior posteriors/history",
        ],
    )
    sweep.add_argument("experiment", metavar="EXPERIMENT", help="experiment name or TOML path")
    sweep.add_argument(
        "--out", metavar="DIR", help="new or empty folder (default sweeps/EXPERIMENT)"
    )
    sweep.add_argument(
        "--workers", type=sweep_options.workers_arg, metavar="N", help=sweep_options.WORKERS_HELP
    )
    sweep.add_argument("--scheduler", metavar="ADDRESS", help=sweep_options.SCHEDULER_HELP)
    sweep.add_argument("--resume", action="store_true", help="finish only the missing runs")
    sweep.add_argument(
        "--posterior",
        metavar="DIR",
        help="draw each run's calibrated parameters from the posterior in DIR (cbsim calibrate), "
        "by weight from the run's own seed",
    )
    sweep.set_defaults(handler=handle_sweep)

    analyse = command(
        sub,
        "analyse",
        "report on a finished sweep (report.md, report.html, tables, figures)",
        [
            "cbsim analyse sweeps/offer_vs_pressure_grid",
            "cbsim analyse sweeps/policy_packages_paired --required-p 0.8",
        ],
    )
    analyse.add_argument("dir", metavar="DIR", help="the sweep's output folder")
    analyse.add_argument(
        "--required-p",
        type=_probability,
        default=None,
        metavar="P",
        help="the P(target met) the report's frontier is drawn at, above 0 and below 1 "
        "(default: the level the sweep records, else 0.9)",
    )
    analyse.set_defaults(handler=handle_analyse)


def _probability(text: str) -> float:
    """A probability strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number above 0 and below 1, got {text!r}")
    return value


def handle_sweep(args: argparse.Namespace) -> int:
    """Run (or resume) the sweep and print what it did."""
    from cbsim.sweep.interrupts import stop_once_until_exit
    from cbsim.sweep.run import run_sweep

    posterior = None
    if args.posterior is not None:
        from cbsim.calibrate.posterior import load_posterior

        posterior = load_posterior(args.posterior)
    stop_once_until_exit()  # a second Ctrl-C cannot cut short the sweep's finishing
    summary = run_sweep(
        args.experiment,
        out=args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        posterior=posterior,
    )
    if summary.retried:
        print(f"{summary.name}: running again {summary.retried:,} runs whose worker process died")
    results = f"results in {summary.runs_dir}/"
    if summary.already_done:
        failed = f" ({summary.failed:,} failed)" if summary.failed else ""
        print(f"{summary.name}: all {summary.planned:,} runs already done{failed}; {results}")
        return summary.exit_status
    failed = ""
    if summary.failed:
        lost = summary.lost_with_worker
        failed = f", {summary.failed:,} failed (see the error column" + (
            f"; {lost:,} lost with their worker process, run again by --resume)" if lost else ")"
        )
    print(
        f"{summary.name}: {summary.ran:,} runs in {summary.seconds:.1f} s on {summary.engine}; "
        f"{summary.done:,} of {summary.planned:,} done{failed}; {results}"
    )
    print(f"next: cbsim analyse {summary.out}")
    return summary.exit_status


def handle_analyse(args: argparse.Namespace) -> int:
    """Write the sweep's report and print where it is."""
    from cbsim.analysis.report import analyse
    from cbsim.inputs.fileio import check_output_path

    check_output_path(args.dir, "analyse")  # a name the disk would refuse: one line
    try:
        report = analyse(args.dir, required_p=args.required_p)
    except CbsimError:
        raise
    except Exception as exc:  # a sweep folder analysis cannot read: one line, no traceback
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise CbsimError(f"analyse: {args.dir}: {type(exc).__name__}: {reason}") from None
    return say([f"report: {report}"], f"the report is {report}")
