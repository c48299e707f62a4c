"""A sweep's output folder: its name, its creation, its lock, and what a killed sweep left.

A new output folder is built so that it is either absent (or empty) or a sweep that
``--resume`` can finish, however the process ends:

- when the folder does not exist, it is built under a hidden name beside it and renamed
  into place;
- when it exists and is empty (say, a Docker volume mounted at ``/out``, which cannot be
  replaced by a rename), the files are made in place, under the folder's lock, with the
  manifest last. A folder that holds no manifest and nothing but what such a start writes
  (the lock first) is one whose start was cut short: it is started again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from cbsim.inputs.errors import CbsimError, InputError
from cbsim.inputs.fileio import PATH_MAX, atomic_write_text, check_output_path
from cbsim.sweep.engines import close_in_workers
from cbsim.sweep.spec import DESIGN, EXPERIMENT_COPY, LOCK, MANIFEST, RUNS_DIR, SERIES_DIR
from cbsim.sweep.store import write_design

if TYPE_CHECKING:
    import numpy as np

    from cbsim.inputs.experiment import Experiment
    from cbsim.sweep.manifest import Manifest

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock against two sweeps in one folder
    fcntl = None  # type: ignore[assignment]  # the module is absent on Windows

START_FILES = (LOCK, RUNS_DIR, SERIES_DIR, EXPERIMENT_COPY, DESIGN)  # a start's, manifest aside
DEEPEST = len("/series/.part-000000000-00000000.parquet.00000000.tmp")  # bytes below the folder
STAGING_NAME = 200  # bytes of the folder's name kept in its staging folder's (NAME_MAX 255)


# ------------------------------------------------------------------------ the name
def default_out(name: str) -> Path:
    """``sweeps/NAME`` for an experiment named `name`, with every character that is not
    printable (a line break, say) or that names a folder replaced by ``_``."""
    safe = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name)
    return Path("sweeps") / (safe if safe.strip(".") else "_" + safe)


def check_out(out: Path) -> None:
    """A one-line error now for an output folder the file system would refuse (a name too
    long, a line break in it), rather than when the first files are written."""
    check_output_path(out, "--out")
    if len(os.fsencode(str(out))) + DEEPEST > PATH_MAX:
        raise InputError(
            "--out",
            None,
            f"path too long: the sweep writes files up to {DEEPEST} bytes below the folder, "
            f"and a path may have at most {PATH_MAX:,} bytes",
        )


# ------------------------------------------------------------------------ the lock
def lock_folder(out: Path) -> IO[bytes]:
    """Hold an exclusive lock on `out` (released when this process ends, even if killed).

    The lock file is held open read-only (flock needs no more), so the sweep holds no file
    open for writing between writes; touching it checks that the folder is writable.
    """
    handle = None
    try:
        handle = open(os.open(out / LOCK, os.O_RDONLY | os.O_CREAT, 0o644), "rb")  # noqa: SIM115
        os.utime(handle.fileno())
    except OSError as exc:
        if handle is not None:
            handle.close()
        raise CbsimError(
            f"{out}: cannot write in the output folder ({exc.strerror or exc})"
        ) from None
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise CbsimError(
                f"{out}: another cbsim sweep is writing to this folder; wait "
                "for it to finish (or stop it) before resuming"
            ) from None
    close_in_workers(handle)  # forked workers close their copy
    return handle


def lock_held(out: Path) -> bool:
    """Whether a process holds `out`'s lock, i.e. a sweep is writing into it now (tested by
    taking a shared lock for an instant; False without a lock file, or where flock is not)."""
    if fcntl is None:
        return False
    try:
        with open(out / LOCK, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


# ------------------------------------------------------------------------ a new folder
def startable(out: Path) -> bool:
    """Whether a new sweep may start in `out`: it is absent, an empty folder, or a folder
    whose start was cut short (no manifest, the lock, and nothing but a start's files)."""
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    names = [p.name for p in out.iterdir() if not _hidden_leftover(p.name)]
    if not names:
        return True
    if LOCK not in names or any(name not in START_FILES for name in names):
        return False
    return all(_holds_only_leftovers(out / sub) for sub in (RUNS_DIR, SERIES_DIR))


def _holds_only_leftovers(folder: Path) -> bool:
    """`folder` is absent, or a folder of hidden leftovers only."""
    return not folder.exists() or (
        folder.is_dir() and all(_hidden_leftover(p.name) for p in folder.iterdir())
    )


def _hidden_leftover(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def already_exists(out: Path) -> CbsimError:
    return CbsimError(
        f"{out}: output folder already exists; use --resume to finish it, or choose another --out"
    )


def create_output(out: Path, exp: Experiment, raw: np.ndarray, manifest: Manifest) -> IO[bytes]:
    """Create and lock the output folder with the experiment, design and manifest in it.

    `out` is absent (built beside it and renamed into place) or empty (made in place, the
    manifest last), so that it is either absent or empty, or a sweep that ``--resume`` can
    finish, however the process ends. Returns the lock, held.
    """
    if out.is_dir():
        return _create_in_place(out, exp, raw, manifest)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(out)
        staging = out.parent / f"{_staging_prefix(out)}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()
    except OSError as exc:
        raise CbsimError(
            f"{out}: cannot create the output folder ({exc.strerror or exc})"
        ) from None
    lock = lock_folder(staging)
    try:
        _fill(staging, exp, raw, manifest)
        os.rename(staging, out)  # fails if `out` appeared meanwhile (unless empty)
    except OSError as exc:
        lock.close()
        shutil.rmtree(staging, ignore_errors=True)
        if out.exists() and not startable(out):
            raise already_exists(out) from None
        raise CbsimError(
            f"{out}: cannot write the sweep's output ({exc.strerror or exc})"
        ) from None
    return lock  # the lock file moved with the folder: `out` is locked


def _create_in_place(out: Path, exp: Experiment, raw: np.ndarray, manifest: Manifest) -> IO[bytes]:
    """Fill the existing, empty folder `out` under its lock, the manifest last."""
    if not startable(out):
        raise already_exists(out)
    lock = lock_folder(out)  # the lock file first: it marks the folder as ours
    try:
        if not startable(out) or (out / MANIFEST).exists():
            raise already_exists(out)  # another sweep filled it meanwhile
        _remove_start_files(out)  # what a start cut short left
        _fill(out, exp, raw, manifest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            _remove_start_files(out)
            (out / LOCK).unlink()
        lock.close()
        raise CbsimError(
            f"{out}: cannot write the sweep's output ({exc.strerror or exc})"
        ) from None
    except BaseException:
        lock.close()
        raise
    return lock


def _remove_start_files(out: Path) -> None:
    """Remove the files a new sweep writes in `out` (not the lock), and hidden leftovers."""
    for path in out.iterdir():
        if path.name in (EXPERIMENT_COPY, DESIGN) or _hidden_leftover(path.name):
            path.unlink(missing_ok=True)
    for sub in (RUNS_DIR, SERIES_DIR):
        if (out / sub).is_dir():
            for path in (out / sub).iterdir():
                path.unlink(missing_ok=True)  # hidden leftovers only (see `startable`)
            (out / sub).rmdir()


def _fill(folder: Path, exp: Experiment, raw: np.ndarray, manifest: Manifest) -> None:
    """Write a new sweep's files: runs/ (and series/), the experiment, the design, the
    manifest (last)."""
    (folder / RUNS_DIR).mkdir()
    if exp.series:
        (folder / SERIES_DIR).mkdir()
    if exp.text:
        atomic_write_text(folder / EXPERIMENT_COPY, exp.text)
    write_design(folder, exp, raw)
    manifest.write(folder)


def _staging_prefix(out: Path) -> str:
    """The start of the names of `out`'s staging folders: a hidden name made from its own,
    cut so that the staging folder's name stays within NAME_MAX bytes."""
    return "." + os.fsdecode(os.fsencode(out.name)[:STAGING_NAME])


def _remove_stale_staging(out: Path) -> None:
    """Remove folders that a killed sweep was building for `out` (none is locked)."""
    for staging in out.parent.glob(f"{_glob_escape(_staging_prefix(out))}.*.tmp"):
        if not staging.is_dir():
            continue
        if not (staging / LOCK).exists():
            if time.time() - staging.stat().st_mtime < 60:
                continue  # another sweep may just have made it, and not locked it yet
        else:
            try:
                lock_folder(staging).close()
            except CbsimError:
                continue  # another sweep is building it now
        shutil.rmtree(staging, ignore_errors=True)


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def remove_leftovers(out: Path) -> None:
    """Remove files a killed sweep was writing in `out`, `out/runs` and `out/series` (hidden
    temporary names)."""
    for leftover in [
        *out.glob(".*.tmp"),
        *(out / RUNS_DIR).glob(".part-*.tmp"),
        *(out / SERIES_DIR).glob(".part-*.tmp"),
    ]:
        leftover.unlink(missing_ok=True)
