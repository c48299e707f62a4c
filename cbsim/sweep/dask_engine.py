"""The Dask engine: a sweep's batches on a Dask distributed cluster (or a `LocalCluster`).

Nothing here waits forever: the scheduler must answer within CONNECT_TIMEOUT_S (a hard
deadline: `distributed.Client` can hang past its own timeout when something other than a
Dask scheduler listens at the address), have a worker within WORKERS_TIMEOUT_S, and every
worker must run `worker_probe` within PROBE_TIMEOUT_S (a worker without cbsim would never
run a batch, and the sweep would wait at 0 runs). Dask is imported only when an engine is
made.
"""

from __future__ import annotations

import threading
from typing import Any

from cbsim.inputs.errors import CbsimError
from cbsim.sweep.engines import run_batch, worker_probe
from cbsim.sweep.spec import CONNECT_TIMEOUT_S, PROBE_TIMEOUT_S, WORKERS_TIMEOUT_S, RunSpec
from cbsim.sweep.workload import Work


class DaskEngine:
    """A Dask distributed cluster: an existing scheduler, or a `LocalCluster` (``local``)."""

    def __init__(self, scenario: Work, address: str, workers: int) -> None:
        import logging

        from dask.distributed import Client, LocalCluster

        self.cluster: Any = None
        self.client: Any = None
        self.death = ""
        try:
            if address == "local":
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
                self.client = Client(self.cluster)
            else:
                self.client = _connect(address)
                self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
            _probe_workers(self.client, address)
        except (OSError, TimeoutError) as exc:
            self.close()
            hint = refusal_hint(address) if address != "local" else ""
            raise CbsimError(
                f"--scheduler {address}: cannot use the Dask scheduler ({_one_line(exc)}){hint}"
            ) from None
        except BaseException:
            self.close()
            raise
        self.workers = max(1, sum(self.client.nthreads().values()))
        where = "LocalCluster" if self.cluster else f"scheduler {address}"
        self.label = f"Dask {where} ({self.workers} workers)"
        # sent with each batch (a few kB): a copy scattered to the workers is lost for good
        # when the workers holding it die, and with it every batch waiting for it
        self.scenario = scenario

    def submit(self, runs: list[RunSpec]) -> Any:
        return self.client.submit(run_batch, self.scenario, runs, pure=False)

    def wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        from dask.distributed import wait

        result = wait(list(pending), return_when="FIRST_COMPLETED")
        return set(result.done), set(result.not_done)

    def lost_all(self, exc: BaseException) -> bool:
        return False  # Dask reschedules a dead worker's tasks itself

    def restart(self) -> None:
        pass

    def close(self, cancel: bool = False) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()
        cluster, self.cluster = self.cluster, None
        if cluster is not None:
            cluster.close()


def _connect(address: str) -> Any:
    """A `distributed.Client` of the scheduler at `address`, connected within
    CONNECT_TIMEOUT_S or a one-line CbsimError. The client is made in a thread of its own,
    left behind if it hangs (it closes its client should it ever connect)."""
    from dask.distributed import Client

    box: dict[str, Any] = {}
    lock = threading.Lock()

    def connect() -> None:
        try:
            client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
            return
        with lock:
            if box.get("abandoned"):
                client.close()
            else:
                box["client"] = client

    thread = threading.Thread(target=connect, name="cbsim-dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 5)
    with lock:
        if "client" in box:
            return box["client"]
        box["abandoned"] = True
    if "error" in box:
        raise box["error"]
    raise CbsimError(
        f"--scheduler {address}: no Dask scheduler answered within {CONNECT_TIMEOUT_S} s "
        "(is a Dask scheduler listening at that host and port?)"
    )


def refusal_hint(address: str) -> str:
    """A hint when nothing listens at `address` (tcp://HOST:PORT) at all: Dask retries a
    refused connection until its timeout and then says only that it timed out."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if not parts.hostname or parts.port is None:
        return ""
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return ""
    except ConnectionRefusedError:
        return (
            f"; connection refused: nothing listens at {parts.hostname}:{parts.port} "
            "(start the scheduler with `dask scheduler --port PORT`, or check the port)"
        )
    except OSError:
        return ""


def _probe_workers(client: Any, address: str) -> None:
    """Have every worker run `worker_probe` within PROBE_TIMEOUT_S, or one-line CbsimError."""
    from dask.distributed import wait

    workers = list(client.scheduler_info()["workers"])
    futures = [
        client.submit(worker_probe, pure=False, workers=[w], allow_other_workers=False)
        for w in workers
    ]
    try:
        wait(futures, timeout=PROBE_TIMEOUT_S)
    except TimeoutError:
        pass
    late = [w for w, f in zip(workers, futures, strict=True) if not f.done()]
    erred = [f for f in futures if f.done() and f.status == "error"]
    for future in futures:
        future.cancel()
    if erred:
        raise CbsimError(
            f"--scheduler {address}: a Dask worker cannot run cbsim "
            f"({_one_line(erred[0].exception())}); every worker needs the same cbsim installed"
        )
    if late:
        raise CbsimError(
            f"--scheduler {address}: {len(late)} of {len(workers)} Dask workers did not run "
            f"a first small task within {PROBE_TIMEOUT_S} s (e.g. {late[0]}); every worker "
            "needs the same cbsim installed (see the workers' logs)"
        )


def _one_line(exc: BaseException | None) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 300 else text[:297] + "..."
