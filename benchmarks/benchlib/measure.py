"""Timing and memory measurement for the benchmarks: process trees, machine facts."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CBSIM = str(Path(PYTHON).with_name("cbsim"))


@dataclass(frozen=True)
class TreeRun:
    """A finished command: wall time and peak memory of its whole process tree."""

    seconds: float
    peak_pss_mb: float  # peak over time of the summed proportional set size (shared pages split)
    peak_rss_mb: float  # peak over time of the summed resident set size (shared pages repeated)
    processes: int  # most processes seen at once
    output: str


def run_tree(args: list[str], interval: float = 0.2, cwd: Path | None = None) -> TreeRun:
    """Run `args`, sampling the memory of it and all its descendants every `interval` s.

    The sampling is done by `tree_peak.py` in a separate small process that loads none of
    the libraries measured (see its docstring). Reading the PSS of a sweep's processes
    costs a few ms of CPU per sample, on a core the measured command may want.
    """
    sampler = [PYTHON, str(Path(__file__).with_name("tree_peak.py")), str(interval), "--", *args]
    done = subprocess.run(sampler, cwd=cwd or REPO, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["returncode"] != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result['returncode']}):\n{result['output']}")
    return TreeRun(
        result["seconds"],
        result["peak_pss_mb"],
        result["peak_rss_mb"],
        result["processes"],
        result["output"],
    )


def spread(values: list[float]) -> str:
    """Median, quartiles and range of `values` as one line."""
    q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (
        f"median {med:.3f}  IQR {q1:.3f}-{q3:.3f}  min {min(values):.3f}  "
        f"max {max(values):.3f}  (n={len(values)})"
    )


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def machine() -> str:
    """One line on the machine: cores, CPU model, RAM, Python, load."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = psutil.virtual_memory().total / 2**30
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {model}, "
        f"{ram:.1f} GiB RAM, Python {platform.python_version()}, "
        f"load average {load:.2f} at start"
    )
