"""Calibration on its other engines, and stopped by a signal: Dask (a LocalCluster, and an
address where no scheduler answers), and Ctrl-C / SIGTERM on the command line, which leaves a
record that --resume continues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_calibrate import FITTED, write

from cbsim.cli import main

CBSIM = [sys.executable, "-m", "cbsim"]


@pytest.mark.slow
def test_calibration_on_a_local_dask_cluster(tmp_path, capsys):
    out = tmp_path / "out"
    path = write(tmp_path)
    args = ["calibrate", str(path), "--out", str(out), "--scheduler", "local", "--workers", "2"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "local Dask cluster" in captured.out
    assert "WARNING" not in captured.err
    assert len(pd.read_parquet(out / "posterior.parquet")) == 20


@pytest.mark.slow
def test_no_scheduler_at_the_address_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "calibrate",
        str(write(tmp_path)),
        "--out",
        str(out),
        "--scheduler",
        "tcp://127.0.0.1:9",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Dask scheduler answered" in err
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_calibration_quietly_and_resume_finishes_it(tmp_path, signum):
    # generations of a few seconds each, so that a signal sent when the second starts lands
    # inside it (an observed value: epsilon never reaches 0, nothing ends the fit early)
    slow = FITTED.replace("population = 15", "population = 150").replace(
        "runs = 1\nobs", "runs = 3\nobs"
    )
    path = write(tmp_path, slow.replace("max_generations = 3", "max_generations = 4"))
    out = tmp_path / "out"
    command = [*CBSIM, "calibrate", str(path), "--out", str(out), "--workers", "2"]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    lines = []
    assert process.stderr is not None
    for line in process.stderr:  # wait for the second generation to start, then stop it
        lines.append(line)
        if "generation 2/4: epsilon" in line:
            process.send_signal(signum)
            break
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 130
    assert "Traceback" not in rest and "--resume" in rest, rest
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and len(manifest["generations"]) == 1
    assert not (out / "posterior.parquet").exists()
    assert not list(out.glob(".calibrate.*"))
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "generation 1/4" not in done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "done" and len(manifest["generations"]) == 4
    assert (out / "posterior.parquet").exists()
    assert os.path.getsize(out / "report.md") > 0
