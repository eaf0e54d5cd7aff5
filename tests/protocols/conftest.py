"""Protocol test fixtures: one scope per mode shared by a module (a process starts in ~1 s)."""

from __future__ import annotations

import pytest
from protocol_devices import make_scope

from labkit.engine import EngineState


@pytest.fixture(scope="module", params=["thread", "process"])
def shared_scope(request):
    scope = make_scope(request.param)
    yield scope
    scope.close()


@pytest.fixture
def scope(shared_scope):
    yield shared_scope
    if shared_scope.state is EngineState.RUNNING:
        shared_scope.stop()
    if shared_scope.state is EngineState.FAILED:
        shared_scope.restart()


@pytest.fixture(scope="session", autouse=True)
def _zarr_io_thread():
    """zarr-python keeps one event-loop thread ('zarr_io') for the whole process: start it before
    the per-test leak check so reading series back does not count as a leak."""
    import numpy as np
    import zarr

    zarr.create_array(store={}, shape=(1,), dtype=np.uint8)[:] = 1
    yield
