"""The Dask client map_series runs on: an embedded LocalCluster it owns, or the user's cluster.

Dask's comms carry pickles, so the embedded cluster listens on TLS with certificates made for
it alone (``Security.temporary()``, mutual authentication: a client or worker without them
cannot connect), on 127.0.0.1, without a dashboard; its worker processes are closed with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def dask_client(client: Any, n_workers: int | None, threads_per_worker: int) -> Iterator[Any]:
    """``client``: None (an embedded LocalCluster of ``n_workers`` processes, closed on exit),
    a scheduler address (a connection closed on exit; the cluster stays) or a
    ``distributed.Client`` (used as it is)."""
    try:
        from distributed import Client, LocalCluster
        from distributed.security import Security
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError(
            "map_series needs dask.distributed: pip install 'labkit[analysis]'"
        ) from exc
    if isinstance(client, Client):
        yield client
        return
    if isinstance(client, str):
        with Client(client) as connected:
            yield connected
        return
    if client is not None:
        raise TypeError(
            f"client must be None (an embedded LocalCluster), a scheduler address such as "
            f"'tcp://host:8786' or a distributed.Client, not {type(client).__name__}"
        )
    import os

    security = Security.temporary()
    workers = int(n_workers) if n_workers is not None else min(2, os.cpu_count() or 1)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=int(threads_per_worker),
            processes=True,
            host="127.0.0.1",
            protocol="tls",
            security=security,
            dashboard_address=None,
        ) as cluster,
        Client(cluster, security=security) as owned,
    ):
        yield owned
