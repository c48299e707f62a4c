"""Run a command and report the peak memory of its process tree (used by measure.run_tree).

Usage: python tree_peak.py INTERVAL -- COMMAND [ARGS...]
Prints one JSON line: seconds, peak_pss_mb, peak_rss_mb, processes, returncode, output.

This runs as its own small process that imports no numpy, pyarrow, pandas or Mesa: the
proportional set size (PSS) splits a shared library's pages among every process mapping
it, so a sampler that had those libraries loaded itself would take a share of the
measured tree's pages and make the tree look smaller than it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psutil


def tree_memory(root: psutil.Process) -> tuple[float, float, int]:
    """Summed PSS and RSS (bytes) of `root` and its descendants, and how many there are."""
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


def main() -> None:
    interval = float(sys.argv[1])
    args = sys.argv[sys.argv.index("--") + 1 :]
    peak = {"pss": 0.0, "rss": 0.0, "n": 0}
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            pss, rss, n = tree_memory(root)
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
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_pss_mb": peak["pss"] / 2**20,
                "peak_rss_mb": peak["rss"] / 2**20,
                "processes": peak["n"],
                "returncode": proc.returncode,
                "output": output,
            }
        )
    )


if __name__ == "__main__":
    main()
