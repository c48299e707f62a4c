"""One reader for every input file (cbsim/inputs/toml_file.py): a scenario file
(`cbsim run FILE`) and an experiment file (`cbsim sweep FILE --out DIR`) get the same limits and
the same one-line errors, exit status 2, and nothing written.

Each case runs the real command in a subprocess for at least one kind of file; the rest call
`cbsim.cli.main` in this process (the same code, without the interpreter start).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cbsim import cli
from cbsim.inputs.errors import InputError
from cbsim.inputs.experiment import load_experiment
from cbsim.inputs.scenario import load_scenario
from cbsim.inputs.toml_file import MAX_DEPTH, MAX_DIGITS, MAX_FILE_BYTES, MAX_INT, read_toml

BOM = b"\xef\xbb\xbf"
EXPERIMENT = """scenario = "baseline_2011"
replicates = 1
seed = 7

[sampler]
method = "grid"

[factors]
"council.speed" = VALUE
"""
# a file of each kind with one value in it, and the field that value is
FILES = {
    "scenario": ("[council]\nspeed = VALUE\n", "council.speed"),
    "experiment": (EXPERIMENT, "factors.council.speed"),
}
KINDS = sorted(FILES)


def file_text(kind: str, value: str) -> str:
    return FILES[kind][0].replace("VALUE", value)


def command(kind: str, path: Path, out: Path) -> list[str]:
    """`cbsim run FILE --out DIR` or `cbsim sweep FILE --out DIR`."""
    if kind == "scenario":
        return ["run", str(path), "--out", str(out)]
    return ["sweep", str(path), "--out", str(out), "--workers", "1"]


@pytest.fixture
def cbsim(monkeypatch, capfd):
    """`cbsim(via, args, cwd)`: the CLI in a subprocess or in this process."""

    def call(via: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
        if via == "subprocess":
            return subprocess.run(
                [sys.executable, "-m", "cbsim", *args],
                capture_output=True,
                text=True,
                cwd=cwd,
                timeout=120,
            )
        monkeypatch.chdir(cwd)
        capfd.readouterr()
        status = cli.main(args)
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(["cbsim", *args], status, out, err)

    return call


def assert_one_line_error(result: subprocess.CompletedProcess, *names: str) -> str:
    """Exit status 2, one line on stderr naming each of `names`, no traceback, no output."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert lines[0].startswith("cbsim: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert result.stdout == ""
    return lines[0]


def tree(folder: Path) -> set[str]:
    """Every path under `folder` (relative), to show that nothing was written."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def refused(cbsim, tmp_path: Path, kind: str, path: Path, *names: str, via="in-process") -> str:
    """Run the command on `path`: one line naming the file and `names`, nothing written."""
    before = tree(tmp_path)
    result = cbsim(via, command(kind, path, tmp_path / "out"), tmp_path)
    line = assert_one_line_error(result, str(path), *names)
    assert tree(tmp_path) == before  # no --out folder, no default out/ or sweeps/
    return line


# ------------------------------------------------------------------------ numbers and depth
@pytest.mark.parametrize(
    ("kind", "via"), [("scenario", "subprocess"), ("experiment", "subprocess")]
)
def test_a_5000_digit_integer_is_one_line_naming_the_field(tmp_path, cbsim, kind, via):
    path = tmp_path / f"{kind}.toml"
    path.write_text(file_text(kind, "1" + "0" * 5000))
    line = refused(cbsim, tmp_path, kind, path, FILES[kind][1], via=via)
    assert "5001-digit number is too long" in line and f"at most {MAX_DIGITS} digits" in line


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (str(MAX_INT + 1), "out of range for a TOML integer"),
        (str(-MAX_INT - 2), "out of range for a TOML integer"),
        ("0x" + "f" * 3000, "out of range for a TOML integer"),
        ("inf", "not a finite number"),
        ("[0.5, nan]", "not a finite number"),
    ],
)
def test_an_integer_beyond_64_bits_or_a_non_finite_float_names_the_field(
    tmp_path, cbsim, kind, value, detail
):
    path = tmp_path / f"{kind}.toml"
    path.write_text(file_text(kind, value))
    refused(cbsim, tmp_path, kind, path, FILES[kind][1], detail)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_arrays_nested_deeper_than_the_limit_are_one_line_naming_the_field(
    tmp_path, cbsim, kind, depth
):
    path = tmp_path / f"{kind}.toml"
    path.write_text(file_text(kind, "[" * depth + "]" * depth))
    line = refused(cbsim, tmp_path, kind, path, FILES[kind][1])
    assert f"nested more than {MAX_DEPTH} deep" in line


@pytest.mark.parametrize("kind", KINDS)
def test_tables_nested_by_dotted_keys_are_limited_too(tmp_path, cbsim, kind):
    """Dotted keys nest without brackets, so the parsed table is checked as well."""
    path = tmp_path / f"{kind}.toml"
    path.write_text(file_text(kind, "1") + "a" + ".a" * 5000 + " = 1\n")
    line = refused(cbsim, tmp_path, kind, path, "a.a.a.a")
    assert f"nested more than {MAX_DEPTH} deep" in line and len(line) < 400


# ------------------------------------------------------------------------ text
@pytest.mark.parametrize("kind", KINDS)
def test_a_byte_order_mark_is_accepted_and_dropped_in_every_kind_of_file(tmp_path, kind):
    text = file_text(kind, "0.5" if kind == "scenario" else "[0.5, 0.7]")
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_bytes(text.encode())
    marked.write_bytes(BOM + text.encode())
    if kind == "scenario":
        assert load_scenario(marked).values == load_scenario(plain).values
    else:
        with_bom, without = load_experiment(marked), load_experiment(plain)
        assert with_bom.text == without.text == text  # the copy kept in the sweep has no BOM
        assert with_bom.design() == without.design()
    assert read_toml(marked, kind).table == read_toml(plain, kind).table


@pytest.mark.parametrize("kind", KINDS)
def test_a_byte_order_mark_before_a_bad_value_still_names_the_field(tmp_path, cbsim, kind):
    path = tmp_path / f"{kind}.toml"
    path.write_bytes(BOM + file_text(kind, "-1.0" if kind == "scenario" else "[-1.0]").encode())
    line = refused(cbsim, tmp_path, kind, path, FILES[kind][1], "out of range")
    assert "malformed" not in line


# ------------------------------------------------------------------------ the file itself
@pytest.mark.parametrize("kind", KINDS)
def test_a_fifo_is_refused_as_not_a_regular_file_without_blocking(tmp_path, cbsim, kind):
    path = tmp_path / f"{kind}.toml"
    os.mkfifo(path)  # nothing ever writes to it: opening it to read would block for ever
    started = time.monotonic()
    line = refused(cbsim, tmp_path, kind, path, "not a regular file", "FIFO", via="subprocess")
    assert time.monotonic() - started < 60, line


@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_is_refused_as_not_a_regular_file(tmp_path, cbsim, kind):
    path = tmp_path / f"{kind}.toml"
    path.mkdir()
    refused(cbsim, tmp_path, kind, path, "is a folder, not a regular file")


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, cbsim, kind):
    path = tmp_path / f"{kind}.toml"
    text = file_text(kind, "0.5")
    path.write_text(text + "#" * (MAX_FILE_BYTES + 1 - len(text)) + "\n")
    line = refused(cbsim, tmp_path, kind, path, "too large", f"at most {MAX_FILE_BYTES:,}")
    assert f"{MAX_FILE_BYTES + 2:,} bytes" in line


@pytest.mark.parametrize("kind", KINDS)
def test_a_200_mb_file_is_not_read(tmp_path, cbsim, kind, monkeypatch):
    path = tmp_path / f"{kind}.toml"
    with path.open("wb") as handle:
        handle.truncate(200_000_000)  # sparse: takes no room on disk

    def no_reading(self):
        raise AssertionError(f"{self} was read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    refused(cbsim, tmp_path, kind, path, "too large")


@pytest.mark.parametrize("kind", KINDS)
def test_a_symlink_loop_is_reported_as_one(tmp_path, cbsim, kind):
    path = tmp_path / f"{kind}.toml"
    other = tmp_path / "other.toml"
    path.symlink_to(other)
    other.symlink_to(path)
    line = refused(cbsim, tmp_path, kind, path, "symbolic link loop")
    assert "no such" not in line


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_file_and_a_broken_link_are_named(tmp_path, cbsim, kind):
    missing = tmp_path / "missing.toml"
    refused(cbsim, tmp_path, kind, missing, f"no such {kind} file")
    broken = tmp_path / "broken.toml"
    broken.symlink_to(missing)
    refused(cbsim, tmp_path, kind, broken, "broken symbolic link")


# ------------------------------------------------------------------------ empty files
@pytest.mark.parametrize(
    ("kind", "raw", "detail", "via"),
    [
        ("scenario", b"", "sets nothing", "subprocess"),
        ("scenario", BOM, "sets nothing", "in-process"),
        ("scenario", b"  \n# only a comment\n\n", "sets nothing", "in-process"),
        ("scenario", b"[timeline]\n[council]\n", "sets nothing", "in-process"),
        ("experiment", b"", "missing (required)", "in-process"),
    ],
)
def test_an_empty_file_is_refused(tmp_path, cbsim, kind, raw, detail, via):
    path = tmp_path / f"{kind}.toml"
    path.write_bytes(raw)
    refused(cbsim, tmp_path, kind, path, detail, via=via)


def test_a_scenario_with_only_a_name_still_runs_as_the_defaults(tmp_path):
    """Not empty: naming a scenario is deliberate (the workshop view's own files do it)."""
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n')
    assert load_scenario(path).name == "mine"


# ------------------------------------------------------------------------ the reader itself
def test_the_depth_limit_is_exact(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n")
    assert read_toml(path, "test").table["x"]
    path.write_text("x = " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n")
    with pytest.raises(InputError, match=f"{path}: x: nested more than {MAX_DEPTH} deep"):
        read_toml(path, "test")


def test_brackets_digits_and_quotes_inside_strings_and_comments_do_not_count(tmp_path):
    path = tmp_path / "strings.toml"
    deep, digits = "[" * 100, "1" + "0" * 500
    path.write_text(
        f'a = "{deep}{digits}"\nb = \'{deep}\'\nc = """\n{deep}\\"""{digits}"""\n'
        f"d = '''{deep}'''\n# {deep} {digits}\ne = 1.{digits[::-1]}\n"
    )
    table = read_toml(path, "test").table
    assert table["a"] == deep + digits and table["c"] == f'{deep}"""{digits}'
    assert table["e"] == 1.0  # digits after the point do not count


def test_the_largest_integers_and_nonfinite_floats_where_allowed(tmp_path):
    path = tmp_path / "numbers.toml"
    path.write_text(f"high = {MAX_INT}\nlow = {-MAX_INT - 1}\nx = inf\n")
    with pytest.raises(InputError, match=f"{path}: x: inf is out of range"):
        read_toml(path, "test")
    table = read_toml(path, "test", allow_nonfinite=True).table
    assert table["high"] == 2**63 - 1 and table["low"] == -(2**63) and table["x"] == float("inf")


def test_a_syntax_error_names_a_quoted_key_under_its_table(tmp_path):
    path = tmp_path / "syntax.toml"
    path.write_text('[factors]\n"council.speed" = [0.5,, 0.7]\n')
    with pytest.raises(InputError, match=f"{path}: factors.council.speed: malformed TOML"):
        read_toml(path, "test")
