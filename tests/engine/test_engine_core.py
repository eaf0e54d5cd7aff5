"""The Engine object on its own (no transport): command table, pacing, close."""

from __future__ import annotations

import pytest
from engine_helpers import SHAPE

from labkit.devices.sim import default_devices
from labkit.engine import EngineState, EngineStateError
from labkit.engine._commands import COMMANDS
from labkit.engine._engine import Engine


@pytest.fixture
def engine():
    events: list = []
    eng = Engine(
        default_devices(shape=SHAPE), emit=lambda t, p: events.append((t, p)), ring_slots=4
    )
    eng.events = events  # type: ignore[attr-defined]
    eng.open()
    yield eng
    eng.close()


def test_every_command_has_a_handler():
    for name in COMMANDS:
        assert callable(getattr(Engine, f"cmd_{name}", None)), name


def test_frame_period_follows_rate_and_exposure(engine):
    engine.camera.frame_rate_hz = 100
    engine.camera.exposure_ms = 5
    assert engine._loops["camera"]._period_s() == pytest.approx(0.01)
    engine.camera.exposure_ms = 40  # a frame cannot be shorter than its exposure
    assert engine._loops["camera"]._period_s() == pytest.approx(0.04)


def test_open_emits_ready_and_close_releases(engine):
    assert engine.state is EngineState.READY
    assert ("state", {"state": "ready", "previous": "created"}) in engine.events
    ring = engine.ring.name
    engine.close()
    assert engine.state is EngineState.CLOSED and engine.ring is None
    with pytest.raises(EngineStateError, match="closed"):
        engine.dispatch("ping", {})
    import os

    assert not os.path.exists(f"/dev/shm/{ring}")


def test_dispatch_checks_state(engine):
    engine.dispatch("start", {})
    with pytest.raises(EngineStateError, match="'running'"):
        engine.dispatch("start", {})
    engine.dispatch("stop", {})
    assert [p["state"] for t, p in engine.events if t == "state"][-2:] == ["running", "stopped"]
