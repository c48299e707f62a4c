"""Every tunable parameter of cbsim, declared once: path, unit, default, range and meaning.

Scenarios, `--set`, experiments (sweep factors), the workshop sliders and the docs all read
this one table. Values marked [assumption] are not from a source; [calibrated] values were
chosen so that the historical scenarios reproduce what happened (see docs/ODD.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from cbsim.inputs.reference import STANCES, department_names, departments, pilot_councils

SWEETENERS = ("champions_network", "reinvest_savings", "funding_boost", "national_pooling")


@dataclass(frozen=True)
class Parameter:
    """One tunable parameter.

    kind is one of: float, int, bool, month (`YYYY-MM`), stance (withhold|align|pool),
    authorities (list of authority names), choices (list drawn from `choices`).
    """

    path: str
    kind: str
    unit: str
    default: Any
    min: float | None
    max: float | None
    description: str
    choices: tuple[str, ...] = ()
    main: bool = False  # a main incentive: shown as a slider/switch in the workshop view

    @property
    def numeric(self) -> bool:
        """True for float and int parameters (the ones with a range)."""
        return self.kind in ("float", "int")


def _p(path, kind, unit, default, lo, hi, description, choices=(), main=False) -> Parameter:
    return Parameter(path, kind, unit, default, lo, hi, description, tuple(choices), main)


_GENERAL: tuple[Parameter, ...] = (
    # --- timeline -------------------------------------------------------------------
    _p(
        "timeline.start",
        "month",
        "YYYY-MM",
        "2011-04",
        None,
        None,
        "first month of the run (step 0); the first-phase pilots went live in April 2011",
    ),
    _p(
        "timeline.end",
        "month",
        "YYYY-MM",
        "2013-03",
        None,
        None,
        "last month of the run (the horizon)",
    ),
    _p(
        "timeline.target_date",
        "month",
        "YYYY-MM",
        "2012-04",
        None,
        None,
        "date by which the target share should be reached (Bichard group: April 2012)",
    ),
    _p(
        "timeline.target_share",
        "float",
        "share of 152",
        0.5,
        0.01,
        1.0,
        "share of upper-tier authorities developing a community budget that meets the target",
    ),
    # --- councils -------------------------------------------------------------------
    _p(
        "councils.developing_at_start",
        "authorities",
        "names",
        list(pilot_councils()),
        None,
        None,
        "councils already developing a community budget at the start (the 28 pilots)",
    ),
    _p(
        "council.threshold_median_m",
        "float",
        "£m/yr",
        1.8,
        0.1,
        50.0,
        "median net benefit a council needs before it moves on a step [calibrated]",
    ),
    _p(
        "council.threshold_spread",
        "float",
        "log-sd",
        0.5,
        0.0,
        2.0,
        "spread of council thresholds (sd of their logarithm) [assumption]",
    ),
    _p(
        "council.capacity_min",
        "float",
        "0-1",
        0.4,
        0.0,
        1.0,
        "lowest council capacity to act; capacities are uniform on [min, 1] [assumption]",
    ),
    _p(
        "council.speed",
        "float",
        "1/(£m·month)",
        0.6,
        0.0,
        10.0,
        "how fast a council acts on net benefit above its threshold [calibrated]",
    ),
    _p(
        "council.setup_cost_m",
        "float",
        "£m/yr",
        0.5,
        0.0,
        20.0,
        "yearly cost of setting up and running a pooled budget [assumption]",
    ),
    _p(
        "council.own_spend_m",
        "float",
        "£m/yr",
        20.0,
        0.0,
        200.0,
        "a council's own spend on families with multiple problems it could align; about a "
        "third of £9bn/yr over 152 councils [assumption from FACTS]",
    ),
    _p(
        "council.savings_rate",
        "float",
        "share",
        0.05,
        0.0,
        0.5,
        "share of pooled or aligned spend saved by joined-up services (literature: 2-20%)",
    ),
    _p(
        "council.savings_kept_share",
        "float",
        "share",
        0.3,
        0.0,
        1.0,
        "share of savings a council keeps without freedom to reinvest (wrong pocket) [assumption]",
    ),
    _p(
        "council.cash_value",
        "float",
        "£/£",
        1.0,
        0.0,
        5.0,
        "value to a council of £1 of departmental money pooled into its local bank account",
    ),
    _p(
        "council.virtual_value",
        "float",
        "£/£",
        0.25,
        0.0,
        5.0,
        "value to a council of £1 of departmental money aligned (virtual pooling) [assumption]",
        main=True,
    ),
    _p(
        "council.pbr_value",
        "float",
        "£/£",
        5.0,
        0.0,
        20.0,
        "value to a council of £1 of central payment-by-results money, which comes without "
        "negotiating with departments [calibrated to Troubled Families take-up]",
    ),
    _p(
        "council.peer_weight_m",
        "float",
        "£m/yr",
        3.0,
        0.0,
        20.0,
        "pull on a council when all its network peers develop a community budget "
        "(imitation, competition) [assumption]",
        main=True,
    ),
    _p(
        "council.evidence_weight_m",
        "float",
        "£m/yr",
        1.0,
        0.0,
        20.0,
        "pull on a council of full evidence from the pilots that pooling works (learning)",
    ),
    # --- peer network ---------------------------------------------------------------
    _p(
        "network.region_links",
        "int",
        "links",
        4,
        0,
        50,
        "peers each council links to in its own region",
    ),
    _p(
        "network.type_links",
        "int",
        "links",
        2,
        0,
        50,
        "peers each council links to among councils of its own type, anywhere",
    ),
    _p(
        "network.leader_weight",
        "float",
        "×",
        2.0,
        0.0,
        10.0,
        "weight of links from regional leaders (Greater Manchester, West London, Essex)",
    ),
    _p(
        "network.champion_links",
        "int",
        "links",
        2,
        0,
        20,
        "pilot councils each council links to when the champions network runs",
    ),
    # --- departments (global) -------------------------------------------------------
    _p(
        "department.align_benefit",
        "float",
        "share",
        0.5,
        0.0,
        1.0,
        "share of pooling's benefits a department gets by aligning instead [assumption]",
    ),
    _p(
        "department.align_risk",
        "float",
        "share",
        0.25,
        0.0,
        1.0,
        "share of pooling's risk a department bears by aligning instead [assumption]",
    ),
    _p(
        "department.evidence_weight",
        "float",
        "utility",
        0.3,
        0.0,
        5.0,
        "pull on a department of full evidence from the pilots that pooling works",
    ),
    _p(
        "department.choice_noise",
        "float",
        "utility",
        0.05,
        0.0,
        1.0,
        "scale of random variation in departments' monthly judgements (Gumbel)",
    ),
    _p(
        "department.negotiation_months",
        "int",
        "months",
        3,
        1,
        24,
        "months a department must want a new stance before it takes it (negotiation)",
    ),
    # --- evidence from pilots -------------------------------------------------------
    _p(
        "evidence.initial",
        "float",
        "0-1",
        0.0,
        0.0,
        1.0,
        "evidence from pilots that pooling works, at the start",
    ),
    _p(
        "evidence.learning_rate",
        "float",
        "1/month",
        0.08,
        0.0,
        1.0,
        "monthly rate at which evidence moves toward what the pilots' funding allows",
    ),
    # --- the offer to councils ------------------------------------------------------
    _p(
        "offer.national_pooling",
        "bool",
        "on/off",
        False,
        None,
        None,
        "main departments are mandated to pool their streams nationally",
        main=True,
    ),
    _p(
        "offer.national_pooling_from",
        "month",
        "YYYY-MM",
        "2011-06",
        None,
        None,
        "month from which national pooling is mandated",
    ),
    _p(
        "offer.mandate",
        "float",
        "utility",
        1.0,
        0.0,
        5.0,
        "pull on a main department of the national pooling mandate",
    ),
    _p(
        "offer.reinvest_savings",
        "bool",
        "on/off",
        False,
        None,
        None,
        "councils are free to reinvest savings in preventative services",
        main=True,
    ),
    _p(
        "offer.reinvest_kept_share",
        "float",
        "share",
        0.8,
        0.0,
        1.0,
        "share of savings a council keeps when free to reinvest",
    ),
    _p(
        "offer.funding_boost_m",
        "float",
        "£m/yr",
        0.0,
        0.0,
        50.0,
        "extra funding per council per year for developing a community budget",
        main=True,
    ),
    _p(
        "offer.champions_network",
        "bool",
        "on/off",
        False,
        None,
        None,
        "a network of champions from pilot areas gives peer-to-peer support",
        main=True,
    ),
    _p(
        "offer.payment_by_results_m",
        "float",
        "£m/yr",
        0.0,
        0.0,
        50.0,
        "central payment-by-results money per council per year (Troubled Families: about "
        "£1m; £448m over 3 years / 152)",
        main=True,
    ),
    _p(
        "offer.payment_by_results_from",
        "month",
        "YYYY-MM",
        "2011-12",
        None,
        None,
        "month the payment-by-results offer opens (Troubled Families: 15 Dec 2011)",
    ),
    # --- ministerial groups ---------------------------------------------------------
    _p(
        "ministerial.first_stocktake",
        "month",
        "YYYY-MM",
        "2011-05",
        None,
        None,
        "month of the first stocktake (the DCLG stocktake for the Bichard group, May 2011)",
    ),
    _p("ministerial.stocktake_months", "int", "months", 3, 1, 24, "months between stocktakes"),
    _p(
        "ministerial.ministers_from",
        "month",
        "YYYY-MM",
        "2011-03",
        None,
        None,
        "month the ministers' group (Baroness Hanham) starts applying pressure",
    ),
    _p(
        "ministerial.tolerance",
        "float",
        "share",
        0.03,
        0.0,
        1.0,
        "how far behind the needed trajectory progress may fall before the groups act",
    ),
    _p(
        "ministerial.pressure_step",
        "float",
        "utility",
        0.15,
        0.0,
        2.0,
        "pressure added on the least engaged department at a stocktake when behind",
        main=True,
    ),
    _p(
        "ministerial.max_pressure",
        "float",
        "utility",
        0.4,
        0.0,
        5.0,
        "most pressure ministers can bring on one department",
    ),
    _p(
        "ministerial.sweeteners",
        "choices",
        "levers",
        [],
        None,
        None,
        "levers the officials' group may pull, in order, when behind at a stocktake",
        choices=SWEETENERS,
    ),
    _p(
        "ministerial.boost_step_m",
        "float",
        "£m/yr",
        0.5,
        0.0,
        10.0,
        "funding boost per council added when the groups sweeten the offer with money",
    ),
)


def _department_parameters() -> tuple[Parameter, ...]:
    params = []
    for d in departments():
        base = f"departments.{d.name}"
        params += [
            _p(
                f"{base}.poolable_m",
                "float",
                "£m/yr",
                d.poolable_m,
                0.0,
                5000.0,
                f"{d.name} money that could be pooled: {d.source}",
            ),
            _p(
                f"{base}.stance",
                "stance",
                "stance",
                d.stance,
                None,
                None,
                f"{d.name} stance at the start (withhold, align or pool)",
                choices=STANCES,
                main=d.name == "DWP",
            ),
            _p(
                f"{base}.floor",
                "stance",
                "stance",
                d.floor,
                None,
                None,
                f"lowest stance {d.name} will take (a commitment it keeps)",
                choices=STANCES,
            ),
            _p(
                f"{base}.return_share",
                "float",
                "share",
                d.return_share,
                0.0,
                1.0,
                f"share of pooling's savings that return to {d.name} (wrong pocket) [assumption]",
            ),
            _p(
                f"{base}.risk_aversion",
                "float",
                "utility",
                d.risk_aversion,
                0.0,
                5.0,
                f"{d.name}'s reluctance to lose control of its money (silo inertia) [assumption]",
            ),
            _p(
                f"{base}.main",
                "bool",
                "yes/no",
                d.main,
                None,
                None,
                f"{d.name} is a main department, covered by national pooling",
            ),
        ]
    return tuple(params)


@cache
def declared() -> dict[str, Parameter]:
    """All parameters keyed by dotted path, with their built-in defaults."""
    table = {p.path: p for p in _GENERAL + _department_parameters()}
    assert all(n.isidentifier() for n in department_names())
    return table


def defaults() -> dict[str, Any]:
    """The built-in default value of every parameter, keyed by dotted path."""
    return {path: _copy(p.default) for path, p in declared().items()}


def parameters(scenario: Any = None) -> list[Parameter]:
    """Every tunable parameter; with a scenario, `default` is that scenario's value."""
    if scenario is None:
        return list(declared().values())
    from cbsim.inputs.scenario import load_scenario

    values = load_scenario(scenario).values
    return [replace(p, default=_copy(values[p.path])) for p in declared().values()]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
