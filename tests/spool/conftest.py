from __future__ import annotations

import pytest
from spool_host import SimHost

from labkit.spool import SpoolController


@pytest.fixture
def host():
    h = SimHost()
    yield h
    h.close()


@pytest.fixture
def spool(host, tmp_path):
    ctl = SpoolController(host, dir_pattern=str(tmp_path / "data"))
    yield ctl
    if ctl.handle is not None and not ctl.handle.done:
        ctl.handle.stop()


@pytest.fixture(scope="session", autouse=True)
def _zarr_io_thread():
    """zarr-python keeps one event-loop thread ('zarr_io') for the whole process: start it before
    the per-test leak check so third-party reads in tests don't count as leaks."""
    import numpy as np
    import zarr

    zarr.create_array(store={}, shape=(1,), dtype=np.uint8)[:] = 1
    yield
