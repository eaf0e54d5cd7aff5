"""lk.track on series: a series spooled by a real Scope, plain arrays, chunked reads, errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from tracking_sim import SHAPE, make_camera, rois_for

import labkit as lk
from labkit.devices.sim import SimStage, SimTweezersCamera
from labkit.processing.tracking import ZLUTBuilder
from labkit.processing.tracking import _offline as offline


def test_track_a_series_spooled_by_a_scope(tmp_path):
    # the scope's camera and this one share seed 0: the same beads at the same places
    stage = SimStage("stage", speed_um_s=1e5)
    twin = SimTweezersCamera("camera", seed=0, sensor_shape=SHAPE, stage=stage, tether_rms_nm=0.0)
    rois = rois_for(twin)
    with ZLUTBuilder(rois, SHAPE) as builder:
        for z in np.round(np.arange(-0.3, 0.301, 0.05), 3):
            stage.move(z=float(z))
            stage.wait(timeout_s=5)
            for _ in range(3):
                builder.add(twin.snap()[0], float(z))
        zlut = builder.build()
    with lk.Scope(devices="labkit.devices.sim:tweezers_devices", shape=SHAPE) as scope:
        scope.camera.tether_rms_nm = 0.0
        scope.camera.frame_rate_hz = 50
        scope.spool.dir_pattern = str(tmp_path)
        scope.start()
        handle = scope.spool.start(max_frames=12, preflight_mode="skip")
        assert handle.wait(timeout=60).frames_written == 12
    series = lk.open_series(handle.path)
    calls = []
    beads = lk.track(series, rois, zlut, progress=lambda done, total: calls.append((done, total)))
    assert beads.dims == ("time", "bead", "coord") and beads.shape == (12, 9, 4)
    assert list(beads.coord.values) == ["x", "y", "z", "quality"]
    assert list(beads.units.values) == ["px", "px", "µm", ""]
    np.testing.assert_array_equal(beads.time.values, series.t.values)  # seconds, from the series
    assert "timestamp_s" in beads.coords and beads.attrs["pixel_size_um"] == pytest.approx(0.1)
    assert calls[-1] == (12, 12)
    assert np.all(beads.sel(coord="quality") == 0)
    xy = beads.sel(coord=["x", "y"]).values
    expected = np.broadcast_to(_truth_xy(), xy.shape)
    np.testing.assert_allclose(xy, expected, atol=0.1)
    np.testing.assert_allclose(beads.sel(coord="z").values, 0.0, atol=0.05)  # the stage sat at 0


def _truth_xy() -> np.ndarray:
    camera = SimTweezersCamera("camera", seed=0, sensor_shape=SHAPE, tether_rms_nm=0.0)
    return camera.bead_positions_px()[:, ::-1]


def test_chunked_reads_give_the_frame_by_frame_answer(zlut, monkeypatch):
    camera, _ = make_camera(tether_rms_nm=30.0)
    frames = np.stack([camera.snap()[0] for _ in range(7)])
    rois = rois_for(make_camera()[0])
    whole = lk.track(frames, rois, zlut)
    monkeypatch.setattr(offline, "_CHUNK_BYTES", frames[0].nbytes * 3)  # three frames a read
    calls = []
    chunked = lk.track(frames, rois, zlut, progress=lambda done, total: calls.append(done))
    xr.testing.assert_identical(whole, chunked)
    assert calls == [3, 6, 7]
    assert list(whole.time.values) == list(range(7)) and whole.time.attrs["units"] == "frame"
    assert whole.bead.values[0] == "bead0" and whole.roi_x.values[0] == rois[0].x


def test_series_of_the_wrong_shape_say_how_to_fix_it(zlut):
    four_d = xr.DataArray(np.zeros((2, 3, 64, 64), np.uint16), dims=("t", "z", "y", "x"))
    with pytest.raises(ValueError, match=r"select a plane \(series.isel\(z=0\)\)"):
        lk.track(four_d, [("b", 0, 0, 50, 50)])
    with pytest.raises(ValueError, match="needs frames \\(t, y, x\\)"):
        lk.track(np.zeros((64, 64)), [("b", 0, 0, 50, 50)])
