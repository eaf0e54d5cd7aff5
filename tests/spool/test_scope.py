"""The spooler on a real ``lk.Scope`` (thread engine and process engine)."""

from __future__ import annotations

import numpy as np
import pytest

import labkit as lk


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_scope_spool_roundtrip(tmp_path, mode):
    with lk.Scope(mode=mode, shape=(256, 256)) as scope:
        scope.camera.frame_rate_hz = 50
        events = []
        scope.subscribe(lambda ev: events.append(ev) if ev.topic == "spool" else None)
        scope.spool.dir_pattern = str(tmp_path)
        scope.start()
        h = scope.spool.start(
            max_frames=30,
            z_stepped=True,
            z_dwell=5,
            z_start_um=0,
            z_stop_um=2,
            z_step_um=2,
            preflight_mode="warn",
        )
        p = h.wait(timeout=60)
        assert p.frames_written == 30 and p.frames_dropped == 0
        da = lk.open_series(h.path)
        assert da.dims == ("t", "z", "y", "x") and da.shape == (15, 2, 256, 256)
        assert da.attrs["device_settings"] and "camera" in da.attrs["device_settings"]
        # the stage really moved: frames record the z they were taken at
        assert np.allclose(da.frame_z_um.values[:, 0], 0.0, atol=0.05)
        assert np.allclose(da.frame_z_um.values[:, 1], 2.0, atol=0.05)
        assert float(da.std()) > 0
    assert any(e.payload.get("event") == "finished" for e in events)
