"""Signals (issue 11): a double Ctrl-C ends like a single one; a pool worker signalled while
it starts dies quietly instead of running the sweep's handler."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sweep_designs import longer

from cbsim.sweep.run import run_sweep

LONGEST = longer(seed=3, replicates=250)  # 3,000 runs: a few seconds on 2 workers
LINUX = pytest.mark.skipif(
    sys.platform != "linux" or not Path("/proc/self/task").is_dir(),
    reason="the pool forks on Linux; needs /proc",
)


def table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs").sort_values("run_id").reset_index(drop=True)


def parts(out: Path) -> list[Path]:
    return list((out / "runs").glob("part-*.parquet")) if (out / "runs").is_dir() else []


def wait_for_first_part(out: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not parts(out):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no part file within 120 s"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def longest(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("longest") / "longest.toml"
    path.write_text(LONGEST)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("gap_ms", [0, 2, 5, 10, 15, 25, 40])
def test_a_double_ctrl_c_ends_like_a_single_one(longest, tmp_path, gap_ms):
    """Two SIGINTs to the process group (what Ctrl-C twice in a terminal sends), `gap_ms`
    apart, once the first part file exists: the manifest says interrupted, the resume hint
    is printed, exit status 130, no noise (before: with the manifest left "running", or
    exit status -2 as the second landed while Python exited); resuming completes the
    table. A pool worker terminated while it wrote its results no longer hangs the pool's
    shutdown (seen here, about 1 time in 25, once the rest was fixed)."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cbsim", "sweep", str(longest), "--out", str(out)]
        + ["--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_first_part(out, proc)
        os.killpg(proc.pid, signal.SIGINT)
        if gap_ms:
            time.sleep(gap_ms / 1000)  # the gap between the two signals, not a wait
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == 130, stderr
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr
    assert "interrupted;" in lines[0] and "(finish with --resume)" in lines[0], stderr
    assert lines[1] == "cbsim: interrupted"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    partial = table(out)
    assert manifest["runs"]["done"] == len(partial) and partial["run_id"].is_unique
    assert 0 < len(partial) < 3000
    if gap_ms == 15:  # the data are intact: resuming completes the table
        summary = run_sweep(longest, out=out, workers=2, resume=True, progress=False)
        assert summary.done == 3000 and summary.exit_status == 0
        assert table(out)["run_id"].tolist() == list(range(3000))


# Run in a fresh process: a sweep-like parent whose SIGTERM handler raises, which starts
# pools and terminates them at once, before their workers have run their initializer.
TERMINATE_AT_START = r"""
import signal, sys
from cbsim.inputs.experiment import load_experiment
from cbsim.sweep import engines

class Stop(KeyboardInterrupt):
    pass

def stop(signum, frame):
    raise Stop()

signal.signal(signal.SIGTERM, stop)
scenario = load_experiment(sys.argv[1]).base_scenario()
codes = []
for _ in range(int(sys.argv[2])):
    engine = engines.PoolEngine(scenario, 2)
    processes = engines._processes(engine.executor)
    engine.close(cancel=True)  # SIGTERM to workers forked a moment ago
    codes += [p.exitcode for p in processes]
print(sorted(set(codes)))
"""


@LINUX
def test_a_worker_terminated_while_it_starts_dies_quietly(longest):
    """The fork inherits the parent's SIGTERM handler; run before the worker's initializer
    resets it, it raised in the worker (`Process ForkProcess-N:` and a traceback on the
    sweep's stderr). Workers now start with the parent's handled signals blocked."""
    result = subprocess.run(
        [sys.executable, "-c", TERMINATE_AT_START, str(longest), "20"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ForkProcess" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    codes = json.loads(result.stdout)
    assert set(codes) <= {0, -signal.SIGTERM}, codes  # ended, or killed by SIGTERM's default
