"""`--scheduler` and `--workers` (issue 11): bad values are one line at once; nothing hangs.

An address that is not ``local`` or ``tcp://HOST:PORT`` is refused before anything is
loaded; a TCP server that is not a Dask scheduler (silent, or HTTP) is given up on within
CONNECT_TIMEOUT_S; a Dask worker without cbsim within PROBE_TIMEOUT_S; `--workers` is 1 to
MAX_WORKERS, and a sweep never starts more pool processes than it has batches.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sweep_designs import experiment_text

import cbsim.sweep.run as sweep_run
from cbsim.cli import main
from cbsim.inputs.errors import CbsimError
from cbsim.sweep.engines import SerialEngine
from cbsim.sweep.options import check_scheduler, useful_workers
from cbsim.sweep.run import run_sweep
from cbsim.sweep.spec import (
    CONNECT_TIMEOUT_S,
    MAX_WORKERS,
    PROBE_TIMEOUT_S,
    WORKERS_TIMEOUT_S,
)

FAULTS = Path(__file__).resolve().parent / "faults"
TINY = experiment_text(replicates=3, seed=99)  # 12 runs
FOUR = experiment_text(replicates=1, seed=99)  # 4 runs


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("cbsim"), err
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------ --scheduler
@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("garbage", "expected tcp://HOST:PORT"),
        ("tcp://", "expected tcp://HOST:PORT with a port"),
        ("tcp://host", "expected tcp://HOST:PORT with a port"),
        ("tcp://host:0", "expected tcp://HOST:PORT with a port"),
        ("tcp://host:99999", "Port out of range"),
        ("tcp://host:port", "Port could not be cast"),
        ("tcp://host:8786/path", "nothing but tcp://HOST:PORT"),
        ("tcp://user@host:8786", "nothing but tcp://HOST:PORT"),
        ("tcp://a b:8786", "spaces or control codes"),
        ("http://example.com:8786", "only tcp:// addresses (and 'local') are supported"),
        ("inproc://x", "only tcp:// addresses"),
        ("tls://127.0.0.1:8786", "only tcp:// addresses"),
        ("ucx://127.0.0.1:8786", "only tcp:// addresses"),
        ("", "expected tcp://HOST:PORT"),
        ("tcp://host:8786\nx", "'tcp://host:8786\\nx'"),
    ],
)
def test_a_bad_scheduler_address_is_one_line_at_once(tiny, tmp_path, capsys, address, message):
    out = tmp_path / "out"
    started = time.monotonic()
    status = main(["sweep", str(tiny), "--out", str(out), "--scheduler", address])
    assert time.monotonic() - started < 10  # not the ~25 s a Dask client took to fail
    assert status == 2
    err = one_line(capsys.readouterr().err)
    assert "--scheduler" in err and message in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "address", ["local", "tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tcp://dask-host:1"]
)
def test_good_scheduler_addresses_are_accepted(address):
    assert check_scheduler(address) == address


def silent_server() -> tuple[socket.socket, int]:
    """A TCP server that accepts connections and never says anything."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["silent", "http"])
def test_something_other_than_a_dask_scheduler_is_given_up_on_in_time(tiny, tmp_path, kind):
    if kind == "silent":
        server, port = silent_server()
        stop = server.close
    else:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

        def stop() -> None:
            httpd.shutdown()
            httpd.server_close()

    out = tmp_path / "out"
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "cbsim", "sweep", str(tiny), "--out", str(out)]
            + ["--scheduler", f"tcp://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=CONNECT_TIMEOUT_S + 90,  # the deadline, and start-up on a busy machine
        )
    finally:
        stop()
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    err = one_line(result.stderr)
    assert f"no Dask scheduler answered within {CONNECT_TIMEOUT_S} s" in err, err
    assert took >= CONNECT_TIMEOUT_S
    assert not out.exists()


def start_scheduler(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """A real `dask scheduler` on a free port: (its process, its address)."""
    info = tmp_path / "scheduler.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--scheduler-file", str(info)]
        + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (info.exists() and info.stat().st_size):
        assert proc.poll() is None and time.monotonic() < deadline, "no dask scheduler"
        time.sleep(0.05)
    for _ in range(200):  # written, then maybe not yet whole
        try:
            return proc, json.loads(info.read_text())["address"]
        except ValueError:
            time.sleep(0.05)
    raise AssertionError("unreadable scheduler file")


@pytest.mark.slow
def test_a_dask_worker_without_cbsim_stops_the_sweep_in_one_line(tiny, tmp_path):
    scheduler, address = start_scheduler(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBSIM_FAULT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAULTS), env.get("PYTHONPATH")]))
    worker = subprocess.Popen(
        [sys.executable, "-m", "dask", "worker", address, "--nworkers", "1", "--nthreads", "1"]
        + ["--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, "CBSIM_FAULT_HIDE_CBSIM": "1"},  # `import cbsim` fails there
    )
    out = tmp_path / "out"
    try:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "cbsim", "sweep", str(tiny), "--out", str(out)]
            + ["--scheduler", address],
            capture_output=True,
            text=True,
            timeout=CONNECT_TIMEOUT_S + WORKERS_TIMEOUT_S + PROBE_TIMEOUT_S + 90,
        )
        took = time.monotonic() - started
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
        for proc in (worker, scheduler):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert result.returncode == 2, result.stderr
    err = one_line(result.stderr)
    assert "every worker needs the same cbsim installed" in err, err
    assert took < WORKERS_TIMEOUT_S + PROBE_TIMEOUT_S + 60
    assert not out.exists()


# ------------------------------------------------------------------ --workers
@pytest.mark.parametrize(
    "value", ["0", "-1", str(MAX_WORKERS + 1), "600", "10000000", "99999999999999999999", "x"]
)
def test_workers_out_of_range_is_one_line_at_once(tiny, tmp_path, capsys, value):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        main(["sweep", str(tiny), "--out", str(out), "--workers", value])
    assert stopped.value.code == 2
    err = one_line(capsys.readouterr().err)
    assert f"--workers: expected a whole number from 1 to {MAX_WORKERS}" in err, err
    assert not out.exists()


@pytest.mark.parametrize("value", [0, MAX_WORKERS + 1, 10**20, True, 2.0])
def test_run_sweep_refuses_workers_out_of_range(tiny, tmp_path, value):
    with pytest.raises(CbsimError, match="--workers must be"):
        run_sweep(tiny, out=tmp_path / "out", workers=value, progress=False)
    assert not (tmp_path / "out").exists()


def test_no_more_pool_workers_than_batches(tmp_path, monkeypatch):
    """--workers 256 for 4 runs starts 4 processes (the hostile user saw 587 for 6 runs)."""
    path = tmp_path / "four.toml"
    path.write_text(FOUR)
    asked: list[int | None] = []

    def make(scenario, workers, scheduler):
        asked.append(workers)
        return SerialEngine(scenario)

    monkeypatch.setattr(sweep_run, "make_engine", make)
    run_sweep(path, out=tmp_path / "a", workers=MAX_WORKERS, progress=False)
    run_sweep(path, out=tmp_path / "b", workers=MAX_WORKERS, batch_size=3, progress=False)
    run_sweep(path, out=tmp_path / "c", workers=3, progress=False)
    assert asked == [4, 2, 3]


def test_a_real_pool_for_four_runs_has_four_workers(tmp_path):
    path = tmp_path / "four.toml"
    path.write_text(FOUR)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", str(MAX_WORKERS)]) == 0
    session = json.loads((out / "manifest.json").read_text())["sessions"][0]
    assert session["engine"] == "process pool (4 workers)"


def test_useful_workers():
    assert useful_workers(6, 600) == 6
    assert useful_workers(6, 2) == 2
    assert useful_workers(100, 8, batch_size=30) == 4
    assert useful_workers(0, 4) == 1
