"""Test-only fault injection for `tests/test_sweep_faults.py` (not part of cbsim).

Python imports a `sitecustomize` module at start-up if one is on the path. The fault tests
start `cbsim` with this folder on PYTHONPATH, so every process of theirs (the sweep, Dask
nannies and workers, and pool workers started by a fork server) loads this file; pool
workers forked by the sweep (Linux) inherit the sweep's patched `cbsim.sweep.engines`, whose
`run_batch` every engine's workers call. Either way a run kills the worker process that runs
it. It does nothing unless one of these environment variables is set:

- ``CBSIM_FAULT_KILL_SEEDS``: comma-separated run seeds; the process running such a run
  kills itself with SIGKILL (as the kernel's out-of-memory killer would) before the run ends.
- ``CBSIM_FAULT_ONCE_DIR``: with ``CBSIM_FAULT_KILL_SEEDS``, kill only the first time each seed
  runs (a marker file per seed in this folder): a transient fault.
- ``CBSIM_FAULT_RAISE_SEEDS``: comma-separated run seeds whose model raises ``ValueError``.
- ``CBSIM_FAULT_KILL_AT_WRITE``: N; the process kills itself half-way through writing the
  Nth file it opens for writing with ``os.fdopen(fd, "wb")`` (what `cbsim.inputs.fileio` does),
  leaving a half-written temporary file behind.
- ``CBSIM_FAULT_HIDE_CBSIM``: any value; ``import cbsim`` fails in this process, as on a Dask
  worker machine where cbsim is not installed.
"""

from __future__ import annotations

import os
import signal


def _seeds(name: str) -> set[int]:
    return {int(s) for s in os.environ.get(name, "").split(",") if s.strip()}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _patch_runs(kill: set[int], once_dir: str | None, fail: set[int]) -> None:
    import cbsim.sweep.engines  # `run_batch` there calls `simulate` for every run

    real = cbsim.sweep.engines.simulate

    def simulate(scenario, seed=None, **overrides):
        if seed in fail:
            raise ValueError(f"injected model failure for seed {seed}")
        if seed in kill:
            if once_dir is None:
                _die()
            try:
                marker = os.open(os.path.join(once_dir, str(seed)), os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                pass
            else:
                os.close(marker)
                _die()
        return real(scenario, seed=seed, **overrides)

    cbsim.sweep.engines.simulate = simulate


def _patch_writes(n: int) -> None:
    real = os.fdopen
    count = 0

    class HalfThenDie:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            os.fsync(self.handle.fileno())
            _die()

        def __getattr__(self, name):
            return getattr(self.handle, name)

    def fdopen(fd, mode="r", *args, **kwargs):
        nonlocal count
        handle = real(fd, mode, *args, **kwargs)
        if mode == "wb":
            count += 1
            if count == n:
                return HalfThenDie(handle)
        return handle

    os.fdopen = fdopen


class _HideCbsim:
    """An import finder under which `import cbsim` (and its submodules) fails."""

    def find_spec(self, name, path=None, target=None):
        if name == "cbsim" or name.startswith("cbsim."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


if os.environ.get("CBSIM_FAULT_HIDE_CBSIM"):
    import sys

    sys.meta_path.insert(0, _HideCbsim())

_kill, _fail = _seeds("CBSIM_FAULT_KILL_SEEDS"), _seeds("CBSIM_FAULT_RAISE_SEEDS")
if _kill or _fail:
    _patch_runs(_kill, os.environ.get("CBSIM_FAULT_ONCE_DIR"), _fail)
if os.environ.get("CBSIM_FAULT_KILL_AT_WRITE"):
    _patch_writes(int(os.environ["CBSIM_FAULT_KILL_AT_WRITE"]))
