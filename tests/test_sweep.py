"""Sweeps: same table whatever the engine, Parquet rows, manifest, resume, interruption."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import pytest
from sweep_designs import experiment_text, longer

import cbsim
import cbsim.sweep.run as sweep_module
from cbsim.cli import main
from cbsim.inputs.errors import CbsimError, InputError
from cbsim.inputs.experiment import load_experiment, run_seed
from cbsim.sweep import engines, spec
from cbsim.sweep.engines import SerialEngine
from cbsim.sweep.folder import lock_folder
from cbsim.sweep.run import run_sweep

TINY = experiment_text(replicates=3, seed=99)  # 12 runs
LONGER = longer(seed=99)  # 300 runs: long enough (a second or more on 2 workers) to be killed


def write_experiment(tmp_path: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def table(out: Path) -> pd.DataFrame:
    runs = pd.read_parquet(out / "runs")
    return runs.sort_values("run_id").reset_index(drop=True)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def serial_tiny(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny experiment swept in this process: (experiment file, output folder)."""
    base = tmp_path_factory.mktemp("tiny")
    path = write_experiment(base)
    out = base / "serial"
    assert run_sweep(path, out=out, workers=1, progress=False).exit_status == 0
    return path, out


# ------------------------------------------------------------------ engines agree
def test_serial_pool_and_dask_local_cluster_give_identical_tables(serial_tiny, tmp_path):
    path, serial = serial_tiny
    pool, dask = tmp_path / "pool", tmp_path / "dask"
    assert run_sweep(path, out=pool, workers=2, batch_size=2, progress=False).exit_status == 0
    assert run_sweep(path, out=dask, workers=2, scheduler="local", progress=False).exit_status == 0
    expected = table(serial)
    assert len(expected) == 12 and expected["run_id"].tolist() == list(range(12))
    pd.testing.assert_frame_equal(table(pool), expected)
    pd.testing.assert_frame_equal(table(dask), expected)
    assert len(list((pool / "runs").glob("part-*.parquet"))) == 6  # batches of 2
    sessions = [manifest(d)["sessions"][0]["engine"] for d in (serial, pool, dask)]
    assert "in-process" in sessions[0] and "process pool" in sessions[1]
    assert "Dask LocalCluster" in sessions[2]


# ------------------------------------------------------------------ the table
def test_rows_hold_ids_seeds_factors_outcomes_and_error(serial_tiny):
    path, out = serial_tiny
    runs = table(out)
    exp = load_experiment(path)
    design = exp.design()
    assert list(runs.columns[:6]) == [
        "run_id",
        "design_point",
        "replicate",
        "seed",
        "offer.funding_boost_m",
        "offer.national_pooling",
    ]
    assert {
        "target_met",
        "share_at_target",
        "count_at_target",
        "pooled_m_total",
        "month_target_reached",
    } <= set(runs.columns)
    assert runs.columns[-1] == "error" and runs["error"].isna().all()
    assert runs["run_id"].is_unique
    for _, row in runs.iterrows():
        run_id = row["run_id"]
        assert row["design_point"] == run_id // 3 and row["replicate"] == run_id % 3
        assert row["seed"] == run_seed(99, run_id)
        point = design[row["design_point"]]
        assert row["offer.funding_boost_m"] == point["offer.funding_boost_m"]
        assert row["offer.national_pooling"] == point["offer.national_pooling"]
    # a row is exactly what simulate returns for that run's seed and values
    row = runs.iloc[7]
    direct = cbsim.simulate(
        exp.base_scenario(), seed=int(row["seed"]), **design[int(row["design_point"])]
    )
    for key, value in direct.items():
        assert (pd.isna(row[key]) and value is None) or row[key] == value, key
    assert runs["target_met"].dtype == bool
    assert runs["offer.national_pooling"].dtype == bool


def test_manifest_records_experiment_versions_seed_counts_and_times(serial_tiny):
    path, out = serial_tiny
    m = manifest(out)
    assert m["status"] == "complete"
    assert m["runs"] == {"planned": 12, "done": 12, "failed": 0}
    assert m["master_seed"] == 99 and m["replicates"] == 3 and m["design_points"] == 4
    assert m["versions"]["cbsim"] == cbsim.__version__
    assert m["versions"]["mesa"].startswith("3.")
    assert m["started"] <= m["ended"]
    assert m["experiment"]["factors"][0]["path"] == "offer.funding_boost_m"
    assert m["experiment_file"] == path.read_text()
    assert (out / "experiment.toml").read_text() == path.read_text()
    assert len(pd.read_parquet(out / "design.parquet")) == 4


# ------------------------------------------------------------------ refusing, resuming
def test_existing_output_folder_is_refused_and_left_alone(serial_tiny, capsys):
    path, out = serial_tiny
    before = sorted(p.name for p in (out / "runs").iterdir())
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--resume" in err
    assert sorted(p.name for p in (out / "runs").iterdir()) == before


def test_resume_runs_only_the_missing_runs(serial_tiny, tmp_path, capsys):
    path, full = serial_tiny
    out = tmp_path / "partial"
    assert run_sweep(path, out=out, workers=1, batch_size=2, progress=False).exit_status == 0
    parts = sorted((out / "runs").glob("part-*.parquet"))
    for part in parts[1:4]:  # lose three batches (six runs)
        part.unlink()
    kept = {p.name for p in parts[:1] + parts[4:]}
    capsys.readouterr()
    resume = ["sweep", str(path), "--out", str(out), "--workers", "1", "--resume"]
    assert main(resume) == 0  # the command prints what run_sweep returns
    assert "6 runs" in capsys.readouterr().out
    assert kept <= {p.name for p in (out / "runs").iterdir()}  # finished parts untouched
    pd.testing.assert_frame_equal(table(out), table(full))
    m = manifest(out)
    assert m["runs"]["done"] == 12 and len(m["sessions"]) == 2
    assert [s["runs"] for s in m["sessions"]] == [12, 6]
    # resuming a complete sweep runs nothing
    assert main(resume) == 0
    assert "already done" in capsys.readouterr().out
    pd.testing.assert_frame_equal(table(out), table(full))


def test_resume_refuses_a_changed_experiment_or_a_foreign_folder(serial_tiny, tmp_path):
    path, full = serial_tiny
    out = tmp_path / "copy"
    shutil.copytree(full, out)
    changed = write_experiment(tmp_path, TINY.replace("seed = 99", "seed = 100"))
    with pytest.raises(CbsimError, match="changed since this sweep started"):
        run_sweep(changed, out=out, workers=1, resume=True, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a sweep")
    with pytest.raises(CbsimError, match="not a sweep output folder"):
        run_sweep(path, out=foreign, workers=1, resume=True, progress=False)


def test_bad_experiment_fails_before_anything_is_written(tmp_path):
    path = write_experiment(tmp_path, TINY.replace("replicates = 3", "replicates = 'three'"))
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"tiny\.toml: replicates: expected a whole number"):
        run_sweep(path, out=out, workers=1, progress=False)
    assert not out.exists()


# ------------------------------------------------------------------ failures
def test_a_run_that_raises_is_recorded_with_its_error(serial_tiny, tmp_path, monkeypatch):
    path, full = serial_tiny
    bad_seed = run_seed(99, 4)
    real = engines.simulate

    def flaky(scenario, seed=None, **overrides):
        if seed == bad_seed:
            raise ValueError("model blew up")
        return real(scenario, seed=seed, **overrides)

    monkeypatch.setattr(engines, "simulate", flaky)  # what workers call
    out = tmp_path / "flaky"
    assert run_sweep(path, out=out, workers=1, progress=False).exit_status == spec.EXIT_RUNS_FAILED
    runs, expected = table(out), table(full)
    assert runs.loc[4, "error"] == "ValueError: model blew up"
    assert pd.isna(runs.loc[4, "share_at_target"]) and pd.isna(runs.loc[4, "target_met"])
    others = runs.drop(index=4)
    assert others["error"].isna().all()
    pd.testing.assert_frame_equal(
        others.drop(columns="target_met"),
        expected.drop(index=4).drop(columns="target_met"),
        check_dtype=False,
    )
    assert manifest(out)["runs"] == {"planned": 12, "done": 12, "failed": 1}


class FlakyPool(SerialEngine):
    """A serial engine whose pool 'breaks' once, and which counts batches in flight."""

    def __init__(self, scenario):
        super().__init__(scenario)
        self.workers = 2
        self.broken_once = False
        self.restarts = 0
        self.outstanding = 0
        self.most_outstanding = 0

    def submit(self, runs):
        self.outstanding += 1
        self.most_outstanding = max(self.most_outstanding, self.outstanding)
        if not self.broken_once:
            self.broken_once = True
            future = Future()
            future.set_exception(BrokenProcessPool("a worker died"))
            return future
        return super().submit(runs)

    def wait(self, pending):
        self.outstanding -= len(pending)
        return super().wait(pending)

    def lost_all(self, exc):
        return isinstance(exc, BrokenProcessPool)

    def restart(self):
        self.restarts += 1


def test_batches_lost_with_a_worker_are_resubmitted_and_in_flight_work_is_bounded(
    serial_tiny, tmp_path, monkeypatch
):
    path, full = serial_tiny
    engines = []

    def make(scenario, workers, scheduler):
        engines.append(FlakyPool(scenario))
        return engines[-1]

    monkeypatch.setattr(sweep_module, "make_engine", make)
    out = tmp_path / "flaky-pool"
    assert run_sweep(path, out=out, batch_size=1, progress=False).exit_status == 0
    pd.testing.assert_frame_equal(table(out), table(full))
    engine = engines[0]
    assert engine.restarts == 1
    assert engine.most_outstanding <= engine.workers * spec.IN_FLIGHT_PER_WORKER


# ------------------------------------------------------------------ the local process pool
LINUX = pytest.mark.skipif(
    sys.platform != "linux" or not Path("/proc/self/task").is_dir(),
    reason="the pool forks on Linux; needs /proc",
)

# Run in a fresh process (this one has other threads, e.g. Dask's): a pool started while
# the parent holds a folder lock and handles SIGTERM and SIGUSR1, then a worker's death.
FORK_CHECK = r"""
import json, os, signal, sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from cbsim.sweep import engines, folder
from cbsim.inputs.experiment import load_experiment

def open_files():
    return [os.readlink(fd) for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink()]

def handlers():
    return [getattr(signal.getsignal(s), "name", "a Python function")
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)]

experiment, out = sys.argv[1], Path(sys.argv[2])
scenario = load_experiment(experiment).base_scenario()
lock = folder.lock_folder(out)
lock_file = os.readlink(f"/proc/self/fd/{lock.fileno()}")
signal.signal(signal.SIGTERM, lambda *args: None)
signal.signal(signal.SIGUSR1, lambda *args: None)
engine = engines.PoolEngine(scenario, 2)
seen = {"method": engine.executor._mp_context.get_start_method(),
        "handlers": engine.executor.submit(handlers).result(),
        "lock held by a worker": lock_file in engine.executor.submit(open_files).result()}
manager = engine.executor._executor_manager_thread
try:
    engine.executor.submit(os._exit, 1).result()
except BrokenProcessPool:
    seen["broken"] = True
engine.restart()
seen["old pool's thread gone"] = (not manager.is_alive()
                                  and not Path(f"/proc/self/task/{manager.native_id}").exists())
seen["method after restart"] = engine.executor._mp_context.get_start_method()
seen["lock held after restart"] = lock_file in engine.executor.submit(open_files).result()
specs = [(0, 11, {}), (1, 12, {"offer.national_pooling": True})]
seen["same runs"] = engine.submit(specs).result() == engines.run_batch(scenario, specs)
engine.close()
lock.close()
print(json.dumps(seen))
"""


@LINUX
def test_pool_workers_are_forked_without_the_parents_lock_signal_handlers_or_threads(
    serial_tiny, tmp_path
):
    path, _ = serial_tiny
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "always::DeprecationWarning",
            "-c",
            FORK_CHECK,
            str(path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {
        "method": "fork",
        "handlers": ["SIG_IGN", "SIG_DFL", "SIG_DFL"],
        "lock held by a worker": False,
        "broken": True,
        "old pool's thread gone": True,
        "method after restart": "fork",
        "lock held after restart": False,
        "same runs": True,
    }
    # Python 3.12 warns (it cannot raise: -W error does not apply) when it forks a process
    # with threads; the pool forks before it starts its own, and again once they are gone
    assert "multi-threaded" not in result.stderr, result.stderr


def test_pool_uses_a_fork_server_when_other_threads_run(monkeypatch):
    import threading

    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert engines._start_method() in ("forkserver", "spawn")


# ------------------------------------------------------------------ lean imports
HEAVY = (
    "pandas",
    "matplotlib",
    "solara",
    "mesa",
    "SALib",
    "scipy",
    "networkx",
    "dask",
    "distributed",
    "pyarrow.compute",
)
LEAN_CHECK = r"""
import sys
heavy = lambda: sorted(m for m in sys.argv[3].split(",") if m in sys.modules)
import cbsim.model.simulate  # the submodule first: `cbsim.simulate` is still the function
import cbsim
print("import cbsim", heavy(), cbsim.simulate.__name__, callable(cbsim.parameters))
import cbsim.sweep.run
print("import cbsim.sweep.run", heavy())
from cbsim.cli import main
status = main(["sweep", sys.argv[1], "--out", sys.argv[2], "--workers", "2"])
print("cbsim sweep", heavy(), status)
"""


def test_the_sweep_imports_no_heavy_module(serial_tiny, tmp_path):
    """Neither `import cbsim.sweep.run` nor a `cbsim sweep` (probe run and workers' runs
    included) imports pandas, Mesa, scipy, networkx, plotting or Dask."""
    path, _ = serial_tiny
    result = subprocess.run(
        [sys.executable, "-c", LEAN_CHECK, str(path), str(tmp_path / "o"), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "[" in line]
    assert lines == [
        "import cbsim [] simulate True",
        "import cbsim.sweep.run []",
        "cbsim sweep [] 0",
    ], result.stdout


def test_cbsim_imports_its_public_names_on_first_use():
    for name in cbsim.__all__:
        assert getattr(cbsim, name) is not None
    assert cbsim.simulate.__module__ == "cbsim.model.simulate" and callable(cbsim.parameters)
    assert set(cbsim.__all__) <= set(dir(cbsim))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        cbsim.nothing  # noqa: B018


# ------------------------------------------------------------------ progress
def test_progress_bar_only_when_asked_or_on_a_terminal(serial_tiny, tmp_path, capsys):
    path, _ = serial_tiny
    run_sweep(path, out=tmp_path / "quiet", workers=1)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    run_sweep(path, out=tmp_path / "bar", workers=1, progress=True)
    err = capsys.readouterr().err
    assert "12/12" in err and "run/s" in err


# ------------------------------------------------------------------ real interruptions
@pytest.fixture(scope="module")
def longer(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The longer experiment and its uninterrupted table (swept in this process)."""
    base = tmp_path_factory.mktemp("longer")
    path = write_experiment(base, LONGER, "longer.toml")
    out = base / "reference"
    run_sweep(path, out=out, workers=1, progress=False)
    return path, table(out)


def start_sweep(path: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cbsim",
            "sweep",
            str(path),
            "--out",
            str(out),
            "--workers",
            "2",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_parts(out: Path, proc: subprocess.Popen, n: int = 1) -> None:
    deadline = time.monotonic() + 120
    while len(list((out / "runs").glob("part-*.parquet"))) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.slow
def test_sigkill_keeps_finished_runs_and_resume_completes_without_duplicates(longer, tmp_path):
    path, expected = longer
    out = tmp_path / "killed"
    proc = start_sweep(path, out)
    wait_for_parts(out, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: parent and workers
    proc.wait()
    partial = table(out)
    assert 0 < len(partial) < len(expected), "the sweep was not killed mid-way"
    assert partial["run_id"].is_unique
    # every finished run is kept exactly as an uninterrupted sweep has it
    pd.testing.assert_frame_equal(
        partial, expected[expected["run_id"].isin(partial["run_id"])].reset_index(drop=True)
    )
    assert manifest(out)["status"] == "running"  # killed: nobody could say otherwise

    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "cbsim",
            "sweep",
            str(path),
            "--out",
            str(out),
            "--workers",
            "2",
            "--resume",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(expected) - len(partial):,} runs" in resumed.stdout
    final = table(out)
    assert final["run_id"].is_unique
    pd.testing.assert_frame_equal(final, expected)
    assert manifest(out)["status"] == "complete"


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


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_killed_worker_process_is_replaced_and_its_runs_redone(longer, tmp_path):
    path, expected = longer
    out = tmp_path / "worker-killed"
    proc = start_sweep(path, out)
    wait_for_parts(out, proc)
    workers = children(proc.pid)  # forked by the sweep
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    final = table(out)
    assert final["run_id"].is_unique and final["error"].isna().all()
    pd.testing.assert_frame_equal(final, expected)
    assert manifest(out)["sessions"][0]["worker_restarts"] == 1


@pytest.mark.slow
def test_a_second_sweep_cannot_write_into_a_folder_being_swept(longer, tmp_path):
    path, expected = longer
    out = tmp_path / "busy"
    proc = start_sweep(path, out)
    wait_for_parts(out, proc)
    with pytest.raises(CbsimError, match="another cbsim sweep is writing to this folder"):
        run_sweep(path, out=out, workers=1, resume=True, progress=False)
    assert proc.wait(timeout=300) == 0
    pd.testing.assert_frame_equal(table(out), expected)


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_says_how_to_resume(longer, tmp_path):
    path, expected = longer
    out = tmp_path / "interrupted"
    proc = start_sweep(path, out)
    wait_for_parts(out, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    m = manifest(out)
    partial = table(out)
    assert m["status"] == "interrupted" and m["runs"]["done"] == len(partial)
    assert 0 < len(partial) < len(expected)
    assert run_sweep(path, out=out, workers=1, resume=True, progress=False).exit_status == 0
    pd.testing.assert_frame_equal(table(out), expected)


@pytest.mark.slow
@LINUX
def test_a_killed_sweep_leaves_no_worker_and_no_lock_behind(tmp_path):
    """SIGKILL the sweep alone (not its workers), new and resumed (its lock held when the
    pool forks): no worker holds the lock, the next resume takes it at once, and the
    workers die with the sweep."""
    path = write_experiment(
        tmp_path, LONGER.replace("replicates = 25", "replicates = 250"), "longest.toml"
    )  # 3,000 runs: a few seconds
    out = tmp_path / "parent-killed"
    for extra in ((), ("--resume",)):
        before = len(list((out / "runs").glob("part-*.parquet"))) if out.exists() else 0
        proc = start_sweep(path, out, *extra)
        try:
            wait_for_parts(out, proc, before + 2)
            workers = children(proc.pid)
            assert len(workers) == 2, workers
            lock = str(out / ".lock")
            assert lock in [os.readlink(fd) for fd in Path(f"/proc/{proc.pid}/fd").iterdir()]
            for worker in workers:
                assert lock not in [
                    os.readlink(fd) for fd in Path(f"/proc/{worker}/fd").iterdir()
                ], worker
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            lock_folder(out).close()  # at once: nobody holds it
            deadline = time.monotonic() + 10
            while any(alive(w) for w in workers):
                assert time.monotonic() < deadline, "workers outlived the sweep"
                time.sleep(0.01)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "cbsim",
            "sweep",
            str(path),
            "--out",
            str(out),
            "--workers",
            "2",
            "--resume",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    final = table(out)
    assert final["run_id"].tolist() == list(range(3000)) and final["error"].isna().all()
    assert manifest(out)["status"] == "complete"


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
