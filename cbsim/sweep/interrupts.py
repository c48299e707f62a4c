"""Ctrl-C and SIGTERM during a sweep: the first stops it, any later one is ignored.

A second Ctrl-C a few milliseconds after the first used to land in the sweep's finishing
(stopping the workers, writing the last results and the manifest), leaving the manifest
``running``, no resume hint and Python's "Exception ignored" noise, or killed the process
as it exited. `stop_once` raises `KeyboardInterrupt` for the first signal only and blocks
both signals from then on; no handler is ever swapped for SIG_IGN (Python would report a
signal arriving in that moment as "ignored due to race condition").
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from typing import Any


class _Stop(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


_stopping = [False]  # a first SIGINT or SIGTERM came: `stop_once` ignores the others
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Saved:
    """What `catch_interrupts` replaced: the handlers and this thread's signal mask."""

    handlers: dict[int, Any]
    mask: set[int] | None


def stop_once(signum: int, frame: Any) -> None:
    """A handler for SIGINT and SIGTERM: the first raises KeyboardInterrupt (SIGTERM: a
    subclass); it also blocks both signals, so that any later one waits, harmlessly, until
    the sweep has finished its work (manifest, resume hint) and `restore_handlers` (or the
    process's exit, which drops it) comes. A later one run here anyway is ignored.

    Blocking matters at exit: Python puts the default handlers back as it shuts down, and a
    second Ctrl-C arriving then would kill `cbsim sweep` (exit status -2) after it printed
    its hint."""
    if _stopping[0]:
        return
    _stopping[0] = True
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    raise _Stop() if signum == signal.SIGTERM else KeyboardInterrupt()


def catch_interrupts() -> Saved | None:
    """Install `stop_once` for SIGINT and SIGTERM (main thread only); return what it
    replaced, for `restore_handlers`."""
    if threading.current_thread() is not threading.main_thread():
        return None
    _stopping[0] = False
    mask = (
        signal.pthread_sigmask(signal.SIG_BLOCK, []) if hasattr(signal, "pthread_sigmask") else None
    )
    return Saved({s: signal.signal(s, stop_once) for s in SIGNALS}, mask)


def restore_handlers(saved: Saved | None) -> None:
    """Put back what `catch_interrupts` replaced: the signal mask (a signal that came in the
    meantime goes to `stop_once`, which ignores it), then the handlers. When the caller
    handles the signals with `stop_once` too (`cbsim sweep`) and one came, nothing is put
    back: later ones stay blocked until the process exits."""
    if saved is None:
        return
    if _stopping[0] and all(h is stop_once for h in saved.handlers.values()):
        return
    if saved.mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved.mask)
    for signum, handler in saved.handlers.items():
        signal.signal(signum, handler)


def stop_once_until_exit() -> None:
    """Handle SIGINT and SIGTERM with `stop_once` for the rest of this process (`cbsim
    sweep`): a sweep's `restore_handlers` then leaves later signals blocked until exit."""
    for signum in SIGNALS:
        signal.signal(signum, stop_once)
