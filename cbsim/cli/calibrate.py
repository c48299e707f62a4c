"""`cbsim calibrate`: ABC-SMC against history (cbsim/calibrate, docs/calibration.md)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from cbsim.cli.common import command, say


def add(sub) -> None:
    """Register `cbsim calibrate`."""
    calibrate = command(
        sub,
        "calibrate",
        "fit the calibrated parameters to history (ABC-SMC, pyabc)",
        [
            "cbsim calibrate history --out posteriors/history",
            "cbsim calibrate history --out posteriors/history --resume",
            "cbsim calibrate history --workers 1      # reproducible from its seed",
            "cbsim calibrate history --scheduler local",
        ],
    )
    calibrate.add_argument(
        "calibration", metavar="CALIBRATION", help="calibration name or TOML path"
    )
    calibrate.add_argument(
        "--out",
        metavar="DIR",
        help="output folder: new or empty, or the one to --resume (default posteriors/CALIBRATION)",
    )
    calibrate.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local processes, 1 to 64 (default: every core; 1 makes the whole calibration "
        "reproducible from its seed); with --scheduler local, the cluster's workers",
    )
    calibrate.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address tcp://HOST:PORT, or 'local' for a LocalCluster",
    )
    calibrate.add_argument(
        "--resume", action="store_true", help="continue the calibration recorded in --out"
    )
    calibrate.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run (or resume) the calibration; Ctrl-C keeps the generations on record."""
    from cbsim.calibrate.run import CalibrationInterrupted, Progress, run_calibration

    name = Path(args.calibration).stem
    parent = os.getpid()

    def stop(signum: int, frame: object) -> None:  # Ctrl-C, SIGTERM: the calibration stops
        if os.getpid() != parent:  # a forked worker of pyabc's: leave quietly
            os._exit(130)
        raise KeyboardInterrupt

    def show(progress: Progress) -> None:
        print(f"{name}: {progress.text()}", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = run_calibration(
            args.calibration,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=show,
        )
    except CalibrationInterrupted as stopped:
        print(
            f"cbsim: interrupted with {stopped.generations} generation(s) on record; continue "
            f"with: cbsim calibrate {args.calibration} --out {stopped.out} --resume",
            file=sys.stderr,
        )
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    done = f"the outputs are in {summary.out}/"
    if summary.already_done:
        return say(
            [
                f"{summary.name}: already done ({summary.generations} generations; "
                f"{summary.stop_reason}); outputs in {summary.out}/"
            ],
            done,
        )
    lines = [
        f"{summary.name}: {summary.ran} generation(s) in {summary.seconds:.0f} s on "
        f"{summary.engine} ({summary.simulations:,} model runs, "
        f"{summary.simulations_per_second:,.0f} a second); stopped: {summary.stop_reason}",
        *(
            f"validation: {target}: {'consistent' if ok else 'NOT consistent'} with history"
            for target, ok in summary.validation
        ),
        f"outputs: {summary.out}/ (posterior.parquet, report.md, figures, history.db, "
        "manifest.json)",
        f"next: cbsim run baseline_2011 --posterior {summary.out}",
    ]
    return say(lines, done)
