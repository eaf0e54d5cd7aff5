"""Fixtures of the analysis tests: a local S3 server (moto), a Dask cluster shared by a module,
and the process-wide helper threads of dask, fsspec and zarr started before the leak check."""

from __future__ import annotations

import logging
import socket
import uuid

import pytest


@pytest.fixture(scope="session", autouse=True)
def _library_threads():
    """Threads these libraries keep for the whole process, started before any per-test leak
    check: dask's offload executor, fsspec's IO loop, zarr-python's IO loop."""
    import distributed.utils
    import fsspec.asyn
    import numpy as np
    import zarr

    distributed.utils._offload_executor.submit(lambda: None).result()
    fsspec.asyn.get_loop()
    zarr.create_array(store={}, shape=(1,), dtype=np.uint8)[:] = 1
    yield


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on a free loopback port for the session: ``endpoint_url``."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_options(endpoint_url: str) -> dict:
    """s3fs options for the test server; every request on its own connection, so no keep-alive
    socket outlives a test (the leak check counts sockets)."""
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint_url, "region_name": "eu-west-1"},
        "config_kwargs": {"connector_args": {"force_close": True, "keepalive_timeout": None}},
        "skip_instance_cache": True,
    }


@pytest.fixture
def s3(s3_server):
    """A fresh bucket: ``(url, storage_options)``."""
    import s3fs

    options = s3_options(s3_server)
    bucket = f"labkit-{uuid.uuid4().hex[:10]}"
    s3fs.S3FileSystem(**options).mkdir(bucket)
    return f"s3://{bucket}", options


@pytest.fixture(scope="module")
def dask_cluster():
    """One embedded cluster (2 worker processes, TLS) shared by a module's tests."""
    from labkit.analysis import start_cluster

    with start_cluster(2) as cluster:
        yield cluster
