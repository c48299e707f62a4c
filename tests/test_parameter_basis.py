"""Every parameter states its basis, declared once in `cbsim/inputs/data/parameters.toml`.

A basis is `source: sources.md — <original source>` (a fact in docs/sources.md), `calibrated`
(set by hand so the historical patterns hold, docs/ODD.md §8) or `assumption`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

import cbsim
from cbsim.cli import main
from cbsim.inputs.errors import InputError
from cbsim.inputs.parameters import (
    BASES,
    DATA_FILE,
    DEPARTMENTS_FILE,
    SOURCE_PREFIX,
    basis_problem,
    declarations,
    declared,
    parameters,
)
from cbsim.inputs.reference import departments

ROOT = Path(__file__).resolve().parents[1]
# paths, kinds, units, defaults (with their types), ranges, choices and main flags, in order,
# as they were when the declarations moved from Python into parameters.toml; a deliberate
# change to a declaration updates this hash (the failure message prints the new one)
DECLARATIONS_SHA256 = "8d3cb8464be80f76414a8337ba59812d62efa89fdba44c7969e81ca22ad24d80"


def shipped_table() -> dict:
    raw = resources.files("cbsim.inputs.data").joinpath("parameters.toml").read_bytes()
    return tomllib.loads(raw.decode("utf-8"))


def entry(table: dict, path: str) -> dict:
    return next(e for e in table["parameter"] if e["path"] == path)


# ------------------------------------------------------------------ the shipped declarations
def test_every_declared_parameter_states_a_valid_basis():
    records = parameters()
    assert len(records) == len(declared()) > 80
    for p in records:
        assert basis_problem(p.basis) is None, (p.path, p.basis)
        assert p.basis in BASES or p.basis.startswith(SOURCE_PREFIX), p.path
        assert not re.search(r"\[\s*(assumption|calibrated)", p.description, re.I), p.path
    tally = Counter(p.basis.split(":")[0] for p in records)
    assert set(tally) == {"source", "calibrated", "assumption"}


def test_every_source_basis_cites_sources_md_and_a_dated_original_source():
    sources_md = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    cited = [p for p in parameters() if p.basis.startswith("source")]
    assert len(cited) >= 8
    for p in cited:
        assert p.basis.startswith("source: sources.md — "), p.path
        citation = p.basis.removeprefix(SOURCE_PREFIX)
        assert re.search(r"\b(19|20)[0-9]{2}\b", citation), (p.path, "no year")
        publisher = re.split(r"[ ,:(]", citation)[0]
        assert publisher in sources_md, (p.path, publisher)


def test_every_calibrated_parameter_is_named_in_odd_calibration_section():
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    calibration = odd[odd.index("## 8. Calibration") :]
    calibrated = [p.path for p in parameters() if p.basis == "calibrated"]
    assert calibrated
    for path in calibrated:
        assert f"`{path}`" in calibration, path


def test_the_declarations_are_unchanged_by_the_move_into_data():
    rows = [
        [p.path, p.kind, p.unit, p.default, p.min, p.max, list(p.choices), p.main]
        + [type(p.default).__name__]
        for p in declared().values()
    ]
    text = json.dumps(rows, ensure_ascii=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert digest == DECLARATIONS_SHA256, f"declarations changed; new hash {digest}"


def test_declarations_of_the_shipped_table_are_the_declared_ones():
    assert declarations(shipped_table(), departments()) == declared()


def test_the_data_file_ships_with_the_package():
    data = resources.files("cbsim.inputs.data")
    assert data.joinpath("parameters.toml").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.toml" in pyproject["tool"]["setuptools"]["package-data"]["cbsim.inputs.data"]


def test_records_expose_the_basis():
    by_path = {p.path: p for p in cbsim.parameters()}
    assert by_path["council.speed"].basis == "calibrated"
    assert by_path["council.threshold_spread"].basis == "assumption"
    assert by_path["offer.payment_by_results_from"].basis.startswith(SOURCE_PREFIX + "DCLG")
    assert by_path["departments.DWP.poolable_m"].basis.startswith(SOURCE_PREFIX)
    assert by_path["departments.DfE.poolable_m"].basis == "assumption"
    # a scenario changes the values, not the basis of the built-in defaults
    assert {p.path: p.basis for p in parameters("dwp_engages")} == {
        p.path: p.basis for p in parameters()
    }


# ------------------------------------------------------------------ what a basis may be
@pytest.mark.parametrize(
    "basis", ["assumption", "calibrated", "source: sources.md — LGC, 2011: no cash devolved"]
)
def test_a_valid_basis(basis):
    assert basis_problem(basis) is None


@pytest.mark.parametrize(
    "basis",
    [
        "",
        "assumed",
        "Assumption",
        "[assumption]",
        "source:",
        "source: sources.md — ",
        "source: sources.md —  ...",
        "source: LGC, 2011",
        "sources.md — LGC, 2011",
        None,
        1,
    ],
)
def test_an_invalid_basis_is_named(basis):
    problem = basis_problem(basis)
    assert problem and "\n" not in problem


# ------------------------------------------------------------------ a damaged data file
def refused(table: dict, depts=None) -> str:
    with pytest.raises(InputError) as caught:
        declarations(table, departments() if depts is None else depts)
    text = str(caught.value)
    assert "\n" not in text
    return text


def test_a_parameter_without_a_basis_is_refused():
    table = copy.deepcopy(shipped_table())
    del entry(table, "council.speed")["basis"]
    text = refused(table)
    assert text.startswith(DATA_FILE) and "council.speed.basis: missing" in text


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"basis": "guess"}, "council.speed.basis", "expected"),
        ({"basis": "source: sources.md — "}, "council.speed.basis", "must cite"),
        ({"description": "how fast [calibrated]"}, "council.speed", "not the description"),
        ({"default": 11.0}, "council.speed.default", "outside"),
        ({"default": 1}, "council.speed.default", "expected a float"),
        ({"min": None}, "council.speed.min", "expected a float"),
        ({"kind": "number"}, "council.speed", "unknown kind"),
        ({"basis_": "x"}, "parameter[", "did you mean 'basis'"),
        ({"choices": ["a"]}, "council.speed.choices", "only for a choices"),
    ],
)
def test_a_bad_declaration_names_the_file_and_field(change, field, words):
    table = copy.deepcopy(shipped_table())
    target = entry(table, "council.speed")
    for key, value in change.items():
        if value is None:
            del target[key]
        else:
            target[key] = value
    text = refused(table)
    assert text.startswith(DATA_FILE) and field in text and words in text, text


def test_a_parameter_declared_twice_is_refused():
    table = copy.deepcopy(shipped_table())
    table["parameter"].append(copy.deepcopy(entry(table, "council.speed")))
    assert "council.speed: declared twice" in refused(table)


def test_a_department_field_without_a_basis_is_refused():
    depts = tuple(
        dataclasses.replace(d, basis={k: v for k, v in d.basis.items() if k != "stance"})
        if d.name == "DWP"
        else d
        for d in departments()
    )
    text = refused(shipped_table(), depts)
    assert text.startswith(DEPARTMENTS_FILE) and "DWP.basis.stance: missing" in text


def test_a_department_basis_for_no_field_is_refused():
    depts = tuple(
        dataclasses.replace(d, basis={**d.basis, "risk_aversoin": "assumption"})
        for d in departments()
    )
    text = refused(shipped_table(), depts)
    assert "basis.risk_aversoin: unknown field (did you mean 'risk_aversion'?)" in text


# ------------------------------------------------------------------ cbsim params
def table_lines(capsys, *args: str) -> list[str]:
    assert main(["params", *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_params_prints_the_basis_column(capsys):
    lines = table_lines(capsys)
    head = lines[0]
    assert head.split() == ["path", "unit", "default", "min", "max", "basis", "description"]
    assert len(lines) == len(parameters()) + 1
    start, end = head.index("basis"), head.index("description")
    assert end - start <= 42  # the basis is cut to 40 characters and the table stays narrow
    column = {line.split()[0]: line[start:end].strip() for line in lines[1:]}
    assert column["council.speed"] == "calibrated"
    assert column["timeline.end"] == "assumption"
    assert column["timeline.start"].startswith("sources.md: Public Finance")
    assert all(column[p.path] for p in parameters())


def test_params_of_a_scenario_marks_values_the_scenario_sets(capsys):
    lines = table_lines(capsys, "compelling_offer")
    start = lines[0].index("basis")
    row = next(line for line in lines if line.startswith("offer.national_pooling "))
    assert row[start:].startswith("set by the scenario")
    row = next(line for line in lines if line.startswith("council.speed "))
    assert row[start:].startswith("calibrated")
