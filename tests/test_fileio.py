"""Atomic writes: whole files, usual permissions, no temporary files left behind."""

import json
import os

from cbsim.inputs.fileio import atomic_write_json, atomic_write_text


def test_atomic_write_replaces_whole_file_with_usual_permissions(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    old_umask = os.umask(0o022)
    try:
        atomic_write_text(target, "new text")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "new text"
    assert target.stat().st_mode & 0o777 == 0o644  # readable by colleagues, like open()
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_atomic_write_json_round_trips(tmp_path):
    target = tmp_path / "outcomes.json"
    atomic_write_json(target, {"share": 0.25, "month": "2012-04", "met": False})
    assert target.read_text().startswith("{\n")

    assert json.loads(target.read_text()) == {"share": 0.25, "month": "2012-04", "met": False}
