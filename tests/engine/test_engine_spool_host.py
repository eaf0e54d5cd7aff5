"""The SpoolHost adapter a scope hands to labkit.spool (docs/internals.md, section spool)."""

from __future__ import annotations

import pytest
from engine_helpers import Recorder, wait_until

from labkit.engine._spool_host import ScopeSpoolHost


def test_spool_host_protocol(scope):
    host = ScopeSpoolHost(scope)
    assert host.ring_name == scope.ring_name
    assert host.frame_rate_hz() == scope.camera.frame_rate_hz
    assert host.pixel_size_um() == pytest.approx(scope.camera.pixel_size_um)
    settings = host.device_settings()
    assert set(settings) == {"camera", "stage", "signal"}
    assert settings["camera"]["exposure_ms"] == scope.camera.exposure_ms
    host.set_property("camera", "exposure_ms", 15)
    assert scope.camera.exposure_ms == 15
    host.move_stage(2.5, wait=True)
    assert scope.stage.position()[2] == pytest.approx(2.5)
    host.move_stage(0.0, wait=True)
    scope.camera.exposure_ms = 10
    with host.open_reader(name="spool-test") as reader:
        scope.start()
        assert reader.next(timeout=5).index >= 0
    rec = Recorder()
    scope.subscribe(rec)
    try:
        host.emit("spool", {"event": "progress", "series": "s1", "frames_written": 3})
        wait_until(lambda: rec.topic("spool"), what="the spool event")
    finally:
        scope.unsubscribe(rec)
    assert rec.topic("spool")[0].payload == {
        "event": "progress",
        "series": "s1",
        "frames_written": 3,
    }


def test_scope_spool_is_a_controller_bound_to_the_scope(scope):
    spool = scope.spool
    assert spool is scope.spool  # created once
    assert type(spool).__name__ == "SpoolController"
    assert isinstance(spool.host, ScopeSpoolHost)
