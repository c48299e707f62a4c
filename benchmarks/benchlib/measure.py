"""Timing and memory measurement for the benchmarks: process trees, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import threading
import time
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


def _tree_memory(root: psutil.Process) -> tuple[float, float, int]:
    pss = rss = 0.0
    count = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0, 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        pss += getattr(info, "pss", info.rss)
        rss += info.rss
        count += 1
    return pss, rss, count


def run_tree(args: list[str], interval: float = 0.5, cwd: Path | None = None) -> TreeRun:
    """Run `args`, sampling the memory of it and all its descendants every `interval` s.

    Reading the PSS of a sweep's processes costs about 10 ms of CPU per sample, which would
    slow what is measured on a 2-core machine if sampled often; memory is flat enough over
    these runs for 0.5 s samples to find its peak.
    """
    peak = {"pss": 0.0, "rss": 0.0, "n": 0}
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd or REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            pss, rss, n = _tree_memory(root)
            peak["pss"] = max(peak["pss"], pss)
            peak["rss"] = max(peak["rss"], rss)
            peak["n"] = max(peak["n"], n)
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{output}")
    return TreeRun(seconds, peak["pss"] / 2**20, peak["rss"] / 2**20, peak["n"], output)


def spread(values: list[float]) -> str:
    """Median, quartiles and range of `values` as one line."""
    q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (f"median {med:.3f}  IQR {q1:.3f}-{q3:.3f}  min {min(values):.3f}  "
            f"max {max(values):.3f}  (n={len(values)})")


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
    return (f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {model}, "
            f"{ram:.1f} GiB RAM, Python {platform.python_version()}, "
            f"load average {load:.2f} at start")
