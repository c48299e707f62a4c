"""`cbsim viz`'s launch: the library says what to show and prints nothing; the command line
shows it (status on stdout, warnings on stderr)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from cbsim.cli import main
from cbsim.workshop import server


class _FakeServer:
    def __init__(self, command, env, **kwargs):
        self.command = command

    def wait(self):
        return 0


@pytest.fixture
def no_server(monkeypatch):
    monkeypatch.setattr(server.subprocess, "Popen", _FakeServer)
    monkeypatch.setattr(server, "_check_port_free", lambda host, port: port)
    monkeypatch.setattr(server, "missing_solara_assets", lambda: [])


def test_prepare_says_where_the_page_is_and_warns_off_loopback(no_server):
    launch = server.prepare("compelling_offer")
    assert launch.status == (
        "cbsim viz: scenario compelling_offer at http://127.0.0.1:8765/ (Ctrl-C to stop)"
    )
    assert launch.warnings == []
    launch = server.prepare("baseline_2011", host="::", port=9000)
    assert launch.status.endswith("at http://[::]:9000/ (Ctrl-C to stop)")
    assert launch.warnings == [
        "cbsim viz: warning: listening on ::, not 127.0.0.1: anyone who can reach this "
        "address can open the page and run models on this machine"
    ]


def test_missing_assets_are_a_warning(no_server, monkeypatch):
    monkeypatch.setattr(server, "missing_solara_assets", lambda: ["vue@2.6.14", "x@1"])
    (warning,) = server.prepare("baseline_2011").warnings
    assert warning.startswith("cbsim viz: warning: 2 of Solara's front-end packages are not in")
    assert warning.endswith("run scripts/setup_browser.sh .venv (or make browser) to work offline")


def test_serve_prints_nothing_and_the_cli_prints_it(no_server, capsys):
    assert server.serve("baseline_2011", host="0.0.0.0") == 0
    assert capsys.readouterr() == ("", "")
    assert main(["viz", "baseline_2011", "--host", "0.0.0.0"]) == 0
    out, err = capsys.readouterr()
    assert out == "cbsim viz: scenario baseline_2011 at http://0.0.0.0:8765/ (Ctrl-C to stop)\n"
    assert err.startswith("cbsim viz: warning: listening on 0.0.0.0") and err.count("\n") == 1


# ------------------------------------------------------------------ --host and --port (issue 11)
def test_host_errors_name_host_and_an_empty_host_is_refused(capsys):
    for host, message in [
        ("", "--host: empty address"),
        ("   ", "--host: empty address"),
        ("no-such-host.invalid", "--host: no-such-host.invalid: no such address"),
        ("10.255.255.254", "--host: cannot listen on 10.255.255.254:"),  # not this machine's
    ]:
        assert main(["viz", "baseline_2011", "--host", host, "--port", "0"]) == 2, host
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert "--port" not in err and "listening on ," not in err


def test_loopback_is_judged_on_the_resolved_address(no_server):
    for host in ("127.0.0.1", "127.1", "127.0.0.2", "localhost", "::1"):
        assert server.is_loopback(host), host
        assert server.prepare("baseline_2011", host=host).warnings == [], host
    for host in ("0.0.0.0", "::", "", "no-such-host.invalid"):
        assert not server.is_loopback(host), host


def test_port_zero_picks_a_free_port_and_says_which(monkeypatch, capsys):
    monkeypatch.setattr(server.subprocess, "Popen", _FakeServer)
    monkeypatch.setattr(server, "missing_solara_assets", lambda: [])
    launch = server.prepare("baseline_2011", port=0)
    port = int(launch.command[launch.command.index("--port") + 1])
    assert 1 <= port <= 65535
    assert launch.status.endswith(f"at http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    assert main(["viz", "baseline_2011", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:0/" not in out and "http://127.0.0.1:" in out
    for bad in ("-1", "65536"):
        assert main(["viz", "baseline_2011", "--port", bad]) == 2
        err = capsys.readouterr().err
        assert "--port" in err and "(1-65535, or 0 for any free port)" in err


def test_a_busy_port_names_port(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["viz", "baseline_2011", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cbsim: error: --port: cannot listen on 127.0.0.1:{port}")


# ------------------------------------------------------------------ the server dies with cbsim viz
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGHUP, signal.SIGTERM])
def test_the_server_dies_with_cbsim_viz(stop, tmp_path):
    """Killing `cbsim viz` (even with SIGKILL, which it cannot catch) leaves no server
    answering on the port."""
    port = _free_port()
    log = (tmp_path / "viz.log").open("wb")
    viz = subprocess.Popen(
        [sys.executable, "-m", "cbsim", "viz", "baseline_2011", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: cleaned up below whatever happens
    )
    try:
        _wait_for(lambda: _answers(port), 120, "the server did not answer")
        viz.send_signal(stop)  # cbsim viz alone, not its group
        viz.wait(timeout=30)
        _wait_for(lambda: not _answers(port), 60, "the server still answers")
    finally:
        try:
            os.killpg(viz.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()
