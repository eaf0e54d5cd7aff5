"""Wire test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def zmq_garbage_collector_thread():
    """Start pyzmq's process-wide zero-copy garbage-collector thread before the leak checks.

    pyzmq starts this daemon thread on the first ``copy=False`` send and keeps it for the whole
    process, so it is not a leak of the test that happened to send first.
    """
    from zmq.utils.garbage import gc

    gc.start()
    yield
