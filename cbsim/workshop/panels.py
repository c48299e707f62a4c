"""The workshop view's panels: tables and lines drawn from a running model and its odds.

Plain functions of a `CommunityBudgetModel` (and the live `Odds`) returning an HTML string,
so they can be tested and timed without a browser; `cbsim.workshop.app` puts them on the page.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from cbsim.inputs.parameters import Parameter, parameters
from cbsim.model.model import CommunityBudgetModel
from cbsim.workshop.history import EVENTS

if TYPE_CHECKING:
    from cbsim.workshop.odds import Odds

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


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def odds_html(odds: Odds | None, fresh: bool) -> str:
    """P(target met) with its 95% interval over the runs for the sliders' settings; marked
    `computing` while the odds for newly moved sliders are on their way."""
    state = "ready" if fresh else "computing"
    if odds is None:
        return (
            f'<div class="cbsim-odds" data-state="{state}"><span class="cbsim-odds-label">'
            "odds with these incentives:</span> computing 100 runs ...</div>"
        )
    over = (
        f"odds over the calibrated posterior: {odds.particles:,} particles"
        if odds.particles
        else "with the scenario's other values"
    )
    key = escape(repr(odds.settings), quote=True)
    return (
        f'<div class="cbsim-odds" data-state="{state}" data-p="{odds.p:.4f}" data-key="{key}">'
        '<span class="cbsim-odds-label">odds with these incentives:</span> '
        f'<b class="cbsim-p">P(target met) = {_pct(odds.p)}</b> '
        f'<span class="cbsim-ci">(95% interval {_pct(odds.low)}&ndash;{_pct(odds.high)})</span> '
        f'<span class="cbsim-runs">{odds.met} of {odds.runs} runs (seeds 0&ndash;'
        f"{odds.runs - 1}), {over}</span>"
        + ("" if fresh else ' <span class="cbsim-updating">updating&hellip;</span>')
        + "</div>"
    )


def money_html(model: CommunityBudgetModel, odds: Odds | None) -> str:
    """What the incentives cost the centre: this run so far and to the target date, and the
    runs' mean to the target date (docs/costs.md)."""
    target = model.params["timeline.target_date"]
    so_far = sum(model.costs.run_m.values())
    to_target = sum(model.costs.to_target_m.values())
    passed = model.month_index >= model.target_index
    runs = (
        f"£{odds.mean_cost_at_target_m:,.1f}m"
        if odds is not None and odds.mean_cost_at_target_m is not None
        else "&ndash;"
    )
    return (
        '<div class="cbsim-money"><span class="cbsim-odds-label">cost to the centre:</span> '
        f'this run <b class="cbsim-cost-now">£{so_far:,.1f}m</b> so far, '
        f'<b class="cbsim-cost-target">£{to_target:,.1f}m</b> to {target}'
        f"{'' if passed else ' so far'}; "
        f'the runs&rsquo; mean to {target} <b class="cbsim-cost-runs">{runs}</b></div>'
    )


def history_html() -> str:
    """The real events numbered on the adoption chart, one line each."""
    items = "".join(
        f'<li data-month="{e.month}" title="{escape(e.source)}"><span class="cbsim-event-n">'
        f'{n}</span> <span class="when">{e.month}</span> {escape(e.caption)}</li>'
        for n, e in enumerate(EVENTS, start=1)
    )
    return f'<ol class="cbsim-history">{items}</ol>'


STYLE = """
.cbsim-headline { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0 16px;
  font-size: 16px; padding: 0 4px; line-height: 1.35; }
.cbsim-headline .cbsim-month { font-size: 26px; font-weight: 700; color: #1f6f8b; }
.cbsim-headline .cbsim-step, .cbsim-headline .cbsim-scenario { color: #666; font-size: 13px; }
.v-application nav.v-navigation-drawer { width: 300px !important; min-width: 300px !important;
  max-width: 300px !important; }
.v-navigation-drawer__content > div { padding: 6px !important; }
.v-application main.solara-content-main { padding-left: 300px !important; }
.solara-content-main .v-content__wrap > div { padding: 6px 10px !important; }
.cbsim-no-error { display: none; }
.cbsim-scenario-description { display: none; }
.cbsim-scenario-card .v-input { margin-top: 0 !important; padding-top: 0 !important; }
.cbsim-scenario-card .v-messages { display: none; }
.v-application .cbsim-controls .v-input--selection-controls { margin: 0 !important;
  padding: 0 !important; }
.cbsim-controls .v-input--selection-controls .v-input__control { height: 28px; }
.cbsim-odds, .cbsim-money { font-size: 14.5px; padding: 0 4px; line-height: 1.4; }
.cbsim-odds .cbsim-p { font-size: 18px; color: #1f4e79; }
.cbsim-odds[data-state="computing"] .cbsim-p { color: #8a9aa8; }
.cbsim-odds-label { color: #555; }
.cbsim-runs, .cbsim-updating { color: #666; font-size: 13px; }
.cbsim-stage { display: grid; grid-template-columns: minmax(0, 0.82fr) minmax(0, 1.18fr);
  gap: 6px; height: calc(100vh - 254px); min-height: 330px; margin-top: 2px; }
.cbsim-panel-map, .cbsim-panel-adoption { display: flex; flex-direction: column; min-height: 0; }
.cbsim-map { flex: 1 1 auto; min-height: 0; }
.cbsim-england { width: 100%; height: 100%; display: block; }
.cbsim-map-foot { flex: 0 0 auto; margin: 0 !important; gap: 8px; flex-wrap: nowrap; }
.cbsim-map-foot .v-input { margin: 0; padding: 0; }
.cbsim-map-foot .v-messages { display: none; }
.cbsim-legend { display: flex; flex-wrap: wrap; gap: 2px 10px; font-size: 12px; }
.cbsim-dot { display: inline-block; width: 11px; height: 11px; border-radius: 50%;
  margin-right: 3px; vertical-align: -1px; border: 1px solid #fff; }
.cbsim-dot.cbsim-pilot { border: 2px solid #111; background: #c9ced3; }
.cbsim-dot.cbsim-tp { background: radial-gradient(#111 30%, #c9ced3 34%); }
.cbsim-chart { flex: 1 1 auto; min-height: 0; }
.cbsim-chart .cbsim-figure { width: 100%; height: 100%; object-fit: contain; }
.cbsim-history { list-style: none; padding: 0 !important; margin: 0; font-size: 12.5px;
  columns: 2; column-gap: 14px; flex: 0 0 auto; }
.cbsim-history li { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.cbsim-history .when { color: #7d3c98; font-weight: 600; font-variant-numeric: tabular-nums; }
.cbsim-event-n { display: inline-block; width: 16px; height: 16px; border-radius: 50%;
  background: #7d3c98; color: white; font-size: 10px; font-weight: 700; text-align: center;
  line-height: 16px; }
.cbsim-more { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr));
  gap: 12px; margin-top: 16px; }
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
.cbsim-panel-title { font-weight: 700; font-size: 15px; margin-bottom: 4px; }
/* the sidebar, compact enough for a projector's 720 lines */
.v-application .cbsim-run, .v-application .cbsim-controls, .v-application .cbsim-scenario-card
  { margin: 0 0 6px 0 !important; padding: 2px 8px !important; }
.cbsim-run .v-card__title, .cbsim-controls .v-card__title, .cbsim-scenario-card .v-card__title
  { font-size: 15px !important; padding: 2px 0 !important; }
.cbsim-controls .v-input, .cbsim-run .v-input { margin-top: 0 !important;
  padding-top: 0 !important; }
.cbsim-controls .v-messages, .cbsim-run .v-messages { display: none; }
.cbsim-controls .v-input__slot, .cbsim-run .v-input__slot { margin-bottom: 0 !important; }
.cbsim-controls .v-label, .cbsim-run .v-label { font-size: 13px !important; }
.cbsim-controls .v-input--selection-controls { margin: 0 !important; }
.cbsim-controls .v-text-field { padding-top: 2px !important; }
.cbsim-controls .v-input--checkbox, .cbsim-controls .v-input--switch { height: 24px; }
.cbsim-controls .v-input--selection-controls .v-input__slot { margin: 0 !important; }
.cbsim-controls .v-slider { min-height: 26px; }
.cbsim-controls .v-input__slot { min-height: 0 !important; }
.cbsim-controls .v-select__selections input { display: none; }
.cbsim-controls .v-text-field input { padding: 2px 0 !important; }
.cbsim-controls > div, .cbsim-controls .v-card__text { padding: 0 !important; }
"""
