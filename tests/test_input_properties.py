"""Property-based tests of input handling (issue 6): random edits of the shipped scenario files
and random `--set` values give a valid model or one clear CbsimError line naming the file and
field, never any other exception.

The edits: remove, misspell or add keys; values of the wrong type; out-of-range, huge (1e308,
10**30) and non-finite numbers; bad dates; tables where values belong and values where tables
belong; non-UTF-8 bytes, empty, truncated and random files. Most checks call `load_scenario`
and `parse_set_option` directly; a few run the real `cbsim` command for the exit-status contract.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import itertools
import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from cbsim import CommunityBudgetModel, load_scenario
from cbsim.inputs.errors import CbsimError, InputError
from cbsim.inputs.parameters import declared
from cbsim.inputs.reference import STANCES, authority_names, department_names
from cbsim.inputs.scenario import parse_set_option, scenario_dir

SHIPPED = {p.stem: p.read_bytes() for p in sorted(scenario_dir().glob("*.toml"))}
TABLES = {name: tomllib.loads(raw.decode("utf-8")) for name, raw in SHIPPED.items()}
PATHS = sorted(declared())
SECTIONS = sorted({p.rsplit(".", 1)[0] for p in PATHS} | {"departments"})
# checks that involve two parameters name the later one, whichever was edited
CONSISTENCY = {"timeline.end", "timeline.target_date"} | {p for p in PATHS if p.endswith(".stance")}


def fast(examples: int) -> settings:
    """Hypothesis settings: `examples` cases, no per-case deadline (CI machines vary)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


_counter = itertools.count()


# ------------------------------------------------------------------- a small TOML writer
def toml_string(text: str) -> str:
    """A TOML basic string (control characters and DEL escaped)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else toml_string(key)


def toml_value(value: Any) -> str:
    """One TOML value, inline (tables in arrays become inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def dumps(table: dict, prefix: tuple[str, ...] = ()) -> str:
    """A nested table as TOML: its plain values, then a [header] per sub-table."""
    lines = [
        f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)
    ]
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in table.items():
        if isinstance(value, dict):
            path = (*prefix, key)
            text += f"\n[{'.'.join(toml_key(k) for k in path)}]\n" + dumps(value, path)
    return text


def test_the_writer_round_trips_every_shipped_scenario():
    for table in TABLES.values():
        assert tomllib.loads(dumps(table)) == table


# ------------------------------------------------------------------------ strategies
BAD_DATES = [
    "2012-13",
    "April 2012",
    "2012-4",
    "2012-00",
    "0000-01",
    "99999-01",
    "2012-04-01",
    " 2012-04",
    "2012-04 ",
    "2012-04\n",
    "2012/04",
    "12-2012",
    "２０１２-０４",
    "",
    "1989-12",
    "2101-01",
    "-2012-04",
    "2012-1a",
]
HUGE = [
    10**30,
    -(10**30),
    2**63,
    2**64,
    10**300,
    1e308,
    -1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    1.7976931348623157e308,
]
NAMES = sorted(authority_names())


def near_miss(word: str) -> st.SearchStrategy[str]:
    """`word` with one character dropped, swapped, changed or added (a typo)."""
    n = max(len(word), 1)
    return st.one_of(
        st.integers(0, n - 1).map(lambda i: word[:i] + word[i + 1 :]),
        st.integers(0, max(n - 2, 0)).map(
            lambda i: word[:i] + word[i + 1 : i + 2] + word[i : i + 1] + word[i + 2 :]
        ),
        st.tuples(st.integers(0, n), st.characters()).map(
            lambda t: word[: t[0]] + t[1] + word[t[0] :]
        ),
        st.tuples(st.integers(0, n - 1), st.characters()).map(
            lambda t: word[: t[0]] + t[1] + word[t[0] + 1 :]
        ),
        st.just(word.upper()),
        st.just(word.capitalize()),
    )


months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1985, 2105), st.integers(0, 13))
scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-2, 60),
    st.text(max_size=20),
    st.sampled_from(BAD_DATES),
    months,
    st.dates(),
    st.times(),
    st.sampled_from(STANCES),
    st.sampled_from(STANCES).flatmap(near_miss),
    st.sampled_from(sorted(department_names())),
)
authority_lists = st.lists(
    st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES).flatmap(near_miss)), max_size=6
)
values = st.recursive(
    st.one_of(scalars, authority_lists),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
keys = st.one_of(
    st.sampled_from(PATHS).map(lambda p: p.rsplit(".", 1)[1]),
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
    st.text(max_size=12),
)


def valid_value(path: str) -> st.SearchStrategy[Any]:
    """A value inside the declared range of `path` (edits that should often be accepted)."""
    p = declared()[path]
    if p.kind == "float":
        return st.floats(p.min, p.max)
    if p.kind == "int":
        return st.integers(int(p.min), int(p.max))
    if p.kind == "bool":
        return st.booleans()
    if p.kind == "month":
        return st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(2009, 2016), st.integers(1, 12))
    if p.kind == "stance":
        return st.sampled_from(STANCES)
    if p.kind == "authorities":
        return st.lists(st.sampled_from(NAMES), unique=True, max_size=40)
    return st.lists(st.sampled_from(p.choices), unique=True)


def leaves(table: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths (as key tuples) of every key in a nested table, tables included."""
    found = []
    for key, value in table.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found += leaves(value, (*prefix, key))
    return found


def parent_of(table: dict, path: tuple[str, ...]) -> dict:
    for key in path[:-1]:
        table = table.setdefault(key, {})
    return table


@st.composite
def edited_tables(draw) -> tuple[dict, str, str]:
    """A shipped scenario with one random edit: (table, dotted path edited, kind of edit)."""
    table = copy.deepcopy(TABLES[draw(st.sampled_from(sorted(TABLES)))])
    kind = draw(
        st.sampled_from(
            [
                "remove",
                "misspell",
                "extra",
                "replace",
                "set",
                "set_valid",
                "table_for_value",
                "value_for_table",
            ]
        )
    )
    existing = leaves(table)
    if kind == "remove":
        path = draw(st.sampled_from(existing))
        del parent_of(table, path)[path[-1]]
    elif kind == "misspell":
        old = draw(st.sampled_from(existing))
        new = draw(near_miss(old[-1]))
        parent = parent_of(table, old)
        if new in parent:  # the typo is another existing key: nothing to rename
            return table, ".".join(old), kind
        parent[new] = parent.pop(old[-1])
        path = (*old[:-1], new)
    elif kind == "extra":
        where = draw(st.sampled_from([(), *[tuple(s.split(".")) for s in SECTIONS]]))
        path = (*where, draw(keys))
        parent = parent_of(table, path)
        if not isinstance(parent, dict):
            return table, ".".join(path), kind
        parent[path[-1]] = draw(values)
    elif kind == "replace":
        path = draw(st.sampled_from(existing))
        parent_of(table, path)[path[-1]] = draw(values)
    elif kind in ("set", "set_valid"):
        dotted = draw(st.sampled_from(PATHS))
        path = tuple(dotted.split("."))
        parent = parent_of(table, path)
        parent[path[-1]] = draw(values if kind == "set" else valid_value(dotted))
    elif kind == "table_for_value":
        path = draw(st.sampled_from(PATHS)).split(".")
        parent_of(table, path)[path[-1]] = draw(st.dictionaries(keys, values, max_size=2))
    else:  # value_for_table
        path = draw(st.sampled_from(SECTIONS)).split(".")
        parent_of(table, path)[path[-1]] = draw(scalars)
    return table, ".".join(path), kind


def corrupt(raw: bytes, data: st.DataObject) -> bytes:
    """A shipped file's bytes damaged at the byte level."""
    kind = data.draw(
        st.sampled_from(
            [
                "empty",
                "truncate",
                "insert",
                "non_utf8",
                "random",
                "flip",
                "long_number",
                "deep",
                "bom",
                "nul",
            ]
        )
    )
    at = data.draw(st.integers(0, len(raw)))
    if kind == "empty":
        return b""
    if kind == "truncate":
        return raw[:at]
    if kind == "insert":
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    if kind == "non_utf8":
        return (
            raw[:at]
            + data.draw(
                st.sampled_from(
                    [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"]
                )
            )
            + raw[at:]
        )
    if kind == "random":
        return data.draw(st.binary(max_size=200))
    if kind == "flip":
        at = min(at, len(raw) - 1)
        return raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at + 1 :]
    if kind == "long_number":
        return raw + b"\n[council]\nspeed = " + b"9" * data.draw(st.integers(20, 6000)) + b"\n"
    if kind == "deep":
        depth = data.draw(st.integers(10, 3000))
        return raw + b"\n[council]\nspeed = " + b"[" * depth + b"]" * depth + b"\n"
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw
    return raw[:at] + b"\x00" + raw[at:]


# ------------------------------------------------------------------------ the checks
def write(tmp_path: Path, raw: bytes) -> Path:
    path = tmp_path / f"edited_{next(_counter)}.toml"
    path.write_bytes(raw)
    return path


def load_or_error(path: Path) -> InputError | None:
    """None when `path` makes a model that runs; else its error, checked to be one line
    naming the file. Any other exception fails the test."""
    try:
        spec = load_scenario(path)
    except CbsimError as exc:
        message = str(exc)
        assert isinstance(exc, InputError), message
        assert len(message.splitlines()) == 1 and "\r" not in message, message
        assert message.startswith(f"{path}: "), message
        assert len(message) < 400, message
        return exc
    model = CommunityBudgetModel(scenario=spec, rng=0)
    model.step()
    model.step()
    assert 0 <= model.count_developing <= len(model.council_list)
    return None


def shown(path: str) -> str:
    """A path as error messages show it (quoted when it holds control characters)."""
    return path if path.isprintable() else repr(path)


def names_field(exc: InputError, edited: str) -> bool:
    """The error names the edited path (or its section, or a key inside it), or a field of a
    check between two parameters."""
    field = exc.field or ""
    if not field or field not in str(exc):
        return False
    raw = ast.literal_eval(field) if field[:1] in "'\"" else field  # undo shown()
    parts = edited.split(".")
    prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return raw in prefixes or raw.startswith(edited + ".") or raw in CONSISTENCY


@fast(600)
@given(edit=edited_tables())
@example(edit=({"timeline": {"start": 10**30}}, "timeline.start", "set"))
@example(edit=({"council": {"speed": 10**30}}, "council.speed", "set"))
@example(edit=({"council": {"speed": 1e308}}, "council.speed", "set"))
@example(edit=({"network": {"region_links": float("inf")}}, "network.region_links", "set"))
@example(edit=({"timeline": {"end": "99999-01"}}, "timeline.end", "set"))
@example(
    edit=(
        {"councils": {"developing_at_start": ["Kent", 1.5]}},
        "councils.developing_at_start",
        "set",
    )
)
@example(edit=({"departments": {"DPW": {}}}, "departments.DPW", "extra"))
@example(edit=({"timeline": {"start": {"year": 2011}}}, "timeline.start", "table_for_value"))
@example(edit=({"offer": 1}, "offer", "value_for_table"))
def test_edited_scenario_is_a_valid_model_or_one_error_naming_file_and_field(tmp_path, edit):
    table, edited, kind = edit
    path = write(tmp_path, dumps(table).encode("utf-8"))
    exc = load_or_error(path)
    event(f"{kind}: {'valid model' if exc is None else 'error'}")
    if exc is not None:
        assert names_field(exc, edited), (kind, edited, str(exc))


@fast(300)
@given(data=st.data(), name=st.sampled_from(sorted(SHIPPED)))
def test_damaged_file_is_a_valid_model_or_one_error_naming_the_file(tmp_path, data, name):
    exc = load_or_error(write(tmp_path, corrupt(SHIPPED[name], data)))
    event("valid model" if exc is None else "error")


# ------------------------------------------------------------------------- --set values
set_paths = st.one_of(
    st.sampled_from(PATHS),
    st.sampled_from(PATHS).flatmap(near_miss),
    st.sampled_from(SECTIONS),
    st.text(max_size=20),
)
set_values = st.one_of(
    values.map(toml_value),
    st.text(max_size=20),
    st.sampled_from(BAD_DATES),
    st.sampled_from(
        [
            "",
            "9" * 5000,
            "1e400",
            "-1e400",
            "nan",
            "inf",
            "[" * 3000,
            "1\nx = 2",
            "true # comment",
            "[]",
            "'pool'",
            "pool",
            "Kent",
            '["Kent", "Kent"]',
        ]
    ),
)


def check_set(option: str) -> None:
    """`--set OPTION` on the baseline: a model that runs, or one CbsimError line from --set."""
    base = load_scenario("baseline_2011")
    try:
        path, value = parse_set_option(option)
        spec = base.with_overrides({path: value}, source="--set")
    except CbsimError as exc:
        message = str(exc)
        assert isinstance(exc, InputError), message
        assert len(message.splitlines()) == 1 and "\r" not in message, message
        assert message.startswith("--set: ") and len(message) < 400, message
        given_path = option.partition("=")[0].strip()
        if given_path in declared() and "=" in option and option.partition("=")[2].strip():
            assert exc.field in (given_path, *CONSISTENCY), message
        event("error")
        return
    event("valid model")
    model = CommunityBudgetModel(scenario=spec, rng=0)
    model.step()
    model.step()


@fast(600)
@given(
    option=st.one_of(
        st.builds(lambda path, value: f"{path}={value}", set_paths, set_values),
        st.sampled_from(PATHS).flatmap(  # values in range: these should mostly be accepted
            lambda path: valid_value(path).map(lambda v: f"{path}={toml_value(v)}")
        ),
    )
)
@example(option="council.speed=")
@example(option=f"network.region_links={10**30}")
@example(option="timeline.target_date=2012-4")
@example(option="departments.DCLG.stance=withhold")
@example(option="timeline.start=2011-05")
def test_set_value_is_valid_or_one_error_naming_the_field(option):
    check_set(option)


@fast(100)
@given(option=st.text(max_size=40))
def test_any_set_text_is_valid_or_one_error(option):
    check_set(option)


# ------------------------------------------------------------ the real command, a few times
@fast(6)
@given(edit=edited_tables())
def test_cli_on_edited_files_exits_0_or_2_with_one_line(tmp_path, edit):
    table, _, _ = edit
    scenario = write(tmp_path, dumps(table).encode("utf-8"))
    out = tmp_path / f"out_{next(_counter)}"
    result = subprocess.run(
        [sys.executable, "-m", "cbsim", "run", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert json.loads((out / "outcomes.json").read_text())["final_month"]
    else:
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and str(scenario) in result.stderr
        assert not out.exists()


@pytest.mark.parametrize(
    "option",
    [
        "council.speed=1e308",
        "network.region_links=" + "9" * 30,
        "timeline.end=99999-01",
        "council.speed=\xff",
        "departments.DWP={stance='pool'}",
    ],
)
def test_cli_set_exits_2_with_one_line(tmp_path, option):
    result = subprocess.run(
        [sys.executable, "-m", "cbsim", "run", "baseline_2011", "--set", option],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "--set" in result.stderr
    assert list(tmp_path.iterdir()) == []
