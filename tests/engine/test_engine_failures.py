"""Failures look the same in both modes: remote errors, a crashing acquisition loop, restart."""

from __future__ import annotations

import pytest
from engine_helpers import Recorder, make_scope, wait_until

from labkit.devices import PropertyLimitError
from labkit.engine import EngineDiedError, EngineError, EngineState, EngineStateError
from labkit.wire import RemoteError


@pytest.fixture(scope="module", params=["thread", "process"])
def faulty_scope(request):
    scope = make_scope(request.param, devices="engine_helpers:faulty_devices")
    yield scope
    scope.close()


def test_unregistered_error_arrives_as_remote_error_with_traceback(faulty_scope):
    laser = faulty_scope.devices["laser"]
    assert laser.kind == "laser"
    laser.power_mw = 20
    with pytest.raises(RemoteError) as info:
        laser.power_mw = 60
    err = info.value
    assert err.remote_type.endswith("FlakyHardwareError")
    assert "laser interlock open at 60.0 mW" in str(err)
    assert "_apply" in err.remote_traceback  # where it failed, in the engine
    assert laser.power_mw == 20  # nothing changed
    with pytest.raises(
        PropertyLimitError, match="100 mW"
    ):  # registered types still arrive as themselves
        laser.power_mw = 500


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_acquisition_crash_fails_the_scope_and_start_recovers(mode):
    # own scope: the restart makes a new ring, which a module-scoped scope would report as a leak
    with make_scope(mode, devices="engine_helpers:faulty_devices") as scope:
        _crash_and_recover(scope)


def _crash_and_recover(faulty_scope):
    rec = Recorder()
    faulty_scope.subscribe(rec)
    try:
        faulty_scope.camera.frame_rate_hz = 200
        faulty_scope.camera.fail_after_frames = 3
        faulty_scope.start()
        wait_until(
            lambda: faulty_scope.state is EngineState.FAILED, what="state 'failed' after the crash"
        )
        wait_until(lambda: rec.topic("error"), what="an error event")
        # events reach subscribers on their own thread: scope.state may flip first
        wait_until(
            lambda: [e.payload["state"] for e in rec.topic("state")][-1:] == ["failed"],
            what="the 'failed' state event",
        )
    finally:
        faulty_scope.unsubscribe(rec)
    error = rec.topic("error")[0].payload
    assert error["type"] == "FlakyHardwareError" and "cable unplugged" in error["message"]
    states = [e.payload["state"] for e in rec.topic("state")]
    assert states[-2:] == ["running", "failed"]
    assert "cable unplugged" in rec.topic("state")[-1].payload["reason"]
    assert faulty_scope.health().state is EngineState.FAILED
    faulty_scope.start()  # from failed: a fresh engine, then running
    assert faulty_scope.state is EngineState.RUNNING
    assert faulty_scope.camera.fail_after_frames == 0  # fresh devices
    reader = faulty_scope.open_reader(name="after-restart")
    try:
        assert reader.next(timeout=5).index >= 0
    finally:
        reader.close()
    faulty_scope.stop()


def test_closed_scope_refuses_calls():
    scope = make_scope("thread")
    scope.close()
    scope.close()  # idempotent
    assert scope.state is EngineState.CLOSED
    with pytest.raises(EngineStateError, match="closed") as info:
        scope.camera.exposure_ms = 5
    assert not isinstance(info.value, EngineDiedError)
    assert info.value.state is EngineState.CLOSED
    with pytest.raises(EngineStateError, match="create a new Scope"):
        scope.start()
    with pytest.raises(EngineStateError, match="closed scope"):
        scope.restart()


def test_bad_device_factory_is_reported_in_both_modes():
    with pytest.raises(ValueError, match="cannot load device factory 'no_such_module:f'"):
        make_scope("thread", devices="no_such_module:f")
    with pytest.raises(
        EngineError, match="(?s)failed to start.*cannot load device factory 'no_such_module:f'"
    ):
        make_scope("process", devices="no_such_module:f")


def test_device_objects_need_thread_mode():
    from labkit.devices.sim import default_devices

    devices = default_devices(shape=(32, 32))
    try:
        with pytest.raises(ValueError, match="importable factory"):
            make_scope("process", devices=devices)
        with make_scope("thread", devices=devices) as scope:  # fine in this process
            assert scope.camera.shape == (32, 32)
    finally:
        for dev in devices.values():
            dev.close()
