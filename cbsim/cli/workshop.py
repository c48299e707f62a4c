"""`cbsim viz`: the workshop view in the browser (docs/workshop.md)."""

from __future__ import annotations

import argparse
import sys

from cbsim.cli.common import command


def add(sub) -> None:
    """Register `cbsim viz`."""
    viz = command(
        sub,
        "viz",
        "serve the workshop view in the browser",
        [
            "cbsim viz                                  # baseline_2011 on 127.0.0.1:8765",
            "cbsim viz troubled_families_2012 --port 0  # any free port (printed)",
            "cbsim viz --posterior posteriors/history   # the odds under the posterior",
        ],
    )
    viz.add_argument("scenario", metavar="SCENARIO", nargs="?", default="baseline_2011")
    viz.add_argument(
        "--host",
        default="127.0.0.1",
        help="address or host name to listen on, not empty (default 127.0.0.1; any other "
        "than a loopback address is warned about)",
    )
    viz.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port, 1-65535, or 0 for any free port (the one picked is printed; default 8765)",
    )
    viz.add_argument(
        "--posterior",
        metavar="DIR",
        default=None,
        help="a finished calibration's folder: the page's odds draw run i's parameters from "
        "its posterior with seed i",
    )
    viz.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Serve the page until stopped."""
    from cbsim.workshop.server import prepare, run_server

    launch = prepare(args.scenario, host=args.host, port=args.port, posterior=args.posterior)
    print(launch.status, flush=True)
    for warning in launch.warnings:
        print(warning, file=sys.stderr, flush=True)
    return run_server(launch)
