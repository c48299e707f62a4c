"""`cbsim compare` and `cbsim search`: what should government do? (docs/policy.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cbsim.cli.common import command, count_arg, say, seed_arg

POSTERIOR_HELP = "draw each seed's parameters from this posterior (cbsim calibrate)"


def add(sub) -> None:
    """Register `cbsim compare` and `cbsim search`."""
    compare = command(
        sub,
        "compare",
        "compare two scenarios on common seeds (paired differences and their intervals)",
        [
            "cbsim compare baseline_2011 compelling_offer --runs 400",
            "cbsim compare baseline_2011 baseline_2011 --set offer.funding_boost_m=1.0",
            "cbsim compare baseline_2011 troubled_families_2012 --out out/tf-vs-base",
        ],
    )
    compare.add_argument("a", metavar="A", help="reference scenario: name or path")
    compare.add_argument("b", metavar="B", help="compared scenario: name or path (--set applies)")
    compare.add_argument("--runs", type=count_arg(2, 1_000_000), default=200, help="default 200")
    compare.add_argument("--seed", type=seed_arg, default=0, help="master seed (default 0)")
    compare.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE")
    compare.add_argument("--posterior", metavar="DIR", help=POSTERIOR_HELP)
    compare.add_argument("--out", metavar="DIR", help="write the per-seed table and summary")
    compare.set_defaults(handler=handle_compare)

    search = command(
        sub,
        "search",
        "cheapest package of incentives reaching a required P",
        [
            "cbsim search cheapest_package_2011 --workers 2",
            "cbsim search searches/my_search.toml --out out/my-search",
            "cbsim search cheapest_money_package_2011 --scheduler tcp://10.0.0.5:8786",
        ],
    )
    search.add_argument("search", metavar="SEARCH", help="search name (searches/) or TOML path")
    search.add_argument("--out", metavar="DIR", help="output folder (default out/search-NAME)")
    search.add_argument("--posterior", metavar="DIR", help=POSTERIOR_HELP)
    search.add_argument(
        "--workers",
        type=count_arg(1, 64),
        default=1,
        metavar="N",
        help="local processes (default 1); with --scheduler local, the LocalCluster's",
    )
    search.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the packages on a Dask cluster: tcp://HOST:PORT, or 'local' for a "
        "LocalCluster (the same answer as one process)",
    )
    search.set_defaults(handler=handle_search)


def handle_compare(args: argparse.Namespace) -> int:
    """Run both scenarios on the same seeds and print the paired differences."""
    from cbsim.policy.compare import compare_scenarios
    from cbsim.policy.outputs import check_out_folder, comparison_lines, write_comparison

    if args.out is not None:
        check_out_folder(args.out)
    result = compare_scenarios(args.a, args.b, args.sets, args.runs, args.seed, args.posterior)
    lines = comparison_lines(result)
    if args.out is not None:
        lines.append("outputs: " + ", ".join(map(str, write_comparison(result, args.out))))
    return say(lines, "the comparison is done")


def handle_search(args: argparse.Namespace) -> int:
    """Search for the cheapest package; exit 1 when no package reaches the required P."""
    from cbsim.inputs.search import load_search
    from cbsim.policy.outputs import check_out_folder, search_lines, write_search
    from cbsim.policy.runs import posterior_draw
    from cbsim.policy.search import run_search

    search = load_search(args.search)
    out = check_out_folder(args.out or Path("out") / f"search-{search.name}")
    draw = posterior_draw(args.posterior)
    result = run_search(
        search,
        workers=args.workers,
        draw=draw,
        posterior=args.posterior,
        scheduler=args.scheduler,
    )
    files = ", ".join(p.name for p in write_search(result, out))
    lines = [*search_lines(result), f"outputs: {out}/ ({files})"]
    return say(lines, f"the outputs are in {out}/") or (0 if result.winner else 1)
