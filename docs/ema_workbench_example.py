"""Drive cbsim with EMA Workbench: uncertainties and levers in, scalar outcomes out.

`cbsim.model.simulate` is a plain function of keyword arguments (dotted parameter paths) that
returns a dict of scalar outcomes, so EMA Workbench can use it as a model directly. This
script samples council behaviour (uncertainties) and the offer (levers) with a Latin
hypercube, runs the experiments, and asks PRIM under which conditions the April 2012 target
is met. Every experiment uses seed 1 (common random numbers); EMA's `ReplicatorModel` would
add replications over seeds.

    python docs/ema_workbench_example.py --scenarios 40 --policies 4

`cbsim sweep` does the same at scale (seeds, Parquet, resume, Dask); this shows that
cbsim needs no special harness to be driven by other tools.
"""

from __future__ import annotations

import argparse
import warnings

from cbsim import load_scenario, simulate

warnings.filterwarnings("ignore", message=".*(ipyparallel|altair).*")

from ema_workbench import (  # noqa: E402
    BooleanParameter,
    Model,
    RealParameter,
    ScalarOutcome,
    SequentialEvaluator,
    perform_experiments,
)
from ema_workbench.analysis import prim  # noqa: E402

BASE = load_scenario("baseline_2011")  # parsed once, reused by every run


def cbsim_model(seed: int = 1, **params) -> dict:
    """EMA calls this with one keyword per uncertainty and lever; dotted paths go through."""
    return simulate(BASE, seed=seed, **params)


def build_model() -> Model:
    """The EMA model: council behaviour as uncertainties, the offer as levers."""
    model = Model("cbsim", function=cbsim_model)
    # EMA names must be Python identifiers; `variable_name` is the keyword simulate gets
    model.uncertainties = [
        RealParameter("peer_weight_m", 0.0, 6.0, variable_name="council.peer_weight_m"),
        RealParameter("threshold_median_m", 1.0, 4.0, variable_name="council.threshold_median_m"),
        RealParameter("virtual_value", 0.0, 1.0, variable_name="council.virtual_value"),
    ]
    model.levers = [
        RealParameter("funding_boost_m", 0.0, 1.5, variable_name="offer.funding_boost_m"),
        BooleanParameter("national_pooling", variable_name="offer.national_pooling"),
    ]
    model.outcomes = [ScalarOutcome("share_at_target"), ScalarOutcome("target_met")]
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=40, help="uncertainty samples")
    parser.add_argument("--policies", type=int, default=4, help="lever samples")
    parser.add_argument("--seed", type=int, default=2011, help="seed of the LHS samplers")
    args = parser.parse_args(argv)

    model = build_model()
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = perform_experiments(
            model,
            scenarios=args.scenarios,
            policies=args.policies,
            evaluator=evaluator,
            uncertainty_sampling_kwargs={"rng": args.seed},
            lever_sampling_kwargs={"rng": args.seed + 1},
        )
    met = outcomes["target_met"].astype(bool)
    print(
        f"{len(experiments)} experiments; target met in {met.sum()} "
        f"({met.mean():.0%}); mean share at target {outcomes['share_at_target'].mean():.1%}"
    )

    if 0 < met.sum() < len(met):
        x = experiments.drop(columns=["scenario", "policy", "model"])
        algorithm = prim.Prim(x, met.astype(int), mass_min=0.1)
        box = algorithm.find_box()
        print(f"PRIM box: coverage {box.coverage:.2f}, density {box.density:.2f}")
        limits = box.box_lim
        for name in limits.columns:
            low, high = limits[name].iloc[0], limits[name].iloc[1]
            if (low, high) != tuple(algorithm.box_init[name]):
                print(
                    f"  {name}: {low} to {high}"
                    if not isinstance(low, set)
                    else f"  {name}: {sorted(low)}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
