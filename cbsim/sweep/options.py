"""The sweep's execution options, checked before any work: ``--workers`` and ``--scheduler``
(their parsing and help for the command line too), and the engine they choose (in-process, a
process pool, or Dask). Light to import: the engines are imported when one is made."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from cbsim.inputs.errors import CbsimError
from cbsim.sweep.spec import CONNECT_TIMEOUT_S, MAX_WORKERS, PROBE_TIMEOUT_S, WORKERS_TIMEOUT_S

if TYPE_CHECKING:
    from cbsim.sweep.engines import Engine
    from cbsim.sweep.workload import Work

WORKERS_HELP = (
    f"local processes, 1 to {MAX_WORKERS} (default: all cores, at most {MAX_WORKERS}; never "
    "more than there are batches of runs)"
)
SCHEDULER_HELP = (
    "Dask scheduler address tcp://HOST:PORT, or 'local' for a LocalCluster; gives up in one "
    f"line if no Dask scheduler answers within {CONNECT_TIMEOUT_S} s, it has no worker within "
    f"{WORKERS_TIMEOUT_S} s, or its workers cannot run cbsim within {PROBE_TIMEOUT_S} s"
)


def workers_arg(text: str) -> int:
    """``--workers`` on the command line: a whole number from 1 to MAX_WORKERS (argparse
    prints the refusal as one line)."""
    try:
        value = int(text)
    except ValueError:  # also a number of more than 4,300 digits
        value = 0
    if not 1 <= value <= MAX_WORKERS:
        shown = repr(text) if len(text) <= 20 else repr(text[:17] + "...")
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_WORKERS}, got {shown}"
        )
    return value


def check_scheduler(address: str) -> str:
    """`address` if it is ``local`` or ``tcp://HOST:PORT``; else a one-line CbsimError.

    Only plain TCP is supported (tls:// needs certificates cbsim has no option for; ucx://
    and inproc:// are not for a sweep run from the command line)."""
    from urllib.parse import urlsplit

    shown = _shown(address)
    example = "e.g. tcp://192.168.1.10:8786, or 'local'"
    if address == "local":
        return address
    scheme, sep, _ = address.partition("://")
    if not sep:
        raise CbsimError(f"--scheduler {shown}: expected tcp://HOST:PORT ({example})")
    if scheme != "tcp":
        raise CbsimError(
            f"--scheduler {shown}: only tcp:// addresses (and 'local') are supported ({example})"
        )
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as exc:
        raise CbsimError(f"--scheduler {shown}: {exc} ({example})") from None
    if not parts.hostname or port is None or port == 0:
        raise CbsimError(
            f"--scheduler {shown}: expected tcp://HOST:PORT with a port from 1 to 65535 ({example})"
        )
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise CbsimError(f"--scheduler {shown}: expected nothing but tcp://HOST:PORT ({example})")
    if not address.isprintable() or any(c.isspace() for c in address):
        raise CbsimError(f"--scheduler {shown}: spaces or control codes in the address")
    return address


def _shown(text: str) -> str:
    """`text` for a one-line message: quoted if not printable, cut to 80 characters."""
    shown = text if text and text.isprintable() else repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def check_workers(workers: int | None) -> None:
    """None (all cores) or a whole number from 1 to MAX_WORKERS; else one-line CbsimError."""
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise CbsimError(f"--workers must be a whole number, got {_shown(repr(workers))}")
    if not 1 <= workers <= MAX_WORKERS:
        shown = workers if workers.bit_length() < 64 else "a larger number"
        raise CbsimError(f"--workers must be from 1 to {MAX_WORKERS}, got {shown}")


def make_engine(scenario: Work, workers: int | None, scheduler: str | None) -> Engine:
    """The engine for the options: in-process, process pool, or Dask."""
    from cbsim.sweep.engines import PoolEngine, SerialEngine

    check_workers(workers)
    n = workers or default_workers()
    if scheduler:
        from cbsim.sweep.dask_engine import DaskEngine

        return DaskEngine(scenario, check_scheduler(scheduler), n)
    if n == 1:
        return SerialEngine(scenario)
    return PoolEngine(scenario, n)


def default_workers() -> int:
    """The worker count when none is given: the cores this process may use, at most
    MAX_WORKERS."""
    from cbsim.sweep.engines import available_cores

    return min(available_cores(), MAX_WORKERS)


def useful_workers(runs: int, workers: int, batch_size: int | None = None) -> int:
    """How many of `workers` can have a batch: never more than there are batches, so never
    more than there are runs (or ceil(runs / batch_size) with a batch size). The scheduler
    makes at least this many batches of `runs` runs for this many workers."""
    most = runs if batch_size is None else math.ceil(runs / batch_size)
    return max(1, min(workers, most))
