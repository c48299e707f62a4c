"""Faults during a sweep never lose or corrupt results (issue 6).

Faults are injected for real: worker processes and the sweep itself are SIGKILLed, output
folders are made read-only (a read-only bind mount) or full (a small tmpfs) when this
process may mount, and otherwise by raising the same `OSError` where cbsim writes.
`tests/faults/sitecustomize.py` (loaded only by the subprocesses started here, through
PYTHONPATH) makes a given run kill its worker process or raise, or the process kill itself
half-way through writing a file; nothing of it is in cbsim.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sweep_designs import experiment_text, longer

import cbsim.analysis.staging as analysis_module
import cbsim.inputs.fileio as fileio
from cbsim.cli import main
from cbsim.inputs.experiment import run_seed
from cbsim.sweep import store as sweep_store
from cbsim.sweep.run import run_sweep
from cbsim.sweep.spec import EXIT_RUNS_FAILED, WORKER_DIED

FAULTS = Path(__file__).resolve().parent / "faults"

SMALL = experiment_text(replicates=6, seed=7)  # 24 runs, in batches of 2 on a 2-process pool
LONGER = longer(seed=7)  # 300 runs: a second or two on 2 workers, long enough to be killed


# ------------------------------------------------------------------ helpers
def table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs").sort_values("run_id").reset_index(drop=True)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def fault_env(**faults: str) -> dict[str, str]:
    """The environment for a cbsim subprocess with the fault plugin and these faults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBSIM_FAULT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAULTS), env.get("PYTHONPATH")]))
    env.update({f"CBSIM_FAULT_{name.upper()}": value for name, value in faults.items()})
    return env


def cbsim(*args: str, python: tuple[str, ...] = (), **faults: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *python, "-m", "cbsim", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=fault_env(**faults),
    )


def start(*args: str, **faults: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cbsim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=fault_env(**faults),
    )


def parts(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("part-*.parquet")) if (out / "runs").is_dir() else []


def wait_for_parts(out: Path, proc: subprocess.Popen, n: int) -> bool:
    """Wait until `out` has `n` part files; False if the sweep ended first."""
    deadline = time.monotonic() + 120
    while len(parts(out)) < n:
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return True


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and every worker process
    except ProcessLookupError:
        pass
    proc.communicate()


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def assert_is_part_of(partial: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every row kept is exactly the uninterrupted sweep's row for that run id."""
    assert partial["run_id"].is_unique
    pd.testing.assert_frame_equal(
        partial, expected[expected["run_id"].isin(partial["run_id"])].reset_index(drop=True)
    )


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("cbsim: error: "), err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The small experiment and its uninterrupted table (swept in this process)."""
    base = tmp_path_factory.mktemp("small")
    path = base / "small.toml"
    path.write_text(SMALL)
    assert run_sweep(path, out=base / "reference", workers=1, progress=False).exit_status == 0
    return path, table(base / "reference")


@pytest.fixture(scope="module")
def longer(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    base = tmp_path_factory.mktemp("longer")
    path = base / "longer.toml"
    path.write_text(LONGER)
    assert run_sweep(path, out=base / "reference", workers=1, progress=False).exit_status == 0
    return path, table(base / "reference")


# ------------------------------------------------------------------ worker processes
@pytest.mark.slow
def test_runs_that_kill_their_worker_are_recorded_failed_alone_and_resume_retries_them(
    small, tmp_path
):
    """Runs 5 and 17 kill their pool worker every time, run 3's model raises."""
    path, expected = small
    out = tmp_path / "culprits"
    seed = lambda run_id: str(run_seed(7, run_id))  # noqa: E731
    result = cbsim(
        "sweep",
        str(path),
        "--out",
        str(out),
        "--workers",
        "2",
        kill_seeds=f"{seed(5)},{seed(17)}",
        raise_seeds=seed(3),
    )
    assert result.returncode == EXIT_RUNS_FAILED == 3, result.stderr
    assert "24 of 24 done, 3 failed" in result.stdout
    assert "2 lost with their worker process, run again by --resume" in result.stdout
    runs = table(out)
    assert runs["run_id"].tolist() == list(range(24))  # none dropped, none twice
    failed = runs[runs["error"].notna()]
    assert failed["run_id"].tolist() == [3, 5, 17]  # only the culprits: not their batches
    for run_id in (5, 17):
        error = runs.loc[run_id, "error"]
        assert error.startswith(
            f"{WORKER_DIED} running this run (2 times, alone, killed by SIGKILL)"
        ), error
    assert runs.loc[3, "error"] == f"ValueError: injected model failure for seed {seed(3)}"
    assert failed[["target_met", "share_at_target"]].isna().all().all()
    ok = runs["error"].isna()  # (failed rows' empty outcomes make integer columns float)
    pd.testing.assert_frame_equal(runs[ok], expected[ok], check_dtype=False)
    m = manifest(out)
    assert m["status"] == "complete"
    assert m["runs"] == {"planned": 24, "done": 24, "failed": 3}
    session = m["sessions"][0]
    # each culprit broke the pool alone twice, and before that up to three times: in its
    # batch, in that batch again, on its own among other single runs (its batch may also
    # be lost in the other culprit's breaks)
    assert 4 <= session["worker_restarts"] <= 10
    assert session["runs_failed"] == 3 and session["runs_lost_with_worker"] == 2

    # the faults are gone (say, memory was short): resume runs the two lost runs again,
    # and keeps run 3, whose model raised
    resumed = cbsim("sweep", str(path), "--out", str(out), "--workers", "2", "--resume")
    assert resumed.returncode == EXIT_RUNS_FAILED, resumed.stderr
    assert "running again 2 runs whose worker process died" in resumed.stdout
    assert "2 runs in" in resumed.stdout and "1 failed" in resumed.stdout
    runs = table(out)
    assert runs["error"].notna().tolist() == [i == 3 for i in range(24)]
    pd.testing.assert_frame_equal(runs.drop(index=3), expected.drop(index=3), check_dtype=False)
    m = manifest(out)
    assert m["runs"] == {"planned": 24, "done": 24, "failed": 1}
    assert m["sessions"][1]["runs_retried"] == 2 and m["sessions"][1]["runs"] == 2


@pytest.mark.slow
def test_a_worker_killed_once_costs_no_run(small, tmp_path):
    """A transient fault: the worker running run 9 is SIGKILLed the first time only."""
    path, expected = small
    out = tmp_path / "once"
    marks = tmp_path / "marks"
    marks.mkdir()
    result = cbsim(
        "sweep",
        str(path),
        "--out",
        str(out),
        "--workers",
        "2",
        kill_seeds=str(run_seed(7, 9)),
        once_dir=str(marks),
    )
    assert result.returncode == 0, result.stderr
    assert (marks / str(run_seed(7, 9))).exists()  # the fault did happen
    pd.testing.assert_frame_equal(table(out), expected)
    m = manifest(out)
    assert m["runs"] == {"planned": 24, "done": 24, "failed": 0}
    assert m["sessions"][0]["worker_restarts"] == 1


@pytest.mark.slow
def test_a_pool_forked_again_after_a_worker_death_forks_without_threads(small, tmp_path):
    """A transient worker death in a new sweep, and in a resumed one (which read the part
    files first): the pool is forked again, from a process with no other thread (Python
    3.12 would warn, and -W error cannot make it raise), and the table is complete."""
    path, expected = small
    out = tmp_path / "refork"
    warn = ("-W", "always::DeprecationWarning")
    for attempt, run_id in enumerate((9, 20)):
        marks = tmp_path / f"marks{attempt}"
        marks.mkdir()
        if attempt:
            for part in parts(out)[-4:]:  # lose the runs of four parts, run 20's among them
                part.unlink()
        extra = ("--resume",) if attempt else ()
        result = cbsim(
            "sweep",
            str(path),
            "--out",
            str(out),
            "--workers",
            "2",
            *extra,
            python=warn,
            kill_seeds=str(run_seed(7, run_id)),
            once_dir=str(marks),
        )
        assert result.returncode == 0, result.stderr
        assert (marks / str(run_seed(7, run_id))).exists()  # the worker did die
        assert manifest(out)["sessions"][attempt]["worker_restarts"] == 1
        assert "multi-threaded" not in result.stderr, result.stderr
    pd.testing.assert_frame_equal(table(out), expected)


@pytest.mark.slow
def test_workers_that_always_die_stop_the_sweep_with_one_line_and_nothing_lost(small, tmp_path):
    """Every run kills its worker (say, workers that cannot start): the sweep gives up."""
    path, expected = small
    out = tmp_path / "hopeless"
    every = ",".join(str(run_seed(7, i)) for i in range(24))
    result = cbsim("sweep", str(path), "--out", str(out), "--workers", "2", kill_seeds=every)
    assert result.returncode == 2
    err = one_line(result.stderr)
    assert "worker processes keep dying (8 times in a row" in err and "--workers 1" in err
    m = manifest(out)
    assert m["status"] == "failed" and m["sessions"][0]["worker_restarts"] == 7  # 8th: stop
    kept = table(out) if parts(out) else expected.iloc[:0]
    assert m["runs"]["done"] == m["runs"]["failed"] == len(kept)
    assert kept["error"].str.startswith(WORKER_DIED).all()  # recorded, not dropped
    resumed = cbsim("sweep", str(path), "--out", str(out), "--workers", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(table(out), expected)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_killed_dask_worker_is_rescheduled_and_the_table_is_complete(longer, tmp_path):
    """SIGKILL a LocalCluster worker process mid-sweep; a second one dies in a run."""
    path, expected = longer
    out = tmp_path / "dask"
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = start(
        "sweep",
        str(path),
        "--out",
        str(out),
        "--workers",
        "2",
        "--scheduler",
        "local",
        kill_seeds=str(run_seed(7, 250)),
        once_dir=str(marks),
    )
    try:
        assert wait_for_parts(out, proc, 1), proc.communicate()
        workers = [c for c in children(proc.pid) if "spawn_main" in cmdline(c)]
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        at_kill = len(pd.read_parquet(out / "runs"))
        assert proc.poll() is None and at_kill < len(expected), "killed too late"
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    assert proc.returncode == 0, stderr
    assert (marks / str(run_seed(7, 250))).exists()
    final = table(out)
    assert final["error"].isna().all()
    pd.testing.assert_frame_equal(final, expected)
    assert manifest(out)["runs"] == {"planned": 300, "done": 300, "failed": 0}


# ------------------------------------------------------------------ the sweep killed
@pytest.mark.slow
def test_sweep_sigkilled_repeatedly_at_random_moments_then_resumed_equals_uninterrupted(
    longer, tmp_path
):
    path, expected = longer
    out = tmp_path / "killed"
    rng = random.Random()
    moments: list[str] = []
    kept: list[int] = []
    for kill in range(4):
        proc = start("sweep", str(path), "--out", str(out), "--workers", "2", "--resume")
        if kill == 0:  # anywhere in start-up or folder creation, at the latest at the first
            delay = rng.uniform(0.5, 2.5)  # part file
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not parts(out) and proc.poll() is None:
                time.sleep(0.002)
            moments.append(f"after {delay:.2f} s or the first part")
        else:  # after a random number of further batches, a moment later
            more, delay = rng.randint(1, 6), rng.uniform(0, 0.05)
            if not wait_for_parts(out, proc, len(parts(out)) + more):
                moments.append("finished first")
                break
            time.sleep(delay)
            moments.append(f"{more} parts + {delay * 1000:.0f} ms")
        kill_group(proc)
        if (out / "manifest.json").exists():
            partial = table(out) if parts(out) else expected.iloc[:0]
            assert_is_part_of(partial, expected)
            kept.append(len(partial))
        else:  # killed before the folder was complete: it is not there at all
            assert not out.exists(), moments
            kept.append(0)
    assert any(0 < n < len(expected) for n in kept), (moments, kept)
    resumed = cbsim("sweep", str(path), "--out", str(out), "--workers", "2", "--resume")
    assert resumed.returncode == 0, (moments, resumed.stderr)
    final = table(out)
    assert final["run_id"].is_unique, moments
    pd.testing.assert_frame_equal(final, expected)
    m = manifest(out)
    assert m["status"] == "complete" and m["runs"]["done"] == len(expected), moments
    assert len(m["sessions"]) >= 2
    assert not list(tmp_path.glob(".killed.*.tmp")) and not list(out.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("write", [1, 2, 3, 4, 5])
def test_sweep_killed_half_way_through_each_start_up_write_resumes(small, tmp_path, write):
    """Writes 1-3 build the new folder (experiment, design, manifest), 4 saves the
    manifest in place, 5 is the first part file. The folder is absent or resumable."""
    path, expected = small
    out = tmp_path / "out"
    killed = cbsim(
        "sweep", str(path), "--out", str(out), "--workers", "1", kill_at_write=str(write)
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert out.exists() == (write > 3)
    if write <= 3:
        assert len(list(tmp_path.glob(".out.*.tmp"))) == 1  # the half-built folder
    else:
        manifest(out)  # whole
        assert len(list(out.glob(".*.tmp")) + list((out / "runs").glob(".*.tmp"))) == 1
        assert parts(out) == []
    resumed = cbsim("sweep", str(path), "--out", str(out), "--workers", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(table(out), expected)
    assert manifest(out)["status"] == "complete"
    leftovers = [*tmp_path.glob(".out.*"), *out.glob(".*.tmp"), *(out / "runs").glob(".*")]
    assert leftovers == []


# ------------------------------------------------------------------ analyse killed
@pytest.fixture(scope="module")
def analysed(small, tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A swept folder without a report, and the files `cbsim analyse` writes into it."""
    path, _ = small
    base = tmp_path_factory.mktemp("analysed")
    swept = base / "swept"
    assert run_sweep(path, out=swept, workers=1, progress=False).exit_status == 0
    reference = base / "reference"
    shutil.copytree(swept, reference)
    before = {p.name for p in reference.iterdir()}
    result = cbsim("analyse", str(reference))
    assert result.returncode == 0, result.stderr
    written = {p.name: p.read_bytes() for p in reference.iterdir() if p.name not in before}
    return swept, written


@pytest.mark.slow
@pytest.mark.parametrize("at", ["first", "middle", "last"])
def test_analyse_killed_mid_write_leaves_only_whole_files(analysed, tmp_path, at):
    """The analysis is staged in a hidden folder inside the sweep folder and moved into
    place at the end: killed while writing its nth file, it leaves no new visible file, and
    in the staging folder the n - 1 files before, whole, and the nth under a hidden name.
    The next `cbsim analyse` removes the staging folder and writes the whole report."""
    swept, written = analysed
    assert "report.md" in written and len(written) >= 5
    n = {"first": 1, "middle": len(written) // 2, "last": len(written)}[at]
    folder = tmp_path / "sweep"
    shutil.copytree(swept, folder)
    before = {p.name for p in folder.iterdir()}
    killed = cbsim("analyse", str(folder), kill_at_write=str(n))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    new = [folder / name for name in {p.name for p in folder.iterdir()} - before]
    assert len(new) == 1 and new[0].is_dir(), new  # the staging folder, hidden
    assert new[0].name.startswith(".") and new[0].name.endswith(".tmp")
    staged = {p.name for p in new[0].iterdir()}
    half = [name for name in staged if name.startswith(".") and name.endswith(".tmp")]
    assert len(half) == 1  # the file being written when the process died, under a hidden name
    whole = staged - set(half)
    assert len(whole) == n - 1 and "report.md" not in whole
    for name in whole:  # every file written before is whole
        assert (new[0] / name).read_bytes() == written[name], name
    assert cbsim("analyse", str(folder)).returncode == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in written} == written
    assert {p.name for p in folder.iterdir()} == before | set(written)  # no staging left


# ------------------------------------------------------------------ full or read-only disks
def fail_writes_after(monkeypatch, n: int, code: int, match: str = "") -> None:
    """cbsim's atomic writes raise OSError(`code`) once `n` writes of files whose name holds
    `match` have gone through, and from then on (a full disk stays full)."""
    real, count, full = fileio.atomic_write_bytes, [0], [False]

    def write(path, data):
        if match in Path(path).name:
            count[0] += 1
            full[0] = full[0] or count[0] > n
        if full[0]:
            raise OSError(code, os.strerror(code), str(path))
        real(path, data)

    for module in (fileio, sweep_store, analysis_module):
        monkeypatch.setattr(module, "atomic_write_bytes", write)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_write_failure_mid_sweep_is_one_line_and_keeps_finished_runs(
    small, tmp_path, monkeypatch, capsys, code
):
    path, expected = small
    out = tmp_path / "out"
    fail_writes_after(monkeypatch, 4, code, match="part-")  # 4 parts of 3 runs, then full
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = one_line(capsys.readouterr().err)
    assert os.strerror(code) in err and "12 finished runs are kept" in err
    assert "--resume" in err
    assert_is_part_of(table(out), expected)
    assert len(table(out)) == 12 and manifest(out)["status"] == "running"
    assert not list((out / "runs").glob(".*"))
    monkeypatch.undo()
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--resume"]) == 0
    pd.testing.assert_frame_equal(table(out), expected)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_write_failure_at_start_leaves_nothing(small, tmp_path, monkeypatch, capsys, code):
    path, _ = small
    out = tmp_path / "out"
    fail_writes_after(monkeypatch, 1, code)  # experiment.toml goes, the design does not
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "cannot write the sweep's output" in err and os.strerror(code) in err
    assert list(tmp_path.iterdir()) == []  # no folder, no half-built one


def test_write_failure_in_analyse_is_one_line(analysed, tmp_path, monkeypatch, capsys):
    swept, _ = analysed
    folder = tmp_path / "sweep"
    shutil.copytree(swept, folder)
    fail_writes_after(monkeypatch, 2, errno.ENOSPC)
    assert main(["analyse", str(folder)]) == 2
    err = one_line(capsys.readouterr().err)
    assert "No space left on device" in err and "are untouched" in err
    assert not (folder / "report.md").exists()


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def mounts():
    """Mount points to unmount after the test; skip if this process may not mount."""
    mounted: list[Path] = []
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8)")
    yield mounted
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.mark.slow
def test_read_only_output_folder_real_mount(longer, tmp_path, mounts):
    """A read-only bind mount: a new sweep, a resume, and a folder turning read-only."""
    path, expected = longer
    disk = tmp_path / "disk"
    disk.mkdir()
    view = tmp_path / "view"
    view.mkdir()
    if not _mount("--bind", str(disk), str(view)):
        pytest.skip("may not mount here")
    mounts.append(view)
    out = view / "out"
    proc = start("sweep", str(path), "--out", str(out), "--workers", "2")
    try:
        assert wait_for_parts(out, proc, 2), proc.communicate()
        # busy (EBUSY) only while the sweep has a file open to write: try again
        assert any(
            _mount("-o", "remount,ro,bind", str(view)) or time.sleep(0.002) for _ in range(2000)
        )
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    assert proc.returncode == 2, stderr
    err = one_line(stderr)
    assert "Read-only file system" in err and "finished runs are kept" in err
    partial = table(out)
    assert 0 < len(partial) < len(expected)
    assert_is_part_of(partial, expected)

    # a resume or a new sweep into the read-only folder: one line, nothing changed
    files = sorted((p.name, p.stat().st_mtime_ns) for p in (out / "runs").iterdir())
    resume = cbsim("sweep", str(path), "--out", str(out), "--workers", "1", "--resume")
    assert resume.returncode == 2 and "Read-only file system" in one_line(resume.stderr)
    new = cbsim("sweep", str(path), "--out", str(view / "new"), "--workers", "1")
    assert new.returncode == 2 and "Read-only file system" in one_line(new.stderr)
    assert not (view / "new").exists()
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (out / "runs").iterdir()) == files

    assert _mount("-o", "remount,rw,bind", str(view))
    resume = cbsim("sweep", str(path), "--out", str(out), "--workers", "2", "--resume")
    assert resume.returncode == 0, resume.stderr
    pd.testing.assert_frame_equal(table(out), expected)


@pytest.mark.slow
def test_full_disk_real_tmpfs(longer, tmp_path, mounts, capsys):
    """A 96 KiB tmpfs fills up mid-sweep; made larger, the sweep resumes to completion."""
    path, expected = longer
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=96k", "tmpfs", str(disk)):
        pytest.skip("may not mount here")
    mounts.append(disk)
    out = disk / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "No space left on device" in err and "finished runs are kept" in err
    partial = table(out)
    assert 0 < len(partial) < len(expected)
    assert_is_part_of(partial, expected)
    assert not list((out / "runs").glob(".*"))  # no half-written part left behind
    assert _mount("-o", "remount,size=4m", str(disk))
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--resume"]) == 0
    pd.testing.assert_frame_equal(table(out), expected)
