"""What the subcommands share: argument types, printing once the work is done, examples."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2), like bad input."""

    def error(self, message: str):  # argparse calls this on a usage error
        self.exit(
            EXIT_INPUT,
            f"{self.prog}: error: {' '.join(message.splitlines())} (see {self.prog} --help)\n",
        )


def command(sub, name: str, help: str, examples: list[str]) -> argparse.ArgumentParser:
    """A subcommand's parser whose --help ends with worked examples."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def seed_arg(text: str) -> int:
    """A random seed: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def count_arg(low: int, high: int):
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        value = int(text) if text.strip().isdigit() and len(text) <= 20 else low - 1
        if not low <= value <= high:
            shown = repr(text) if len(text) <= 20 else repr(text[:17] + "...")
            raise argparse.ArgumentTypeError(
                f"expected a whole number {low:,} to {high:,}, got {shown}"
            )
        return value

    return parse


def say(lines: list[str], done: str) -> int:
    """Print `lines` on stdout once the work is done; if stdout cannot take them (a full
    disk, a closed pipe), one line on stderr and exit status 1 (`done` says what was done)."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except OSError as exc:
        devnull = os.open(os.devnull, os.O_WRONLY)  # so that nothing is retried at exit
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        reason = exc.strerror or type(exc).__name__
        print(f"cbsim: error: stdout: cannot write ({reason}); {done}", file=sys.stderr)
        return 1
    return 0
