"""Engine test fixtures: one scope per mode shared by a module (process start-up costs ~1 s)."""

from __future__ import annotations

import pytest
from engine_helpers import make_scope

from labkit.engine import EngineState


@pytest.fixture(scope="module", params=["thread", "process"])
def shared_scope(request):
    """A scope per mode shared by the tests of a module; each test leaves it ready or stopped."""
    scope = make_scope(request.param)
    yield scope
    scope.close()


@pytest.fixture
def scope(shared_scope):
    """The shared scope, put back to a not-running state with default exposure after each test."""
    yield shared_scope
    if shared_scope.state is EngineState.RUNNING:
        shared_scope.stop()
    if shared_scope.state is EngineState.FAILED:
        shared_scope.restart()
