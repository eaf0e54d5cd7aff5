"""Scope behaviour that must be identical in thread and process mode (one shared scope per mode)."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import xarray as xr
from engine_helpers import SHAPE, Recorder, wait_until

from labkit.devices import PropertyLimitError, PropertyReadOnlyError, UnknownPropertyError
from labkit.engine import (
    DeviceProxy,
    EngineState,
    EngineStateError,
    ScopeHealth,
    UnknownCommandError,
)
from labkit.engine._commands import CommandError


def test_ready_after_construction(scope):
    assert scope.state in (EngineState.READY, EngineState.STOPPED)
    status = scope.status()
    assert status.mode == scope.mode
    assert status.ring_name and status.ring_name.startswith("labkit-")
    assert set(status.devices) == {"camera", "stage", "signal"}
    if scope.mode == "process":
        assert status.engine_pid != os.getpid()
        assert scope.engine_address.startswith("ipc://")
    else:
        assert status.engine_pid == os.getpid()
        assert scope.engine_address is None


def test_property_set_get(scope):
    scope.camera.exposure_ms = 12.5
    assert scope.camera.exposure_ms == 12.5
    scope.camera.exposure_ms = 3  # int accepted for a float property
    assert scope.camera.exposure_ms == 3.0
    assert isinstance(scope.camera.shape, tuple)
    assert scope.camera.shape == SHAPE
    scope.camera.exposure_ms = 10


def test_out_of_range_names_the_limit(scope):
    with pytest.raises(PropertyLimitError) as info:
        scope.camera.exposure_ms = 5000
    msg = str(info.value)
    assert "exposure_ms=5000" in msg and "2000 ms" in msg
    assert scope.camera.exposure_ms != 5000  # nothing changed


def test_readonly_and_unknown_property(scope):
    with pytest.raises(PropertyReadOnlyError, match="read-only"):
        scope.camera.shape = (10, 10)
    with pytest.raises(UnknownPropertyError, match="exposure_ms"):  # lists the valid names
        scope.camera.exposure = 10
    with pytest.raises(AttributeError, match="no property 'nonsense'"):
        _ = scope.camera.nonsense


def test_tab_completion_and_describe(scope):
    cam = scope.camera
    assert isinstance(cam, DeviceProxy)
    names = dir(cam)
    assert {"exposure_ms", "frame_rate_hz", "roi", "binning", "snap", "describe"} <= set(names)
    desc = cam.describe()
    assert desc["kind"] == "camera"
    assert desc["properties"]["exposure_ms"]["units"] == "ms"
    spec = cam.property_specs()["exposure_ms"]
    assert spec.high == 2000 and spec.units == "ms"
    assert {"move", "position"} <= set(dir(scope.stage))
    assert "camera" in dir(scope)


def test_snap_returns_labelled_dataarray(scope):
    scope.camera.exposure_ms = 7
    frame = scope.camera.snap()
    assert isinstance(frame, xr.DataArray)
    assert frame.dims == ("y", "x")
    assert frame.shape == SHAPE
    assert frame.dtype == np.uint16
    px = frame.attrs["pixel_size_um"]
    assert px > 0
    np.testing.assert_allclose(np.diff(frame.x.values), px)
    assert frame.x.attrs["units"] == "µm"
    assert frame.attrs["exposure_ms"] == 7
    assert {"z_um", "timestamp_s"} <= set(frame.attrs)
    assert frame.values.std() > 0  # a real image, not zeros
    scope.camera.exposure_ms = 10


def test_stage_move(scope):
    pos = scope.stage.move(z=5.0, wait=True)
    assert pos[2] == pytest.approx(5.0)
    assert scope.stage.position()[2] == pytest.approx(5.0)
    assert scope.camera.snap().attrs["z_um"] == pytest.approx(5.0)
    with pytest.raises(PropertyLimitError, match="z_um"):
        scope.stage.move(z=10_000)
    scope.stage.move(z=0.0, wait=True)


def test_streaming_fills_ring_and_reader_sees_increasing_indices(scope):
    scope.camera.frame_rate_hz = 200
    reader = scope.open_reader(name="test-stream")
    try:
        scope.start()
        assert scope.state is EngineState.RUNNING
        indices = [reader.next(timeout=5).index for _ in range(10)]
        assert indices == sorted(indices) and len(set(indices)) == 10
        assert indices[-1] - indices[0] == 9  # a reader keeping up loses nothing
        frame = reader.latest()
        assert frame.data.shape == SHAPE and frame.data.any()
        health = scope.health()
        assert isinstance(health, ScopeHealth)
        assert health.state is EngineState.RUNNING
        assert health.frames_acquired >= 10
        assert "test-stream" in health.readers
        assert 0.0 <= health.ring_fill <= 1.0
        rec = Recorder()
        scope.subscribe(rec)
        scope.stop()
        assert scope.state is EngineState.STOPPED
        n = scope.health().frames_acquired
        # the acquisition loop reports health every second, stopped or not: two reports after
        # stop prove it went round for a second or more (200 frames at 200 fps had it acquired)
        seen = len(rec.topic("health"))
        wait_until(
            lambda: len(rec.topic("health")) >= seen + 2,
            timeout_s=10,
            what="two health reports from the stopped acquisition loop",
        )
        after = [e.payload["frames_acquired"] for e in rec.topic("health")[seen:]]
        assert after == [n] * len(after) and scope.health().frames_acquired == n
        scope.unsubscribe(rec)
    finally:
        reader.close()
        scope.camera.frame_rate_hz = 30


def test_trace_reader_gets_signal_samples(scope):
    reader = scope.open_trace_reader()
    try:
        scope.start()
        wait_until(lambda: reader.latest(5)[0].size > 0, what="signal samples in the trace buffer")
        t, v = reader.latest(5)
        assert v.shape[1] == len(scope.signal.channels)
    finally:
        reader.close()


def test_invalid_transitions_raise_with_state(scope):
    if scope.state is EngineState.READY:
        with pytest.raises(EngineStateError, match="cannot stop\\(\\) while the engine is 'ready'"):
            scope.stop()
    scope.start()
    with pytest.raises(EngineStateError) as info:
        scope.start()
    assert "'running'" in str(info.value) and "stop()" in str(info.value)
    scope.stop()
    scope.start()  # restartable after stop
    assert scope.state is EngineState.RUNNING


def test_state_and_property_events_in_order(scope):
    rec = Recorder()
    scope.subscribe(rec)
    try:
        scope.camera.exposure_ms = 11
        scope.start()
        scope.camera.exposure_ms = 12
        scope.stop()
        wait_until(lambda: len(rec.topic("state")) >= 2, what="state events")
        wait_until(lambda: len(rec.topic("property")) >= 2, what="property events")
    finally:
        scope.unsubscribe(rec)
        scope.camera.exposure_ms = 10
    seqs = [e.seq for e in rec.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    interesting = [
        (e.topic, e.payload.get("state") or e.payload.get("value"))
        for e in rec.events
        if e.topic == "state" or (e.topic == "property" and e.payload["name"] == "exposure_ms")
    ]
    assert interesting[:4] == [
        ("property", 11.0),
        ("state", "running"),
        ("property", 12.0),
        ("state", "stopped"),
    ]
    prop = rec.topic("property")[0].payload
    assert prop == {"device": "camera", "name": "exposure_ms", "value": 11.0}


def test_health_events_arrive(scope):
    rec = Recorder()
    scope.subscribe(rec)
    try:
        wait_until(lambda: rec.topic("health"), timeout_s=3, what="a periodic health event")
    finally:
        scope.unsubscribe(rec)
    payload = rec.topic("health")[0].payload
    assert {"frames_acquired", "fps", "ring_fill", "readers", "state"} <= set(payload)


def test_unknown_command_and_bad_params(scope):
    with pytest.raises(UnknownCommandError, match="understands: .*set_property"):
        scope._call("self_destruct")
    with pytest.raises(CommandError, match="bad parameters for engine command 'get_property'"):
        scope._call("get_property", device="camera", nme="exposure_ms")
    with pytest.raises(LookupError, match="no device named 'laser'"):
        scope._call("get_property", device="laser", name="power")
    assert scope._call("ping") == "pong"  # still answering


def test_wrongly_typed_parameter_names_the_field(scope):
    with pytest.raises(CommandError, match="x_um"):
        scope._call("move_stage", device="stage", x_um="far")
    assert scope.stage.position()[0] == pytest.approx(0.0)  # nothing moved


def test_log_records_reach_notebook_logging(scope, caplog):
    rec = Recorder()
    scope.subscribe(rec)
    with caplog.at_level(logging.INFO, logger="labkit"):
        try:
            scope.start()
            scope.stop()
            wait_until(lambda: rec.topic("log"), what="a log event")
        finally:
            scope.unsubscribe(rec)
    payload = rec.topic("log")[0].payload
    assert payload["name"].startswith("labkit.engine") and "running" in payload["msg"]
    records = [
        r
        for r in caplog.records
        if r.name == "labkit.engine._engine" and "running" in r.getMessage()
    ]
    assert records, "the engine's log record did not reach this process's logging"
    if scope.mode == "process":
        assert any(r.process != os.getpid() for r in records)  # forwarded from the child


def test_log_events_follow_this_process_logging_level(scope, caplog):
    rec = Recorder()
    scope.subscribe(rec)
    with caplog.at_level(logging.WARNING, logger="labkit"):
        try:
            scope.start()
            scope.stop()
            wait_until(
                lambda: [e for e in rec.topic("state") if e.payload["state"] == "stopped"],
                what="the stopped state event",
            )
        finally:
            scope.unsubscribe(rec)
    assert [
        e.payload["msg"] for e in rec.topic("log") if e.payload["levelno"] < logging.WARNING
    ] == []
