"""The workshop view's panels: figures and tables drawn from a running model.

Plain functions of a `CommunityBudgetModel` returning a matplotlib Figure or an HTML string,
so they can be tested and timed without a browser; `cbsim.workshop.app` puts them on the page.
"""

from __future__ import annotations

import math
from functools import cache
from html import escape
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cbsim.inputs.parameters import Parameter, parameters
from cbsim.inputs.reference import authorities
from cbsim.model.agents import COUNCIL_STATES
from cbsim.model.model import CommunityBudgetModel
from cbsim.model.network import REGION_CENTRES, map_layout
from cbsim.outputs.figures import STATE_COLOURS

STANCE_COLOURS = {"withhold": "#8e969d", "align": "#d68910", "pool": "#1e8449"}
LOG_LINES = 14


def main_incentives(scenario: Any = None) -> list[Parameter]:
    """The main incentives (declared with `main=True`), defaults from `scenario` if given."""
    return [p for p in parameters(scenario) if p.main]


def incentive_label(p: Parameter) -> str:
    """A short label for a parameter, from its dotted path: `offer.funding_boost_m` ->
    `funding boost`; a department's parameter keeps the department: `DWP stance`."""
    parts = p.path.split(".")
    name = parts[-1].removesuffix("_m").replace("_", " ")
    if parts[0] == "departments":
        name = f"{parts[1]} {name}"
    return name


def format_value(p: Parameter, value: Any) -> str:
    """A parameter value as the room should read it, with its unit."""
    if p.kind == "bool":
        return "on" if value else "off"
    if p.kind in ("float", "int"):
        text = f"{value:g}"
        if p.unit.startswith("£m"):
            return f"£{text}m{p.unit.removeprefix('£m')}"
        return f"{text} {p.unit}"
    return str(value)


def council_map_figure(model: CommunityBudgetModel) -> Figure:
    """The 152 councils at map-like positions by region, on their peer network, coloured by
    state (none, exploring, developing); pilots ringed; champion links shown when on."""
    positions = map_layout(authorities())
    fig = Figure(figsize=(6.2, 4.0), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.93))
    champions = model.lever_on("champions_network")
    peer, champion = [], []
    for i, j, kind in model.network.graph.edges(data="kind"):
        segment = (positions[i], positions[j])
        if kind == "champion":
            champion.append(segment)
        else:
            peer.append(segment)
    # each set of links as one polyline broken by NaNs: one SVG path, not a path per link
    ax.plot(*_polyline(peer), color="#b0b7bd", lw=0.4, alpha=0.6, zorder=1)
    if champions and champion:
        ax.plot(*_polyline(champion), color="#1f6f8b", lw=0.5, alpha=0.35, ls="--", zorder=1)
    councils = model.council_list
    xy = [positions[c.index] for c in councils]
    ax.scatter(
        [p[0] for p in xy],
        [p[1] for p in xy],
        s=46,
        zorder=2,
        c=[STATE_COLOURS[c.state] for c in councils],
        edgecolors=["#222222" if c.pilot_area else "white" for c in councils],
        linewidths=[1.1 if c.pilot_area else 0.5 for c in councils],
    )
    for region, (x, top, bottom) in _region_label_anchors().items():
        below = REGION_CENTRES[region][1] < 0.2  # southern regions: label under the cluster
        ax.text(
            x,
            bottom - 0.012 if below else top + 0.012,
            region.replace(" and the ", " & "),
            ha="center",
            va="top" if below else "bottom",
            fontsize=8,
            color="#444444",
            zorder=3,
        )
    counts = {state: 0 for state in COUNCIL_STATES}
    for c in councils:
        counts[c.state] += 1
    handles = [
        Line2D([], [], ls="", marker="o", ms=7, color=STATE_COLOURS[s], label=f"{s} ({counts[s]})")
        for s in COUNCIL_STATES
    ]
    handles.append(
        Line2D([], [], ls="", marker="o", ms=7, mfc="white", mec="#222222", label="pilot council")
    )
    if champions:
        handles.append(Line2D([], [], color="#1f6f8b", lw=1, ls="--", label="champion link"))
    ax.legend(handles=handles, loc="upper left", fontsize=9, frameon=False)
    ax.set_xlim(-0.32, 1.0)
    ax.set_ylim(-0.05, 1.03)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Councils on their peer network, {model.month}", fontsize=11)
    return fig


def _polyline(segments: list) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for (x0, y0), (x1, y1) in segments:
        xs += (x0, x1, math.nan)
        ys += (y0, y1, math.nan)
    return xs, ys


@cache
def _region_label_anchors() -> dict[str, tuple[float, float, float]]:
    """Per region: x of its centre, and the top and bottom of its cluster of councils."""
    positions = map_layout(authorities())
    anchors = {}
    for region, (x, _y) in REGION_CENTRES.items():
        ys = [positions[i][1] for i, a in enumerate(authorities()) if a.region == region]
        if ys:
            anchors[region] = (x, max(ys), min(ys))
    return anchors


def headline_html(model: CommunityBudgetModel) -> str:
    """One line the room can read from the back: month, councils developing, the target."""
    n = len(model.council_list)
    months_done = model.month_index - model.start_index
    months_total = model.end_index - model.start_index
    target = model.target_count
    target_date = model.params["timeline.target_date"]
    if model.month_index >= model.target_index:
        at_target = model.datacollector.model_vars["developing"][
            model.target_index - model.start_index
        ]
        verdict = "target met" if at_target >= target else f"target missed ({at_target})"
    elif model.count_developing >= target:
        verdict = "target reached early"
    else:
        verdict = f"{target - model.count_developing} more needed"
    return (
        '<div class="cbsim-headline">'
        f'<span class="cbsim-month">{model.month}</span>'
        f'<span class="cbsim-step">month {months_done + 1} of {months_total + 1}</span>'
        f'<span><b class="cbsim-developing">{model.count_developing}</b> of {n} councils '
        f'developing a community budget (<span class="cbsim-share">'
        f"{model.share_developing:.0%}</span>), {model.count_exploring} exploring</span>"
        f"<span>target: {target} by {target_date} &mdash; "
        f'<b class="cbsim-verdict">{verdict}</b></span>'
        f'<span class="cbsim-scenario">scenario: {escape(model.scenario_name)}</span>'
        "</div>"
    )


def departments_html(model: CommunityBudgetModel) -> str:
    """Each department's stance, £m pooled and aligned so far, and ministerial pressure."""
    rows = []
    for d in model.departments:
        colour = STANCE_COLOURS.get(d.stance, "#888888")
        rows.append(
            f"<tr><td>{escape(d.name)}</td>"
            f'<td><span class="cbsim-stance" style="background:{colour}">'
            f"{escape(d.stance)}</span></td>"
            f'<td class="num">{d.pooled_m:,.1f}</td><td class="num">{d.aligned_m:,.1f}</td>'
            f'<td class="num">{d.poolable_m:,.0f}</td><td class="num">{d.pressure:.2f}</td>'
            "</tr>"
        )
    pooled = sum(d.pooled_m for d in model.departments)
    aligned = sum(d.aligned_m for d in model.departments)
    return (
        '<table class="cbsim-table cbsim-departments">'
        "<thead><tr><th>department</th><th>stance</th><th>pooled £m</th><th>aligned £m</th>"
        "<th>poolable £m/yr</th><th>pressure</th></tr></thead><tbody>"
        + "".join(rows)
        + f'<tr class="total"><td>all</td><td></td><td class="num">{pooled:,.1f}</td>'
        f'<td class="num">{aligned:,.1f}</td><td></td><td></td></tr></tbody></table>'
        '<p class="cbsim-note">pooled / aligned: £m devolved in cash / aligned (virtual '
        "pooling) since the start; pressure: from the ministers' group.</p>"
    )


def action_log_html(model: CommunityBudgetModel, lines: int = LOG_LINES) -> str:
    """The latest actions of the ministerial groups and departments, newest first."""
    recent = model.action_log[-lines:][::-1]
    if not recent:
        return (
            '<p class="cbsim-note cbsim-log">No actions yet: the first stocktake is due '
            f"{escape(str(model.params['ministerial.first_stocktake']))}.</p>"
        )
    items = []
    for entry in recent:
        group = "group" in entry["actor"]
        items.append(
            f'<li class="{"group" if group else "dept"}"><span class="when">'
            f"{escape(entry['month'])}</span> <b>{escape(entry['actor'])}</b>: "
            f"{escape(entry['action'])}</li>"
        )
    earlier = len(model.action_log) - len(recent)
    more = f'<p class="cbsim-note">and {earlier} earlier</p>' if earlier > 0 else ""
    return f'<ul class="cbsim-log">{"".join(items)}</ul>{more}'


def incentives_html(model: CommunityBudgetModel) -> str:
    """The main incentives as this run uses them, with unit, range and meaning."""
    rows = []
    for p in main_incentives():
        value = format_value(p, model.params[p.path])
        if p.numeric:
            allowed = f"{p.min:g} to {p.max:g}"
        elif p.kind == "bool":
            allowed = "on / off"
        else:
            allowed = " / ".join(p.choices)
        rows.append(
            f'<tr data-path="{escape(p.path)}"><td>{escape(incentive_label(p))}</td>'
            f'<td class="value">{escape(value)}</td>'
            f'<td class="help">{escape(p.description)} <i>({escape(allowed)})</i></td></tr>'
        )
    return (
        '<table class="cbsim-table cbsim-incentives"><thead><tr><th>incentive</th>'
        "<th>this run</th><th>what it means (range)</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


STYLE = """
.cbsim-headline { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 22px;
  font-size: 17px; padding: 6px 4px; }
.cbsim-headline .cbsim-month { font-size: 30px; font-weight: 700; color: #1f6f8b; }
.cbsim-headline .cbsim-step, .cbsim-headline .cbsim-scenario { color: #666; font-size: 14px; }
.cbsim-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.cbsim-table th { text-align: left; border-bottom: 1px solid #999; padding: 2px 6px; }
.cbsim-table td { border-bottom: 1px solid #e3e3e3; padding: 2px 6px; vertical-align: top; }
.cbsim-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cbsim-table tr.total td { font-weight: 700; border-bottom: none; }
.cbsim-incentives td.help { color: #555; font-size: 12px; }
.cbsim-incentives td.value { font-weight: 700; white-space: nowrap; }
.cbsim-stance { color: white; border-radius: 8px; padding: 0 8px; font-size: 12px; }
.cbsim-log { list-style: none; padding-left: 0; font-size: 13px; margin: 0; }
.cbsim-log li { padding: 1px 0; }
.cbsim-log li.dept { color: #555; }
.cbsim-log .when { font-variant-numeric: tabular-nums; color: #1f6f8b; font-weight: 600; }
.cbsim-note { color: #666; font-size: 12px; margin: 4px 0 0 0; }
.cbsim-figure { display: block; width: 100%; height: auto; max-height: 385px;
  object-fit: contain; margin: 0 auto; }
.cbsim-panel-title { font-weight: 700; font-size: 15px; margin-bottom: 4px; }
"""
