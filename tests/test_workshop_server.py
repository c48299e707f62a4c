"""`cbsim viz`'s launch: the library says what to show and prints nothing; the command line
shows it (status on stdout, warnings on stderr)."""

from __future__ import annotations

import pytest

from cbsim.cli import main
from cbsim.workshop import server


class _FakeServer:
    def __init__(self, command, env):
        self.command = command

    def wait(self):
        return 0


@pytest.fixture
def no_server(monkeypatch):
    monkeypatch.setattr(server.subprocess, "Popen", _FakeServer)
    monkeypatch.setattr(server, "_check_port_free", lambda host, port: None)
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
