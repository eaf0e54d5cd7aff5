"""The Dask client map_series runs on: an embedded LocalCluster, or the user's cluster.

Dask's comms carry pickles, so the embedded cluster (:func:`start_cluster`) listens on TLS with
certificates made for it alone (``Security.temporary()``, mutual authentication: a client or
worker without them cannot connect), on 127.0.0.1; the scheduler's HTTP status server takes a
free loopback port (never a fixed one another cluster may hold). The client owns the cluster:
``client.close()`` stops its worker processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from multiprocessing import resource_tracker
from typing import Any


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError(
            "labkit.analysis needs dask.distributed: pip install 'labkit[analysis]'"
        ) from exc
    return distributed


class AnalysisCluster:
    """A local Dask cluster and its client, owned together: ``client`` (a
    ``distributed.Client``), ``scheduler_address``, ``close()`` (stops the worker processes;
    also a context manager). Made by :func:`start_cluster`."""

    def __init__(self, n_workers: int, threads_per_worker: int) -> None:
        distributed = _distributed()
        from distributed.security import Security

        security = Security.temporary()
        # the worker processes are spawned, which starts multiprocessing's resource tracker
        # unless it runs already: then this cluster owns it (see close)
        self._owns_tracker = getattr(resource_tracker._resource_tracker, "_fd", None) is None
        self.cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            protocol="tls",
            security=security,
            dashboard_address="127.0.0.1:0",
            # routine notes such as a worker killed 4 s into closing stay out of the notebook
            silence_logs=logging.ERROR,
        )
        try:
            self.client = distributed.Client(self.cluster, security=security)
        except BaseException:
            self.cluster.close()
            self._stop_tracker()
            raise

    @property
    def scheduler_address(self) -> str:
        return str(self.cluster.scheduler_address)

    def close(self) -> None:
        """Close the client, then the cluster and its worker processes (idempotent)."""
        self.client.close()
        self.cluster.close()
        self._stop_tracker()

    def _stop_tracker(self) -> None:
        """Stop the resource tracker the workers' spawning started, and reap it.

        It ignores SIGTERM and lives until this process exits; ipykernel's shutdown kills the
        kernel's children first (SIGKILL leaves it a zombie nobody reaps) and then waits for them
        to go, so a kernel that ran a cluster never exited by itself: it was killed after the
        shutdown timeout. (``_stop`` is the tracker's own way to end it: close its pipe, wait.)
        """
        if self._owns_tracker:
            self._owns_tracker = False
            resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]

    def __enter__(self) -> AnalysisCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        workers = len(self.cluster.workers)
        return f"<AnalysisCluster {self.scheduler_address} {workers} workers>"


def start_cluster(n_workers: int | None = None, threads_per_worker: int = 1) -> AnalysisCluster:
    """A new local cluster for :func:`~labkit.analysis.map_series` (pass it as ``client``):
    ``n_workers`` processes (default 2, or the cores there are) of ``threads_per_worker``
    threads, TLS on 127.0.0.1.

    Keep it for several calls (workers keep what they imported and compiled); ``close()`` stops
    it (a context manager too).
    """
    workers = int(n_workers) if n_workers is not None else min(2, os.cpu_count() or 1)
    return AnalysisCluster(workers, int(threads_per_worker))


@contextlib.contextmanager
def dask_client(client: Any, n_workers: int | None, threads_per_worker: int) -> Iterator[Any]:
    """``client``: None (an embedded cluster from :func:`start_cluster`, closed on exit), a
    scheduler address (a connection closed on exit; the cluster stays), an
    :class:`AnalysisCluster` or a ``distributed.Client`` (used as they are)."""
    distributed = _distributed()
    if isinstance(client, AnalysisCluster):
        yield client.client
        return
    if isinstance(client, distributed.Client):
        yield client
        return
    if isinstance(client, str):
        with distributed.Client(client) as connected:
            yield connected
        return
    if client is not None:
        raise TypeError(
            f"client must be None (an embedded LocalCluster), a scheduler address such as "
            f"'tcp://host:8786', lk.analysis.start_cluster() or a distributed.Client, not "
            f"{type(client).__name__}"
        )
    with start_cluster(n_workers, threads_per_worker) as owned:
        yield owned.client
