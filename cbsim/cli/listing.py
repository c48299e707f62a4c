"""`cbsim scenarios` and `cbsim params`: what is shipped and what can be set."""

from __future__ import annotations

import argparse

from cbsim.cli.common import command


def add(sub) -> None:
    """Register `cbsim scenarios` and `cbsim params`."""
    scenarios = command(sub, "scenarios", "list the shipped scenarios", ["cbsim scenarios"])
    scenarios.set_defaults(handler=handle_scenarios)
    params = command(
        sub,
        "params",
        "list every tunable parameter (unit, default, range, basis, meaning)",
        ["cbsim params", "cbsim params troubled_families_2012   # the scenario's values"],
    )
    params.add_argument("scenario", metavar="SCENARIO", nargs="?", default=None)
    params.set_defaults(handler=handle_params)


def handle_scenarios(args: argparse.Namespace) -> int:
    """Each shipped scenario's name and description."""
    from cbsim.inputs.scenario import available_scenarios

    for spec in available_scenarios():
        print(f"{spec.name}\n    {spec.description}")
    return 0


def handle_params(args: argparse.Namespace) -> int:
    """The parameter table: one row a parameter, then the basis of its built-in default (cut to
    40 characters, `source: sources.md — X` shown as `sources.md: X`; the full text is
    `cbsim.parameters()[i].basis`), or `set by the scenario` where the scenario changes it."""
    from cbsim.inputs.parameters import SOURCE_PREFIX, Parameter, defaults, parameters

    built_in = defaults()

    def basis(p: Parameter) -> str:
        if p.default != built_in[p.path]:
            return "set by the scenario"
        return _cut(p.basis.replace(SOURCE_PREFIX, "sources.md: "), 40)

    rows = [
        (p.path, p.unit, _show(p.default), _show(p.min), _show(p.max), basis(p), p.description)
        for p in parameters(args.scenario)
    ]
    head = ("path", "unit", "default", "min", "max", "basis", "description")
    padded = len(head) - 1
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(padded)]
    for row in [head, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(padded)]
        print("  ".join([*cells, row[padded]]))
    return 0


def _cut(text: str, width: int) -> str:
    """`text`, cut to `width` characters with an ellipsis when longer."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return f"[{len(value)} items]" if len(value) > 3 else "[" + ", ".join(value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)
