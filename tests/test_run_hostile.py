"""`cbsim run` against a hostile user (issue 11): overlong --out refused before any work;
outputs staged inside --out (a mount point works); SIGTERM cleans up and exits 130;
stdout that cannot be written is one line on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cbsim.cli import main
from cbsim.model.model import CommunityBudgetModel
from cbsim.outputs import run_files
from cbsim.outputs.run_files import RUN_FILES, write_run_outputs

REPO = Path(__file__).resolve().parent.parent


def cbsim(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cbsim", *args],
        cwd=cwd,
        capture_output="stdout" not in kwargs,
        timeout=300,
        **kwargs,
    )


@pytest.fixture(scope="module")
def model() -> CommunityBudgetModel:
    m = CommunityBudgetModel(scenario="baseline_2011", rng=1)
    m.run_to_end()
    return m


# ------------------------------------------------------------------ names the disk refuses
@pytest.mark.parametrize(
    "out, message",
    [
        ("x" * 256, "a folder or file name longer than 255 bytes"),
        ("runs/" + "é" * 128 + "/x", "a folder or file name longer than 255 bytes"),
        ("a/" * 2100, "path longer than 4,096 bytes"),
    ],
)
def test_an_out_the_disk_would_refuse_is_one_line_before_any_work(
    tmp_path, monkeypatch, capsys, out, message
):
    monkeypatch.chdir(tmp_path)
    started = []
    monkeypatch.setattr(CommunityBudgetModel, "run_to_end", lambda self: started.append(1))
    assert main(["run", "baseline_2011", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cbsim: error: --out: ") and message in err
    assert not started and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ staged inside --out
def mount_point_at(out: Path, monkeypatch) -> list[tuple[Path, Path]]:
    """Make `out` behave as a mount point: a rename across its boundary, or onto it, fails
    as it does on a Docker volume. Returns the renames made."""
    moves: list[tuple[Path, Path]] = []
    real_replace, real_rename = os.replace, os.rename

    def crosses(src, dst) -> bool:
        s, d = Path(src), Path(dst)
        return d == out or s == out or (out in s.parents) != (out in d.parents)

    def replace(src, dst):
        if crosses(src, dst):
            raise OSError(18, "Invalid cross-device link")
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    def rename(src, dst):
        if crosses(src, dst):
            raise OSError(16, "Device or resource busy")
        moves.append((Path(src), Path(dst)))
        real_rename(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return moves


def test_outputs_are_staged_inside_out_so_a_mount_point_works(tmp_path, model, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "timeseries.csv").write_text("old")
    (out / "mine.txt").write_text("kept")
    moves = mount_point_at(out, monkeypatch)
    write_run_outputs(model, out, 1)
    assert sorted(p.name for p in out.iterdir()) == sorted([*RUN_FILES, "mine.txt"])
    assert (out / "timeseries.csv").read_text() != "old"
    assert {d.name for _, d in moves if d.parent == out} == set(RUN_FILES)


def test_a_write_that_fails_leaves_no_staging_and_no_new_folder(tmp_path, model, monkeypatch):
    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_files, "atomic_write_bytes", full_disk)
    with pytest.raises(OSError):
        write_run_outputs(model, tmp_path / "new", 1)
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "outcomes.json").write_text("{}")
    with pytest.raises(OSError):
        write_run_outputs(model, old, 1)
    assert [p.name for p in old.iterdir()] == ["outcomes.json"]


# ------------------------------------------------------------------ SIGTERM
STOP_WHILE_WRITING = """
import os, signal, sys
import cbsim.outputs.run_files as rf
real = rf.adoption_figure
def figure_then_stop(*a, **k):  # SIGTERM arrives while the outputs are being written
    os.kill(os.getpid(), signal.SIGTERM)
    return real(*a, **k)
rf.adoption_figure = figure_then_stop
from cbsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("existing", [False, True])
def test_sigterm_during_a_run_cleans_up_and_exits_130(tmp_path, existing):
    out = tmp_path / "o"
    if existing:
        out.mkdir()
        (out / "outcomes.json").write_text('{"old": true}')
    result = subprocess.run(
        [sys.executable, "-c", STOP_WHILE_WRITING, "run", "baseline_2011", "--out", str(out)]
        + (["--force"] if existing else []),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr == "cbsim: interrupted\n"
    if existing:
        assert [p.name for p in out.iterdir()] == ["outcomes.json"]
        assert json.loads((out / "outcomes.json").read_text()) == {"old": True}
    else:
        assert list(tmp_path.iterdir()) == []  # no folder, no .tmp staging folder


# ------------------------------------------------------------------ stdout that cannot be written
def test_stdout_on_a_full_disk_is_one_line_on_stderr(tmp_path):
    with open("/dev/full", "w") as full:
        result = cbsim(["run", "baseline_2011", "--out", "o"], tmp_path, stdout=full, stderr=-1)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert err == (
        "cbsim: error: stdout: cannot write (No space left on device); the outputs are in o/\n"
    )
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(RUN_FILES)


def test_stdout_a_closed_pipe_is_one_line_on_stderr(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "cbsim", "run", "baseline_2011", "--out", "o"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader has gone (as `| head -0`)
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 1
    assert err == "cbsim: error: stdout: cannot write (Broken pipe); the outputs are in o/\n"
