"""The spooler on a real ``lk.Scope`` (thread engine and process engine)."""

from __future__ import annotations

import numpy as np
import pytest

import labkit as lk
from labkit.testing import wait_until


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


@pytest.mark.slow
def test_engine_killed_mid_spool_keeps_frames(tmp_path):
    import os
    import signal

    from labkit.buffers import sweep_stale_segments

    with lk.Scope(mode="process", shape=(128, 128)) as scope:
        scope.camera.frame_rate_hz = 100
        scope.spool.dir_pattern = str(tmp_path)
        scope.start()
        h = scope.spool.start(shard_seconds=0.1, preflight_mode="skip")
        wait_until(lambda: h.progress.frames_written >= 20, timeout_s=30, what="20 frames written")
        os.kill(scope.status().engine_pid, signal.SIGKILL)
        p = h.wait(timeout=30)  # ends by itself: the ring owner died
        assert p.state == "finished" and p.frames_written >= 20 and "died" in (p.error or "")
        da = lk.open_series(h.path)
        assert da.shape[0] == p.frames_written and da.attrs["status"] == "complete"
    sweep_stale_segments()
