"""A sweep folder (issue 11): resume uses the stored design; `check_runs_folder` refuses a
damaged folder in one line; the manifest names the scenario file; `--out` may be an existing
empty folder (a mount point); names the file system would refuse fail before any run."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sweep_designs import experiment_text

from cbsim.cli import main
from cbsim.inputs.errors import CbsimError
from cbsim.inputs.experiment import Experiment
from cbsim.inputs.scenario import scenario_dir
from cbsim.sweep import folder as sweep_folder
from cbsim.sweep import run as sweep_run
from cbsim.sweep.run import run_sweep
from cbsim.sweep.store import RunsFolder, check_runs_folder

FAULTS = Path(__file__).resolve().parent / "faults"
TINY = experiment_text(replicates=3, seed=99)  # grid: 4 points x 3 replicates
LHS = """
scenario = "baseline_2011"
replicates = 2
seed = 5

[sampler]
method = "lhs"
samples = 8

[factors]
"offer.funding_boost_m" = { min = 0.0, max = 1.5 }
"offer.national_pooling" = [false, true]

[overrides]
"timeline.end" = "2012-04"
"""


def table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs").sort_values("run_id").reset_index(drop=True)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def parts(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("part-*.parquet"))


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("cbsim: error: "), err
    return err


@pytest.fixture(scope="module")
def lhs(tmp_path_factory) -> tuple[Path, Path]:
    """The lhs experiment swept in this process, 2 runs a part: (experiment, folder)."""
    base = tmp_path_factory.mktemp("lhs")
    path = base / "lhs.toml"
    path.write_text(LHS)
    out = base / "full"
    assert run_sweep(path, out=out, workers=1, batch_size=2, progress=False).exit_status == 0
    return path, out


def partial_copy(lhs: tuple[Path, Path], tmp_path: Path) -> Path:
    """A copy of the swept folder with three of its eight part files lost."""
    _, full = lhs
    out = tmp_path / "partial"
    shutil.copytree(full, out)
    for part in parts(out)[2:5]:
        part.unlink()
    return out


# ------------------------------------------------------------------ 1: the stored design
def test_resume_runs_the_stored_design_not_a_new_sample(lhs, tmp_path, monkeypatch):
    """A SALib release between kill and resume that samples differently (here: the rows
    reversed) does not change the resumed runs' factor values."""
    path, full = lhs
    out = partial_copy(lhs, tmp_path)
    sampled = Experiment.raw_design

    def another_salib(self):
        return sampled(self)[::-1].copy()

    monkeypatch.setattr(Experiment, "raw_design", another_salib)
    summary = run_sweep(path, out=out, workers=1, resume=True, progress=False)
    assert summary.ran == 6 and summary.exit_status == 0
    pd.testing.assert_frame_equal(table(out), table(full))


def rewrite_design(out: Path, change) -> None:
    design = pq.read_table(out / "design.parquet").to_pandas()
    design = change(design)
    pq.write_table(pa.Table.from_pandas(design, preserve_index=False), out / "design.parquet")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.iloc[:-1], "damaged design (7 rows for 8 points)"),
        (lambda d: d.drop(columns="offer.national_pooling"), "damaged design (columns"),
        (lambda d: d.rename(columns={"offer.funding_boost_m": "x"}), "damaged design (columns"),
        (lambda d: d.assign(**{"offer.funding_boost_m": 99.0}), "values outside [0, 1.5]"),
        (lambda d: d.assign(**{"offer.national_pooling": np.inf}), "values outside [0, 1]"),
        (lambda d: d.assign(**{"offer.national_pooling": np.nan}), "not a column of numbers"),
        (lambda d: d.assign(**{"offer.national_pooling": "on"}), "not a column of numbers"),
        (lambda d: d.assign(design_point=d["design_point"] + 1), "is not 0, 1, 2"),
        ("garbage", "unreadable design"),
        ("missing", "unreadable design"),
    ],
)
def test_resume_refuses_a_damaged_design_in_one_line(lhs, tmp_path, capsys, damage, message):
    path, _ = lhs
    out = partial_copy(lhs, tmp_path)
    if damage == "garbage":
        (out / "design.parquet").write_bytes(b"PAR1 not a parquet file")
    elif damage == "missing":
        (out / "design.parquet").unlink()
    else:
        rewrite_design(out, damage)
    before = snapshot(out)
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--resume"]) == 2
    err = one_line(capsys.readouterr().err)
    assert message in err and "design.parquet" in err, err
    assert snapshot(out) == before  # nothing written, nothing removed


def test_a_grid_design_with_a_level_index_that_is_no_level_is_refused(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    out = tmp_path / "grid"
    assert run_sweep(path, out=out, workers=1, progress=False).exit_status == 0
    rewrite_design(out, lambda d: d.assign(**{"offer.funding_boost_m": 0.5}))
    with pytest.raises(CbsimError, match=r"values outside \[0, 1\]"):
        check_runs_folder(out)


# ------------------------------------------------------------------ 2: check_runs_folder
def test_check_runs_folder_reads_a_sound_folder(lhs):
    _, full = lhs
    found = check_runs_folder(full)
    assert isinstance(found, RunsFolder)
    assert found.rows == 16 and found.done.all() and found.failed == 0
    assert found.parts == parts(full) and found.design.shape == (8, 2)
    assert found.manifest.runs.planned == 16
    np.testing.assert_array_equal(
        found.design, pq.read_table(full / "design.parquet").to_pandas().to_numpy()[:, 1:]
    )


def _duplicate(out: Path) -> None:
    first = parts(out)[0]
    shutil.copy(first, first.with_name(first.name.replace(".parquet", "-copy.parquet")))


def _twice_in_one(out: Path) -> None:
    first = parts(out)[0]
    one = pq.read_table(first)
    pq.write_table(pa.concat_tables([one, one]), first)


def _outside(out: Path) -> None:
    first = parts(out)[0]
    one = pq.read_table(first)
    ids = pc.add(one.column("run_id"), 1000)
    pq.write_table(one.set_column(0, "run_id", ids), first)


def _foreign_columns(out: Path) -> None:
    first = parts(out)[0]
    pq.write_table(pq.read_table(first).drop_columns(["target_met"]), first)


def _manifest_without(key: str):
    def change(out: Path) -> None:
        data = manifest(out)
        del data[key]
        (out / "manifest.json").write_text(json.dumps(data))

    return change


def _manifest_planned(out: Path) -> None:
    data = manifest(out)
    data["runs"]["planned"] = 99
    (out / "manifest.json").write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_duplicate, "holds runs already in another part file"),
        (_twice_in_one, "holds a run twice"),
        (_outside, "run ids outside this experiment's design"),
        (_foreign_columns, "its columns are not this sweep's"),
        (lambda out: (out / "runs" / "notes.txt").write_text("mine"), "not a part file"),
        (lambda out: (out / "runs" / "part-x.parquet").mkdir(), "not a regular file"),
        (lambda out: parts(out)[0].write_bytes(b"PAR1 half"), "unreadable part file"),
        (_manifest_without("columns"), "malformed manifest (no columns)"),
        (_manifest_without("factors"), "malformed manifest (no factors)"),
        (_manifest_without("fingerprint"), "malformed manifest (no fingerprint)"),
        (_manifest_planned, "malformed manifest (runs.planned is 99"),
    ],
)
def test_check_runs_folder_refuses_damage_in_one_line_and_so_does_resume(
    lhs, tmp_path, capsys, damage, message
):
    path, full = lhs
    out = tmp_path / "copy"
    shutil.copytree(full, out)
    damage(out)
    with pytest.raises(CbsimError) as caught:
        check_runs_folder(out)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    before = snapshot(out)
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--resume"]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert snapshot(out) == before


def test_check_runs_folder_ignores_hidden_leftovers_and_counts_failed_rows(lhs, tmp_path):
    _, full = lhs
    out = tmp_path / "copy"
    shutil.copytree(full, out)
    (out / "runs" / ".part-000000002-00000000.parquet.abcd1234.tmp").write_bytes(b"half")
    first = parts(out)[0]
    one = pq.read_table(first)
    errors = pa.array(["ValueError: boom", None], type=pa.string())
    pq.write_table(one.set_column(one.num_columns - 1, "error", errors), first)
    found = check_runs_folder(out)
    assert found.rows == 16 and found.failed == 1


# ------------------------------------------------------------------ 3: the scenario file
def test_the_manifest_records_the_resolved_scenario_file(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.toml"
    shipped.write_text(TINY)
    run_sweep(shipped, out=tmp_path / "a", workers=1, progress=False)
    expected = os.path.abspath(scenario_dir() / "baseline_2011.toml")
    assert manifest(tmp_path / "a")["scenario"]["file"] == expected

    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(scenario_dir() / "baseline_2011.toml", mine / "my_base.toml")
    beside = mine / "beside.toml"  # a relative scenario path, written as the user wrote it
    beside.write_text(TINY.replace('"baseline_2011"', '"my_base.toml"'))
    monkeypatch.chdir(mine)  # resolved beside the experiment (or, in older cbsim, here)
    run_sweep(beside, out=tmp_path / "b", workers=1, progress=False)
    m = manifest(tmp_path / "b")
    assert m["experiment"]["scenario"] == "my_base.toml"
    assert m["scenario"]["file"] == str(mine / "my_base.toml")


# ------------------------------------------------------------------ 7: --out
@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    base = tmp_path_factory.mktemp("reference")
    path = base / "tiny.toml"
    path.write_text(TINY)
    assert run_sweep(path, out=base / "out", workers=1, progress=False).exit_status == 0
    return path, table(base / "out")


def test_an_existing_empty_folder_that_cannot_be_renamed_over_is_filled_in_place(
    reference, tmp_path, monkeypatch
):
    """A Docker volume at /out: renaming a folder onto it fails (EXDEV or EBUSY)."""
    path, expected = reference
    volume = tmp_path / "volume"
    volume.mkdir()

    def rename(src, dst):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), None, str(dst))

    monkeypatch.setattr(sweep_folder.os, "rename", rename)
    assert main(["sweep", str(path), "--out", str(volume), "--workers", "1"]) == 0
    pd.testing.assert_frame_equal(table(volume), expected)
    assert manifest(volume)["status"] == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"]  # nothing staged beside
    assert not list(volume.glob(".*.tmp"))


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod does not stop root")
def test_an_existing_empty_folder_in_a_read_only_folder_is_filled_in_place(reference, tmp_path):
    path, expected = reference
    parent = tmp_path / "ro"
    volume = parent / "out"
    volume.mkdir(parents=True)
    parent.chmod(0o555)
    try:
        assert main(["sweep", str(path), "--out", str(volume), "--workers", "1"]) == 0
    finally:
        parent.chmod(0o755)
    pd.testing.assert_frame_equal(table(volume), expected)


def test_a_folder_with_the_users_files_is_refused_untouched(reference, tmp_path, capsys):
    path, _ = reference
    out = tmp_path / "mine"
    out.mkdir()
    (out / "experiment.toml").write_text("my own notes")
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    assert "already exists" in one_line(capsys.readouterr().err)
    assert sorted(p.name for p in out.iterdir()) == ["experiment.toml"]
    assert (out / "experiment.toml").read_text() == "my own notes"


@pytest.mark.slow
@pytest.mark.parametrize(("write", "resume"), [(1, False), (2, True), (3, False), (3, True)])
def test_a_start_in_place_killed_half_way_starts_again(reference, tmp_path, write, resume):
    """Writes 1-3 fill the empty folder (experiment, design, manifest last): killed there,
    the folder holds no manifest, and the next sweep (with --resume or not) starts again."""
    path, expected = reference
    out = tmp_path / "volume"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBSIM_FAULT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAULTS), env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "cbsim", "sweep", str(path), "--out", str(out)]
    killed = subprocess.run(
        [*args, "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "CBSIM_FAULT_KILL_AT_WRITE": str(write)},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (out / "manifest.json").exists() and (out / ".lock").exists()
    again = subprocess.run(
        [*args, "--workers", "1", *(["--resume"] if resume else [])],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(table(out), expected)
    assert not list(out.glob(".*.tmp")) and not list((out / "runs").glob(".*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"]


def test_a_name_the_file_system_would_refuse_fails_before_any_run(
    reference, tmp_path, capsys, monkeypatch
):
    path, _ = reference
    ran = []
    monkeypatch.setattr(sweep_run, "_probe", lambda *a: ran.append(a))  # the first run
    for out in (tmp_path / ("x" * 256), tmp_path / "a\nb", tmp_path / ("d/" * 2100)):
        assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
        assert "--out" in one_line(capsys.readouterr().err)
    assert ran == [] and list(tmp_path.iterdir()) == []


def test_a_long_name_that_fits_is_staged_under_a_shorter_name(reference, tmp_path):
    path, expected = reference
    out = tmp_path / ("n" * 250)  # its staging folder's name would be 264 bytes
    assert run_sweep(path, out=out, workers=1, progress=False).exit_status == 0
    pd.testing.assert_frame_equal(table(out), expected)


def test_the_default_folder_of_an_experiment_named_with_a_line_break_is_sanitised(
    tmp_path, monkeypatch, capsys
):
    path = tmp_path / "a\nb.toml"
    path.write_text(TINY)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(path), "--workers", "1"]) == 0
    assert (tmp_path / "sweeps" / "a_b" / "manifest.json").is_file()
    assert [p.name for p in (tmp_path / "sweeps").iterdir()] == ["a_b"]
    out = capsys.readouterr().out
    assert out.startswith("'a\\nb': 12 runs in ") and out.count("\n") == 2, out
