"""The `cbsim` command line: run, sweep, analyse, compare, search, calibrate, viz, scenarios,
params. One module per group of commands; each parses its arguments, calls the library and
prints (the only place that writes to the terminal)."""

from __future__ import annotations

import argparse
import sys

from cbsim.cli import calibrate, listing, policy, run, sweeps, workshop
from cbsim.cli.common import EXIT_INPUT, OneLineParser
from cbsim.inputs.errors import CbsimError

__all__ = ["EXIT_INPUT", "main"]

EPILOG = """examples:
  cbsim run baseline_2011 --seed 3
  cbsim sweep offer_vs_pressure_grid --workers 2 && cbsim analyse sweeps/offer_vs_pressure_grid
  cbsim compare baseline_2011 compelling_offer
  cbsim search cheapest_package_2011
  cbsim viz
Each command's --help has its own examples."""


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input, one line on stderr)."""
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CbsimError as exc:
        print(f"cbsim: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # e.g. `cbsim params | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("cbsim: interrupted", file=sys.stderr)
        return 130


def parser() -> argparse.ArgumentParser:
    """The whole command line."""
    cbsim = __import__("cbsim")
    top = OneLineParser(
        prog="cbsim",
        description=cbsim.__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"cbsim {cbsim.__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (run, sweeps, policy, workshop, listing, calibrate):
        group.add(sub)
    return top
