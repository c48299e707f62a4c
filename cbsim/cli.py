"""The `cbsim` command line: run, sweep, analyse, compare, search, viz, scenarios, params."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from cbsim.inputs.errors import CbsimError
from cbsim.sweep import options as sweep_options

EXIT_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input, one line on stderr)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CbsimError as exc:
        print(f"cbsim: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # e.g. `cbsim params | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("cbsim: interrupted", file=sys.stderr)
        return 130


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2), like bad input."""

    def error(self, message: str):  # argparse calls this on a usage error
        self.exit(
            EXIT_INPUT,
            f"{self.prog}: error: {' '.join(message.splitlines())} (see {self.prog} --help)\n",
        )


def _seed(text: str) -> int:
    """A random seed: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="cbsim", description=__import__("cbsim").__doc__)
    parser.add_argument(
        "--version", action="version", version=f"cbsim {__import__('cbsim').__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one scenario and write its outputs")
    run.add_argument("scenario", metavar="SCENARIO", help="scenario name or path to a TOML file")
    run.add_argument("--seed", type=_seed, default=1, help="random seed (default 1)")
    run.add_argument(
        "--posterior",
        metavar="DIR",
        help="take the calibrated parameters from a particle of the posterior in DIR (cbsim "
        "calibrate), picked by weight from the seed; --set goes on top",
    )
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a parameter, e.g. --set offer.national_pooling=true",
    )
    run.add_argument("--out", metavar="DIR", help="output folder (default out/SCENARIO-seedN)")
    run.add_argument(
        "--against",
        metavar="SCENARIO",
        help="print one seed's cost per extra authority against SCENARIO (see cbsim compare)",
    )
    run.set_defaults(handler=_run)

    sweep = sub.add_parser("sweep", help="run an experiment (many scenarios x seeds)")
    sweep.add_argument("experiment", metavar="EXPERIMENT", help="experiment name or TOML path")
    sweep.add_argument(
        "--out", metavar="DIR", help="new or empty folder (default sweeps/EXPERIMENT)"
    )
    sweep.add_argument(
        "--workers", type=sweep_options.workers_arg, metavar="N", help=sweep_options.WORKERS_HELP
    )
    sweep.add_argument("--scheduler", metavar="ADDRESS", help=sweep_options.SCHEDULER_HELP)
    sweep.add_argument("--resume", action="store_true", help="finish only the missing runs")
    sweep.add_argument(
        "--posterior",
        metavar="DIR",
        help="draw each run's calibrated parameters from the posterior in DIR (cbsim calibrate), "
        "by weight from the run's own seed",
    )
    sweep.set_defaults(handler=_sweep)

    analyse = sub.add_parser("analyse", help="report on a finished sweep")
    analyse.add_argument("dir", metavar="DIR", help="the sweep's output folder")
    analyse.set_defaults(handler=_analyse)

    _add_policy_commands(sub)

    viz = sub.add_parser("viz", help="serve the workshop view in the browser")
    viz.add_argument("scenario", metavar="SCENARIO", nargs="?", default="baseline_2011")
    viz.add_argument(
        "--host",
        default="127.0.0.1",
        help="address or host name to listen on, not empty (default 127.0.0.1; any other "
        "than a loopback address is warned about)",
    )
    viz.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port, 1-65535, or 0 for any free port (the one picked is printed; default 8765)",
    )
    viz.add_argument(
        "--posterior",
        metavar="DIR",
        default=None,
        help="a finished calibration's folder: the page's odds draw run i's parameters from "
        "its posterior with seed i",
    )
    viz.set_defaults(handler=_viz)

    scenarios = sub.add_parser("scenarios", help="list the shipped scenarios")
    scenarios.set_defaults(handler=_scenarios)

    params = sub.add_parser("params", help="list every tunable parameter")
    params.add_argument("scenario", metavar="SCENARIO", nargs="?", default=None)
    params.set_defaults(handler=_params)
    _add_calibrate_command(sub)
    return parser


def _run(args: argparse.Namespace) -> int:
    from cbsim.inputs.fileio import check_output_path
    from cbsim.inputs.scenario import load_scenario, parse_set_option
    from cbsim.model.model import CommunityBudgetModel
    from cbsim.outputs.run_files import RUN_FILES, summary, write_run_outputs

    if args.out is not None:
        check_output_path(args.out, "--out")  # before any work: a name the disk would refuse
    spec = _with_posterior(load_scenario(args.scenario), args)
    overrides = dict(parse_set_option(s) for s in args.sets)
    spec = spec.with_overrides(overrides, source="--set")
    against = load_scenario(args.against) if args.against else None
    out = Path(args.out) if args.out else Path("out") / f"{spec.name}-seed{args.seed}"
    check_output_path(out, "--out")

    def stop(signum: int, frame: object) -> None:  # SIGTERM: stop as Ctrl-C does (exit 130)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        model = CommunityBudgetModel(scenario=spec, rng=args.seed)
        model.run_to_end()
        try:
            write_run_outputs(model, out, args.seed)  # cleans up after itself if stopped
            _record_posterior(out, args)
        except OSError as exc:
            raise CbsimError(f"{out}: cannot write outputs ({exc.strerror or exc})") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    lines = [summary(model, args.seed)]
    if against is not None:
        from cbsim.policy.compare import against_line

        lines.append(against_line(model.outcomes(), against, args.seed))
    lines.append(f"outputs: {out}/ ({', '.join(RUN_FILES)})")
    return _say(lines, f"the outputs are in {out}/")


def _say(lines: list[str], done: str) -> int:
    """Print `lines` on stdout once the work is done; if stdout cannot take them (a full
    disk, a closed pipe), one line on stderr and exit status 1 (`done` says what was done)."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except OSError as exc:
        devnull = os.open(os.devnull, os.O_WRONLY)  # so that nothing is retried at exit
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        reason = exc.strerror or type(exc).__name__
        print(f"cbsim: error: stdout: cannot write ({reason}); {done}", file=sys.stderr)
        return 1
    return 0


def _count(low: int, high: int):
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        value = int(text) if text.strip().isdigit() and len(text) <= 20 else low - 1
        if not low <= value <= high:
            shown = repr(text) if len(text) <= 20 else repr(text[:17] + "...")
            raise argparse.ArgumentTypeError(
                f"expected a whole number {low:,} to {high:,}, got {shown}"
            )
        return value

    return parse


def _add_policy_commands(sub) -> None:
    """`cbsim compare` and `cbsim search` (docs/policy.md)."""
    posterior = {"metavar": "DIR", "help": "draw each seed's parameters from this posterior"}
    compare = sub.add_parser("compare", help="compare two scenarios on common seeds")
    compare.add_argument("a", metavar="A", help="reference scenario: name or path")
    compare.add_argument("b", metavar="B", help="compared scenario: name or path (--set applies)")
    compare.add_argument("--runs", type=_count(2, 1_000_000), default=200, help="default 200")
    compare.add_argument("--seed", type=_seed, default=0, help="master seed (default 0)")
    compare.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE")
    compare.add_argument("--posterior", **posterior)
    compare.add_argument("--out", metavar="DIR", help="write the per-seed table and summary")
    compare.set_defaults(handler=_compare)
    search = sub.add_parser("search", help="cheapest package of incentives reaching a required P")
    search.add_argument("search", metavar="SEARCH", help="search name (searches/) or TOML path")
    search.add_argument("--out", metavar="DIR", help="output folder (default out/search-NAME)")
    search.add_argument("--posterior", **posterior)
    search.add_argument("--workers", type=_count(1, 64), default=1, metavar="N", help="default 1")
    search.add_argument("--scheduler", metavar="ADDRESS", help="not supported yet (refused)")
    search.set_defaults(handler=_search)


def _compare(args: argparse.Namespace) -> int:
    from cbsim.policy.compare import compare_scenarios
    from cbsim.policy.outputs import check_out_folder, comparison_lines, write_comparison

    if args.out is not None:
        check_out_folder(args.out)
    result = compare_scenarios(args.a, args.b, args.sets, args.runs, args.seed, args.posterior)
    lines = comparison_lines(result)
    if args.out is not None:
        lines.append("outputs: " + ", ".join(map(str, write_comparison(result, args.out))))
    return _say(lines, "the comparison is done")


def _search(args: argparse.Namespace) -> int:
    from cbsim.inputs.search import load_search
    from cbsim.policy.outputs import check_out_folder, search_lines, write_search
    from cbsim.policy.runs import posterior_draw
    from cbsim.policy.search import run_search

    if args.scheduler is not None:
        raise CbsimError("--scheduler: not supported yet by cbsim search (use --workers N)")
    search = load_search(args.search)
    out = check_out_folder(args.out or Path("out") / f"search-{search.name}")
    draw = posterior_draw(args.posterior)
    result = run_search(search, workers=args.workers, draw=draw, posterior=args.posterior)
    files = ", ".join(p.name for p in write_search(result, out))
    lines = [*search_lines(result), f"outputs: {out}/ ({files})"]
    return _say(lines, f"the outputs are in {out}/") or (0 if result.winner else 1)


def _sweep(args: argparse.Namespace) -> int:
    from cbsim.sweep.interrupts import stop_once_until_exit
    from cbsim.sweep.run import run_sweep

    posterior = None
    if args.posterior is not None:
        from cbsim.calibrate.posterior import load_posterior

        posterior = load_posterior(args.posterior)
    stop_once_until_exit()  # a second Ctrl-C cannot cut short the sweep's finishing
    summary = run_sweep(
        args.experiment,
        out=args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        posterior=posterior,
    )
    if summary.retried:
        print(f"{summary.name}: running again {summary.retried:,} runs whose worker process died")
    results = f"results in {summary.runs_dir}/"
    if summary.already_done:
        failed = f" ({summary.failed:,} failed)" if summary.failed else ""
        print(f"{summary.name}: all {summary.planned:,} runs already done{failed}; {results}")
        return summary.exit_status
    failed = ""
    if summary.failed:
        lost = summary.lost_with_worker
        failed = f", {summary.failed:,} failed (see the error column" + (
            f"; {lost:,} lost with their worker process, run again by --resume)" if lost else ")"
        )
    print(
        f"{summary.name}: {summary.ran:,} runs in {summary.seconds:.1f} s on {summary.engine}; "
        f"{summary.done:,} of {summary.planned:,} done{failed}; {results}"
    )
    print(f"next: cbsim analyse {summary.out}")
    return summary.exit_status


def _analyse(args: argparse.Namespace) -> int:
    from cbsim.analysis.report import analyse
    from cbsim.inputs.fileio import check_output_path

    check_output_path(args.dir, "analyse")  # a name the disk would refuse: one line
    try:
        report = analyse(args.dir)
    except CbsimError:
        raise
    except Exception as exc:  # a sweep folder analysis cannot read: one line, no traceback
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise CbsimError(f"analyse: {args.dir}: {type(exc).__name__}: {reason}") from None
    return _say([f"report: {report}"], f"the report is {report}")


def _viz(args: argparse.Namespace) -> int:
    from cbsim.workshop.server import prepare, run_server

    launch = prepare(args.scenario, host=args.host, port=args.port, posterior=args.posterior)
    print(launch.status, flush=True)
    for warning in launch.warnings:
        print(warning, file=sys.stderr, flush=True)
    return run_server(launch)


def _scenarios(args: argparse.Namespace) -> int:
    from cbsim.inputs.scenario import available_scenarios

    for spec in available_scenarios():
        print(f"{spec.name}\n    {spec.description}")
    return 0


def _params(args: argparse.Namespace) -> int:
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


# ------------------------------------------------------------------------ calibrate
def _add_calibrate_command(sub) -> None:
    """`cbsim calibrate`: ABC-SMC against history (cbsim/calibrate, docs/calibration.md)."""
    calibrate = sub.add_parser(
        "calibrate", help="fit the calibrated parameters to history (ABC-SMC, pyabc)"
    )
    calibrate.add_argument(
        "calibration", metavar="CALIBRATION", help="calibration name or TOML path"
    )
    calibrate.add_argument(
        "--out",
        metavar="DIR",
        help="output folder: new or empty, or the one to --resume (default posteriors/CALIBRATION)",
    )
    calibrate.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local processes, 1 to 64 (default: every core; 1 makes the whole calibration "
        "reproducible from its seed); with --scheduler local, the cluster's workers",
    )
    calibrate.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address tcp://HOST:PORT, or 'local' for a LocalCluster",
    )
    calibrate.add_argument(
        "--resume", action="store_true", help="continue the calibration recorded in --out"
    )
    calibrate.set_defaults(handler=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from cbsim.calibrate.run import CalibrationInterrupted, Progress, run_calibration

    name = Path(args.calibration).stem
    parent = os.getpid()

    def stop(signum: int, frame: object) -> None:  # Ctrl-C, SIGTERM: the calibration stops
        if os.getpid() != parent:  # a forked worker of pyabc's: leave quietly
            os._exit(130)
        raise KeyboardInterrupt

    def show(progress: Progress) -> None:
        print(f"{name}: {progress.text()}", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = run_calibration(
            args.calibration,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=show,
        )
    except CalibrationInterrupted as stopped:
        print(
            f"cbsim: interrupted with {stopped.generations} generation(s) on record; continue "
            f"with: cbsim calibrate {args.calibration} --out {stopped.out} --resume",
            file=sys.stderr,
        )
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if summary.already_done:
        return _say(
            [
                f"{summary.name}: already done ({summary.generations} generations; "
                f"{summary.stop_reason}); outputs in {summary.out}/"
            ],
            f"the outputs are in {summary.out}/",
        )
    lines = [
        f"{summary.name}: {summary.ran} generation(s) in {summary.seconds:.0f} s on "
        f"{summary.engine} ({summary.simulations:,} model runs, "
        f"{summary.simulations_per_second:,.0f} a second); stopped: {summary.stop_reason}",
        *(
            f"validation: {target}: {'consistent' if ok else 'NOT consistent'} with history"
            for target, ok in summary.validation
        ),
        f"outputs: {summary.out}/ (posterior.parquet, report.md, figures, history.db, "
        "manifest.json)",
        f"next: cbsim run baseline_2011 --posterior {summary.out}",
    ]
    return _say(lines, f"the outputs are in {summary.out}/")


def _with_posterior(spec, args: argparse.Namespace):
    """`spec` with the parameters of the posterior particle `--seed` picks (if --posterior)."""
    if args.posterior is None:
        return spec
    from cbsim.calibrate.posterior import load_posterior

    draw = load_posterior(args.posterior).draw(args.seed)
    return spec.with_overrides(draw, source=f"--posterior {args.posterior}")


def _record_posterior(out: Path, args: argparse.Namespace) -> None:
    """posterior.json beside the run's outputs: which posterior and particle it used."""
    from cbsim.calibrate.posterior import load_posterior, write_draw_record
    from cbsim.inputs.scenario import parse_set_option

    if args.posterior is None:
        return write_draw_record(out, None)
    overridden = [parse_set_option(s)[0] for s in args.sets]
    write_draw_record(out, load_posterior(args.posterior).record(args.seed, overridden))


if __name__ == "__main__":
    sys.exit(main())
