"""Bad input to `cbsim run` and `cbsim params`: one line naming file and field, exit 2, nothing
written (issue 2 "Bad input", issue 6).

Every kind of bad input runs the real command in a subprocess (`python -m cbsim`) at least
once; the rest of each matrix calls `cbsim.cli.main` in this process, which is the same code
minus the ~1 s interpreter start, to keep the suite fast.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import cbsim.outputs.run_files
from cbsim import cli
from cbsim.inputs.errors import InputError
from cbsim.inputs.scenario import load_scenario

RUN_FILES = {"timeseries.csv", "outcomes.json", "actions.json", "adoption.png"}


def cbsim_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m cbsim ARGS` in `cwd`, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "cbsim", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture
def cbsim_any(monkeypatch, capfd):
    """`cbsim_any(via, *args, cwd=...)`: the CLI in a subprocess or in this process."""

    def call(via: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
        if via == "subprocess":
            return cbsim_cli(*args, cwd=cwd)
        monkeypatch.chdir(cwd)
        capfd.readouterr()
        try:
            status = cli.main(list(args))
        except SystemExit as exc:  # argparse usage errors
            status = exc.code
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(["cbsim", *args], status, out, err)

    return call


def assert_one_line_error(result: subprocess.CompletedProcess, *names: str) -> str:
    """Exit status 2, exactly one line on stderr naming every one of `names`, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert lines[0].startswith("cbsim"), lines[0]
    assert ": error: " in lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def tree(folder: Path) -> set[str]:
    """Every path under `folder` (relative), to show that nothing was written."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# (scenario file text, field the message must name, other text it must contain)
BAD_FILES = {
    "malformed_toml": ("[timeline]\nstart = 2011-04\n", "timeline.start", "malformed TOML"),
    "unclosed_table": ('[timeline\nstart = "2011-04"\n', None, "malformed TOML"),
    "misspelt_key": (
        '[timeline]\nstrat = "2011-04"\n',
        "timeline.strat",
        "did you mean 'timeline.start'?",
    ),
    "misspelt_section": ("[ofer]\nnational_pooling = true\n", "ofer", "did you mean 'offer'?"),
    "unknown_top_key": ('colour = "red"\n', "colour", "unknown parameter"),
    "wrong_type_bool": (
        '[offer]\nnational_pooling = "yes"\n',
        "offer.national_pooling",
        "expected true or false",
    ),
    "wrong_type_number": ('[council]\nspeed = "fast"\n', "council.speed", "expected a number"),
    "wrong_type_table": (
        "[timeline.start]\nyear = 2011\n",
        "timeline.start",
        "expected a calendar month",
    ),
    "wrong_type_section": ("timeline = 5\n", "timeline", "is a section"),
    "wrong_type_name": ("name = 5\n", "name", "non-empty string"),
    "out_of_range": ("[council]\nspeed = -1\n", "council.speed", "out of range"),
    "out_of_range_int": ("[network]\nregion_links = 2.5\n", "network.region_links", "whole number"),
    "huge_int": ("[council]\nspeed = 1" + "0" * 30 + "\n", "council.speed", "out of range"),
    "huge_int_too_long": ("[council]\nspeed = 1" + "0" * 5000 + "\n", None, "too long"),
    "huge_float": ("[council]\nspeed = 1e308\n", "council.speed", "out of range"),
    "infinite": ("[council]\nspeed = inf\n", "council.speed", "out of range"),
    "nan": ("[council]\nspeed = nan\n", "council.speed", "out of range"),
    "bad_month_13": ('[timeline]\ntarget_date = "2012-13"\n', "timeline.target_date", "01-12"),
    "bad_month_words": (
        '[timeline]\ntarget_date = "April 2012"\n',
        "timeline.target_date",
        "YYYY-MM",
    ),
    "bad_month_one_digit": (
        '[timeline]\ntarget_date = "2012-4"\n',
        "timeline.target_date",
        "YYYY-MM",
    ),
    "bad_month_toml_date": (
        "[timeline]\ntarget_date = 2012-04-01\n",
        "timeline.target_date",
        "in quotes",
    ),
    "bad_month_huge_year": ('[timeline]\nend = "99999-01"\n', "timeline.end", "YYYY-MM"),
    "unknown_department": (
        '[departments.DPW]\nstance = "pool"\n',
        "departments.DPW",
        "did you mean 'DWP'?",
    ),
    "unknown_department_empty": ("[departments.DPW]\n", "departments.DPW", "unknown department"),
    "unknown_authority": (
        '[councils]\ndeveloping_at_start = ["Kent", "Manchesterr"]\n',
        "councils.developing_at_start",
        "did you mean 'Manchester'?",
    ),
    "mixed_array": (
        '[councils]\ndeveloping_at_start = ["Kent", 3]\n',
        "councils.developing_at_start",
        "list of names",
    ),
    "stance_below_floor": (
        '[departments.DCLG]\nstance = "withhold"\n',
        "departments.DCLG.stance",
        "floor",
    ),
    "unknown_stance": (
        '[departments.DWP]\nstance = "pol"\n',
        "departments.DWP.stance",
        "did you mean 'pool'?",
    ),
    "target_after_run": (
        '[timeline]\ntarget_date = "2014-01"\n',
        "timeline.target_date",
        "must lie between",
    ),
    "target_before_run": (
        '[timeline]\ntarget_date = "2010-01"\n',
        "timeline.target_date",
        "must lie between",
    ),
    "end_before_start": ('[timeline]\nend = "2011-01"\n', "timeline.end", "after"),
    "given_twice": (
        '"offer.national_pooling" = true\n[offer]\nnational_pooling = false\n',
        "offer.national_pooling",
        "twice",
    ),
    "name_with_slash": ('name = "../../elsewhere"\n', "name", "plain name"),
}


# the cases run in a real subprocess: every kind of bad input at least once
FILE_SUBPROCESS = {
    ("run", c)
    for c in (
        "malformed_toml",
        "misspelt_key",
        "wrong_type_bool",
        "out_of_range",
        "huge_int_too_long",
        "bad_month_13",
        "bad_month_words",
        "bad_month_one_digit",
        "unknown_department",
        "unknown_authority",
        "stance_below_floor",
        "target_after_run",
    )
} | {("params", c) for c in ("malformed_toml", "misspelt_key", "unknown_department")}


def _via(command: str, case: str) -> str:
    return "subprocess" if (command, case) in FILE_SUBPROCESS else "in-process"


@pytest.mark.parametrize(
    ("command", "case", "via"),
    [
        (command, case, _via(command, case))
        for command in ("run", "params")
        for case in sorted(BAD_FILES)
    ],
)
def test_bad_scenario_file_gives_one_line_exit_2_and_writes_nothing(
    tmp_path, cbsim_any, command, case, via
):
    text, field, detail = BAD_FILES[case]
    scenario = tmp_path / f"{case}.toml"
    scenario.write_text(text, encoding="utf-8")
    before = tree(tmp_path)
    args = [command, str(scenario)] + (["--out", str(tmp_path / "out")] if command == "run" else [])
    result = cbsim_any(via, *args, cwd=tmp_path)
    assert_one_line_error(result, str(scenario), *([field] if field else []), detail)
    assert result.stdout == ""
    assert tree(tmp_path) == before  # no --out folder, no default out/, no stray files


def test_missing_file_names_it(tmp_path):
    result = cbsim_cli("run", "nosuch.toml", "--out", "out", cwd=tmp_path)
    assert_one_line_error(result, "nosuch.toml", "no such scenario file")
    assert tree(tmp_path) == set()


def test_unknown_scenario_name_suggests_the_nearest(tmp_path):
    result = cbsim_cli("params", "baseline_2012", cwd=tmp_path)
    assert_one_line_error(result, "baseline_2012", "did you mean 'baseline_2011'?")


def test_folder_given_as_scenario_file(tmp_path, cbsim_any):
    (tmp_path / "folder.toml").mkdir()
    result = cbsim_any("in-process", "run", "folder.toml", cwd=tmp_path)
    assert_one_line_error(result, "folder.toml", "is a folder")
    assert tree(tmp_path) == {"folder.toml"}


@pytest.mark.parametrize(
    ("raw", "via"),
    [
        (b"", "in-process"),
        (b"\xef\xbb\xbf[council]\nspeed = 0.7\n", "in-process"),
        (b"\xff\xfe[timeline]\n", "subprocess"),
        (b'name = "caf\xe9"\n', "in-process"),
        (b'[timeline]\nstart = "2011-04"\x00\n', "in-process"),
        (bytes(range(256)) * 4, "in-process"),
    ],
)
def test_empty_or_non_utf8_or_binary_file(tmp_path, cbsim_any, raw, via):
    scenario = tmp_path / "raw.toml"
    scenario.write_bytes(raw)
    result = cbsim_any(via, "run", str(scenario), "--out", str(tmp_path / "out"), cwd=tmp_path)
    if raw == b"\xef\xbb\xbf[council]\nspeed = 0.7\n":
        # UTF-8 with the byte-order mark some editors write is a valid scenario; an empty
        # file is refused (it used to run silently as the defaults)
        assert result.returncode == 0, result.stderr
        assert {p.name for p in (tmp_path / "out").iterdir()} == RUN_FILES
        return
    assert_one_line_error(result, str(scenario))
    assert tree(tmp_path) == {"raw.toml"}


BAD_SETS = {
    "offer.national_pooling=maybe": ("offer.national_pooling", "expected true or false"),
    "council.sped=1": ("council.sped", "did you mean 'council.speed'?"),
    "departments.DPW.stance=pool": ("departments.DPW", "did you mean 'DWP'?"),
    "council.speed=fast": ("council.speed", "expected a number"),
    "council.speed=": ("council.speed", "no value"),
    "council.speed": ("council.speed", "PATH=VALUE"),
    "=1": ("--set", "PATH=VALUE"),
    "council.speed=1e400": ("council.speed", "out of range"),
    "council.speed=nan": ("council.speed", "out of range"),
    "council.speed=-0.1": ("council.speed", "out of range"),
    "network.region_links=1.5": ("network.region_links", "whole number"),
    "timeline.target_date=2012-13": ("timeline.target_date", "01-12"),
    "timeline.target_date=April 2012": ("timeline.target_date", "YYYY-MM"),
    "timeline.target_date=2012-4": ("timeline.target_date", "YYYY-MM"),
    "timeline.target_date=2014-01": ("timeline.target_date", "must lie between"),
    "departments.DCLG.stance=withhold": ("departments.DCLG.stance", "floor"),
    'councils.developing_at_start=["Kentt"]': (
        "councils.developing_at_start",
        "did you mean 'Kent'?",
    ),
    "councils.developing_at_start=Kent": ("councils.developing_at_start", "list of names"),
    "council.speed=1\nx = 2": ("council.speed", "expected a number"),
    "timeline={start='2011-04'}": ("timeline", "is a section"),
}


SET_SUBPROCESS = {
    "council.sped=1",
    "council.speed=fast",
    "council.speed=",
    "departments.DCLG.stance=withhold",
}


@pytest.mark.parametrize(
    ("option", "via"),
    [(o, "subprocess" if o in SET_SUBPROCESS else "in-process") for o in sorted(BAD_SETS)],
)
def test_bad_set_option_gives_one_line_exit_2_and_writes_nothing(tmp_path, cbsim_any, option, via):
    field, detail = BAD_SETS[option]
    result = cbsim_any(via, "run", "baseline_2011", "--set", option, cwd=tmp_path)
    assert_one_line_error(result, "--set", field, detail)
    assert tree(tmp_path) == set()  # not even the default out/ folder


@pytest.mark.parametrize(
    ("seed", "via"), [("-1", "subprocess"), ("abc", "in-process"), ("1.5", "in-process")]
)
def test_bad_seed_is_a_one_line_usage_error(tmp_path, cbsim_any, seed, via):
    result = cbsim_any(via, "run", "baseline_2011", "--seed", seed, cwd=tmp_path)
    assert_one_line_error(result, "--seed", seed)
    assert tree(tmp_path) == set()


def test_unreadable_file_gives_one_line(tmp_path, monkeypatch, capsys):
    """Permission denied (simulated: the tests run as root, who may read anything)."""
    scenario = tmp_path / "secret.toml"
    scenario.write_text("[council]\nspeed = 1.0\n")
    real = Path.read_bytes

    def denied(self):
        if self.name == "secret.toml":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(InputError, match="Permission denied"):
        load_scenario(scenario)
    status = cli.main(["run", str(scenario), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert str(scenario) in err and "Permission denied" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- writing the outputs
def test_out_under_a_file_gives_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = cbsim_cli(
        "run", "baseline_2011", "--out", str(tmp_path / "file" / "run"), cwd=tmp_path
    )
    assert_one_line_error(result, str(tmp_path / "file" / "run"), "cannot write outputs")
    assert tree(tmp_path) == {"file"}


def test_disk_full_while_writing_leaves_no_output(tmp_path, monkeypatch, capsys):
    real = cbsim.outputs.run_files.atomic_write_bytes

    def full(path, data):
        if Path(path).name == "adoption.png":  # the last file written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(cbsim.outputs.run_files, "atomic_write_bytes", full)
    status = cli.main(["run", "baseline_2011", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "No space left on device" in err and str(tmp_path / "run") in err
    assert tree(tmp_path) == set()  # neither the output nor its staging folder


@pytest.mark.parametrize("failing", [1, 2, 3, 4, 5])
def test_failed_rename_into_out_leaves_it_absent_or_complete(
    tmp_path, monkeypatch, capsys, failing
):
    """Whichever move into --out fails, a reader finds no output or all of it."""
    out = tmp_path / "run"
    calls = {"n": 0}
    real_replace, real_rename = os.replace, os.rename

    def moving(real):
        def move(src, dst, *args, **kwargs):
            dst = Path(dst)
            if out in (dst, *dst.parents):
                calls["n"] += 1
                if calls["n"] == failing:
                    raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
            return real(src, dst, *args, **kwargs)

        return move

    monkeypatch.setattr(os, "replace", moving(real_replace))
    monkeypatch.setattr(os, "rename", moving(real_rename))
    status = cli.main(["run", "baseline_2011", "--out", str(out)])
    err = capsys.readouterr().err
    if status == 0:
        assert {p.name for p in out.iterdir()} == RUN_FILES
    else:
        assert status == 2 and err.count("\n") == 1 and str(out) in err
        assert not out.exists()
    assert {p.name for p in tmp_path.iterdir()} <= {"run"}  # no staging folder left


@pytest.mark.parametrize("failing", [1, 3, 4])
def test_failed_replace_in_an_existing_out_keeps_every_file_whole(
    tmp_path, monkeypatch, capsys, failing
):
    """Re-running into an earlier run's folder: each file is the old one or the new one."""
    out = tmp_path / "run"
    assert cli.main(["run", "baseline_2011", "--seed", "2", "--out", str(out)]) == 0
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).parent == out:
            calls["n"] += 1
            if calls["n"] == failing:
                raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    capsys.readouterr()
    assert cli.main(["run", "baseline_2011", "--seed", "3", "--out", str(out), "--force"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert {p.name for p in out.iterdir()} == RUN_FILES
    changed = [name for name in RUN_FILES if (out / name).read_bytes() != old[name]]
    assert len(changed) <= failing - 1  # only the files moved before the failure are new
    for name in ("outcomes.json", "actions.json"):
        json.loads((out / name).read_text())
    assert (out / "adoption.png").read_bytes().endswith(b"IEND\xaeB`\x82")
    assert {p.name for p in tmp_path.iterdir()} == {"run"}


KILLER = """
import os, signal, sys
from cbsim.cli import main

when, out = sys.argv[1], os.path.abspath(sys.argv[2])
fsync, rename, replace = os.fsync, os.rename, os.replace

def kill_mid_write(fd):  # the temporary file is written but not yet renamed
    if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(f".{when}."):
        os.kill(os.getpid(), signal.SIGKILL)
    fsync(fd)

def killing(move):  # kill either side of the first move into the output folder
    def moved(src, dst):
        into_out = out in (os.path.abspath(dst), os.path.dirname(os.path.abspath(dst)))
        if into_out and when == "before-move":
            os.kill(os.getpid(), signal.SIGKILL)
        move(src, dst)
        if into_out and when == "after-first-move":
            os.kill(os.getpid(), signal.SIGKILL)
    return moved

os.fsync, os.rename, os.replace = kill_mid_write, killing(rename), killing(replace)
sys.exit(main(["run", "baseline_2011", "--out", out]))
"""


@pytest.mark.parametrize("when", [*sorted(RUN_FILES), "before-move", "after-first-move"])
def test_killed_while_writing_leaves_no_half_output(tmp_path, when):
    """SIGKILL in the middle of writing each file, and either side of the first move into
    --out: it is absent, or holds every file, whole (Linux: reads /proc/self/fd)."""
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, when, str(out)],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if when == "after-first-move":
        assert {p.name for p in out.iterdir()} == RUN_FILES
        png = (out / "adoption.png").read_bytes()
        assert png.startswith(b"\x89PNG") and png.endswith(b"IEND\xaeB`\x82")
    else:
        assert not out.exists()


# ---------------------------------------------------------------- loading, not just errors
def test_file_rewritten_within_one_clock_tick_is_reloaded(tmp_path):
    """The parse cache is keyed by content, not by modification time."""
    scenario = tmp_path / "edit.toml"
    scenario.write_text("[council]\nspeed = 0.5\n")
    stamp = scenario.stat().st_mtime_ns
    assert load_scenario(scenario).values["council.speed"] == 0.5
    scenario.write_text("[council]\nspeed = 0.7\n")
    os.utime(scenario, ns=(stamp, stamp))  # same size, same mtime: only the bytes differ
    assert load_scenario(scenario).values["council.speed"] == 0.7


def test_a_model_changing_its_parameters_does_not_change_later_loads():
    from cbsim import CommunityBudgetModel

    before = load_scenario("baseline_2011").values["council.speed"]
    model = CommunityBudgetModel(scenario="baseline_2011", rng=1)
    model.set_parameter("council.speed", before + 1.0)
    model.params["councils.developing_at_start"].append("York")  # not a pilot
    again = load_scenario("baseline_2011").values
    assert again["council.speed"] == before
    assert "York" not in again["councils.developing_at_start"]
