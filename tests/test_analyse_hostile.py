"""`cbsim analyse` against a hostile user (issue 11): designs and sweep folders that used to
end in a traceback give a report or one line (exit 2); a failed re-analysis leaves the
previous one; a part file counted twice is refused."""

from __future__ import annotations

import errno
import json
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_analysis import HEAD, fake_sweep, rewrite_part

from cbsim.analysis import staging
from cbsim.analysis.report import analyse
from cbsim.analysis.sensitivity import RBD_FAST_MIN_POINTS
from cbsim.cli import main

GRID_WITH = {
    "stance": '"departments.DWP.stance" = ["withhold", "align", "pool"]',
    "month": '"timeline.target_date" = ["2012-03", "2012-04"]',
}


def coin(seed: int = 1):
    rnd = random.Random(seed)
    return lambda values, raw, replicate: (rnd.random() < 0.5, rnd.random(), None)


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def lhs(samples: int) -> str:
    return (
        HEAD + f"replicates = 1\n[sampler]\nmethod = 'lhs'\nsamples = {samples}\n[factors]\n"
        '"council.virtual_value" = { min = 0.0, max = 1.0 }\n'
        '"council.capacity_min" = { min = 0.0, max = 1.0 }\n'
    )


# ------------------------------------------------------------------ designs
@pytest.mark.parametrize("kind", sorted(GRID_WITH))
def test_a_grid_with_a_stance_or_month_factor_and_another_is_reported(tmp_path, kind, capsys):
    text = (
        HEAD + "replicates = 2\n[sampler]\nmethod = 'grid'\n[factors]\n"
        f'{GRID_WITH[kind]}\n"offer.national_pooling" = [false, true]\n'
    )
    out = fake_sweep(tmp_path, text, coin())
    assert main(["analyse", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "![P(target met) heatmap](p_target_heatmap.png)" in report
    assert (out / "p_target_heatmap.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("method", ["lhs", "morris"])
def test_an_integer_factor_in_a_sampled_design_is_reported(tmp_path, method):
    sampler = "samples = 60" if method == "lhs" else "samples = 10\nlevels = 4"
    text = (
        HEAD + f"replicates = 1\n[sampler]\nmethod = '{method}'\n{sampler}\n[factors]\n"
        '"council.virtual_value" = { min = 0.0, max = 1.0 }\n'
        '"ministerial.stocktake_months" = { min = 1, max = 6 }\n'
    )
    out = fake_sweep(
        tmp_path,
        text,
        lambda v, raw, r: (
            v["council.virtual_value"] > 0.4 and v["ministerial.stocktake_months"] <= 3,
            v["council.virtual_value"],
            None,
        ),
    )
    report = analyse(out).read_text()
    assert "**Box 1**" in report
    boxes = pd.read_csv(out / "prim_boxes.csv")
    assert "ministerial.stocktake_months" in set(boxes["factor"])


@pytest.mark.parametrize("samples", [5, 10, 19, 20, 40, 41])
def test_rbd_fast_is_skipped_with_a_warning_when_it_cannot_give_indices(tmp_path, samples):
    out = fake_sweep(tmp_path, lhs(samples), coin())
    report = analyse(out).read_text()
    (warning,) = [line for line in report.splitlines() if line.startswith("**Warning:**")]
    assert warning.startswith("**Warning:** not computed: RBD-FAST ")
    if samples < RBD_FAST_MIN_POINTS:
        assert f"needs at least {RBD_FAST_MIN_POINTS} design points" in warning
        assert f"this sweep has {samples}" in warning
    assert not (out / "sensitivity.csv").exists()


def test_rbd_fast_runs_on_enough_points(tmp_path):
    out = fake_sweep(
        tmp_path, lhs(60), lambda v, raw, r: (v["council.virtual_value"] > 0.5, 0.1, None)
    )
    report = analyse(out).read_text()
    assert "**Warning:**" not in report and "RBD-FAST first-order indices" in report
    assert (out / "sensitivity.csv").is_file()


# ------------------------------------------------------------------ damaged folders
GRID = (
    HEAD + "replicates = 3\n[sampler]\nmethod = 'grid'\n[factors]\n"
    '"offer.national_pooling" = [false, true]\n'
)


@pytest.fixture
def sweep(tmp_path) -> Path:
    return fake_sweep(tmp_path, GRID, coin())


def part_of(sweep: Path) -> Path:
    (part,) = (sweep / "runs").glob("part-*.parquet")
    return part


@pytest.mark.parametrize(
    "damage",
    ["truncated", "empty", "garbage", "wrong_columns", "run_ids_outside"],
)
def test_a_damaged_part_file_is_one_line_naming_it(sweep, capsys, damage):
    part = part_of(sweep)
    data = part.read_bytes()
    runs = pd.read_parquet(part)
    if damage == "truncated":
        part.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        part.write_bytes(b"")
    elif damage == "garbage":
        part.write_bytes(bytes(range(256)) * 8)
    elif damage == "wrong_columns":
        pd.DataFrame({"x": [1, 2]}).to_parquet(part, index=False)
    else:
        rewrite_part(part, runs.assign(run_id=runs["run_id"] + 1000))
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert err.startswith(f"cbsim: error: {part}: "), err


def test_a_stray_file_in_runs_is_one_line_naming_it(sweep, capsys):
    (sweep / "runs" / ".part-000000000-dead.parquet.tmp").write_bytes(b"cut short")
    assert "runs: 6 of 6 finished" in analyse(sweep).read_text()  # hidden: not a run
    (sweep / "runs" / "notes.txt").write_text("my notes on this sweep\n")
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert f"{sweep / 'runs' / 'notes.txt'}: not a part file of this sweep" in err


def test_part_files_without_rows_are_no_runs(sweep, capsys):
    part = part_of(sweep)
    rewrite_part(part, pd.read_parquet(part).iloc[:0])
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert "no finished runs to analyse yet" in err


@pytest.mark.parametrize("manifest", ["{}", "[]", "", "nonsense", '{"format": 1}'])
def test_a_bad_manifest_is_one_line_naming_it(sweep, capsys, manifest):
    (sweep / "manifest.json").write_text(manifest)
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert f"{sweep / 'manifest.json'}: " in err


def test_a_damaged_design_file_is_one_line_naming_it(sweep, capsys):
    (sweep / "design.parquet").write_bytes(b"PAR1 not really")
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert f"{sweep / 'design.parquet'}: " in err


def test_an_overlong_folder_name_is_one_line(tmp_path, capsys):
    err = one_line_error(capsys, ["analyse", str(tmp_path / ("x" * 300))])
    assert "a folder or file name longer than 255 bytes" in err
    err = one_line_error(capsys, ["analyse", "a/" * 2100])
    assert "path longer than 4,096 bytes" in err


# ------------------------------------------------------------------ a part file twice
def test_a_part_file_copied_twice_is_refused_not_counted_twice(sweep, capsys):
    part = part_of(sweep)
    copy = part.with_name("part-000000000-copy.parquet")
    shutil.copy(part, copy)
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert f"{max(part, copy)}: holds runs already in another part file" in err
    assert not (sweep / "report.md").exists()


def test_a_run_twice_in_one_part_file_is_refused(sweep, capsys):
    part = part_of(sweep)
    runs = pd.read_parquet(part)
    rewrite_part(part, pd.concat([runs, runs.iloc[:1]]))
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert f"{part}: holds a run twice" in err


# ------------------------------------------------------------------ written as a whole
def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_reanalysis_that_fails_part_way_leaves_the_previous_one(sweep, monkeypatch):
    analyse(sweep)
    before = files_of(sweep)
    part = part_of(sweep)  # new outcomes: a new analysis would differ in every file
    runs = pd.read_parquet(part)
    rewrite_part(part, runs.assign(target_met=~runs["target_met"], share_at_target=0.9))
    writes = []
    real_write = staging.atomic_write_bytes

    def full_disk(path, data):
        writes.append(Path(path))
        if len(writes) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(staging, "atomic_write_bytes", full_disk)
    with pytest.raises(Exception, match="cannot write the report \\(No space left on device\\)"):
        analyse(sweep)
    assert files_of(sweep) == before  # the previous analysis, whole
    assert not list(sweep.glob(".analysis.*"))  # no staging folder left
    assert all(w.parent.parent == sweep for w in writes)  # staged inside the sweep folder


def test_the_report_is_moved_into_place_from_inside_the_sweep_folder(sweep, monkeypatch):
    """The files are renamed from a hidden folder inside the sweep folder, so a sweep
    folder that is a mount point (a Docker volume) can be analysed."""
    moves = []
    real_replace = staging.os.replace

    def replace(src, dst):
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", replace)
    analyse(sweep)
    into_place = [(src, dst) for src, dst in moves if dst.parent == sweep]
    assert {dst.name for _, dst in into_place} >= {"report.md", "design_points.csv"}
    assert all(src.parent.parent == sweep for src, _ in into_place)
    assert into_place[-1][1].name == "report.md"  # last: it shows the others
    assert not list(sweep.glob(".analysis.*"))


def test_a_stale_staging_folder_is_removed(sweep):
    left = sweep / ".analysis.deadbeef0000.tmp"
    left.mkdir()
    (left / "report.md").write_text("half")
    analyse(sweep)
    assert not left.exists()
    assert json.loads((sweep / "manifest.json").read_text())["format"] == 1


def test_any_other_error_while_analysing_is_one_line(sweep, capsys, monkeypatch):
    import cbsim.analysis.report as report

    def broken(*args, **kwargs):
        raise ValueError("could not convert string to float: 'pool'\nsecond line")

    monkeypatch.setattr(report, "design_points", broken)
    err = one_line_error(capsys, ["analyse", str(sweep)])
    assert err == (
        f"cbsim: error: analyse: {sweep}: ValueError: could not convert string to float: "
        "'pool' second line\n"
    )
    assert not list(sweep.glob(".analysis.*")) and not (sweep / "report.md").exists()
