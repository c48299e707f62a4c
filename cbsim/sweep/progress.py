"""The sweep's progress bar on stderr (tqdm, imported only when a bar is shown)."""

from __future__ import annotations

import sys
from typing import Any, Protocol


class Bar(Protocol):
    """What the sweep calls on a progress bar."""

    def update(self, n: int = 1) -> Any: ...

    def set_postfix(self, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


def progress_bar(total: int, initial: int, label: str, show: bool) -> Bar:
    """A bar counting runs from `initial` to `total`, or (`show` false) one drawing nothing."""
    if not show:
        return NoBar()
    from tqdm import tqdm

    class ThreadlessBar(tqdm):
        monitor_interval = 0  # no monitor thread: a broken pool's workers are forked again

    return ThreadlessBar(
        total=total,
        initial=initial,
        unit="run",
        desc=label,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.05,
    )


class NoBar:
    """A progress bar that draws nothing (no terminal to draw on)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
