"""SimCamera: reproducible, beads visible, defocus, drift, noise, bit depth, roi/binning."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from labkit.devices import Camera, PropertyLimitError, PropertyValueError
from labkit.devices.sim import SimCamera, SimStage, default_devices

SMALL = (256, 256)


def _camera(**kw) -> SimCamera:
    kw.setdefault("sensor_shape", SMALL)
    kw.setdefault("n_beads", 20)
    return SimCamera("camera", **kw)


def _sharpness(frame: np.ndarray) -> float:
    """Mean squared Laplacian: high for sharp spots, low for blurred ones."""
    f = frame.astype(np.float64)
    lap = 4 * f[1:-1, 1:-1] - f[:-2, 1:-1] - f[2:, 1:-1] - f[1:-1, :-2] - f[1:-1, 2:]
    return float(np.mean(lap**2))


def test_satisfies_camera_protocol_and_meta():
    cam = _camera()
    assert isinstance(cam, Camera)
    frame, meta = cam.snap()
    assert frame.shape == cam.shape == SMALL and frame.dtype == np.uint16 and cam.dtype == "uint16"
    assert set(meta) == {"exposure_ms", "x_um", "y_um", "z_um", "timestamp_s"}
    assert meta["exposure_ms"] == 10.0 and meta["timestamp_s"] > 1e9
    json.dumps(cam.describe())
    assert cam.pixel_size_um == pytest.approx(0.1)


def test_same_seed_same_frames_different_seed_differs():
    a, b, c = _camera(seed=3), _camera(seed=3), _camera(seed=4)
    frames_a = [a.snap()[0] for _ in range(3)]
    frames_b = [b.snap()[0] for _ in range(3)]
    frames_c = [c.snap()[0] for _ in range(3)]
    for fa, fb, fc in zip(frames_a, frames_b, frames_c, strict=True):
        np.testing.assert_array_equal(fa, fb)
        assert not np.array_equal(fa, fc)
    assert not np.array_equal(frames_a[0], frames_a[1])  # noise changes frame to frame


def test_default_devices_reproducible_with_linked_stage():
    one, two = default_devices(seed=1, shape=SMALL), default_devices(seed=1, shape=SMALL)
    try:
        np.testing.assert_array_equal(one["camera"].snap()[0], two["camera"].snap()[0])
        assert one["camera"].stage is one["stage"]
    finally:
        for dev in [*one.values(), *two.values()]:
            dev.close()


def test_beads_visible_above_background():
    frame, _ = _camera().snap()
    background = np.median(frame)
    assert 110 <= background <= 130  # offset 100 + 2 e/ms × 10 ms
    assert frame.max() > background + 1000


def test_background_noise_matches_model():
    cam = _camera(n_beads=0, gain=2.0)
    frame = cam.snap()[0].astype(np.float64)
    # mean = 100 + gain*20 e, std = gain*sqrt(20 + 1.6²)
    assert frame.mean() == pytest.approx(140, abs=1)
    assert frame.std() == pytest.approx(2 * np.sqrt(20 + 1.6**2), rel=0.1)


def test_exposure_scales_signal():
    def bead_signal(exposure_ms):
        cam = _camera(seed=5, exposure_ms=exposure_ms, diffusion_um2_s=0)
        frame = cam.snap()[0].astype(np.float64)
        return float((frame - np.median(frame)).clip(0).sum())

    ratio = bead_signal(20) / bead_signal(2)
    assert 7 < ratio < 13


def test_defocus_blurs_after_stage_moves():
    stage = SimStage("stage")
    cam = _camera(seed=2, stage=stage, diffusion_um2_s=0)
    sharp = cam.snap()[0]
    stage.move(z=4)
    stage.wait(timeout_s=5)
    blurred, meta = cam.snap()
    assert meta["z_um"] == 4.0
    assert blurred.max() < 0.3 * sharp.max()
    assert _sharpness(blurred) < 0.1 * _sharpness(sharp)
    cam.focus_um = 4  # refocus: sharp again
    refocused = cam.snap()[0]
    assert refocused.max() > 0.7 * sharp.max()


def test_stage_xy_pans_the_field():
    stage = SimStage("stage")
    cam = _camera(seed=2, stage=stage, diffusion_um2_s=0)
    before = cam.bead_positions_px()
    stage.move(x=1.0)  # 1 µm = 10 px
    stage.wait(timeout_s=5)
    after = cam.bead_positions_px()
    shift = (before[:, 1] - after[:, 1]) % SMALL[1]
    np.testing.assert_allclose(shift, 10.0, atol=1e-6)


def _centroid(frame: np.ndarray) -> np.ndarray:
    signal = frame.astype(np.float64) - np.median(frame)
    signal[signal < 200] = 0
    rows, cols = np.indices(frame.shape)
    return np.array([(rows * signal).sum(), (cols * signal).sum()]) / signal.sum()


def test_brownian_drift_moves_bead_centroids():
    cam = _camera(seed=11, n_beads=1, diffusion_um2_s=0.5, frame_rate_hz=10)
    first = cam.snap()[0]
    truth_first = cam.bead_positions_px()[0]
    assert np.allclose(_centroid(first), truth_first, atol=0.3)  # image agrees with the model
    for _ in range(30):
        cam.snap()
    last = cam.snap()[0]
    moved = np.linalg.norm(_centroid(last) - _centroid(first))
    assert moved > 2.0  # expected ~ sqrt(4 D t) = 0.25 µm ... several px after 3 s
    assert cam.sim_time_s == pytest.approx(3.2)

    still = _camera(seed=11, n_beads=1, diffusion_um2_s=0, frame_rate_hz=10)
    a = _centroid(still.snap()[0])
    for _ in range(30):
        still.snap()
    assert np.linalg.norm(_centroid(still.snap()[0]) - a) < 0.3


@pytest.mark.parametrize(
    ("bits", "dtype", "top"), [(8, np.uint8, 255), (12, np.uint16, 4095), (16, np.uint16, 65535)]
)
def test_bit_depth_dtype_and_clipping(bits, dtype, top):
    cam = _camera(bit_depth=bits, gain=50.0)
    frame, _ = cam.snap()
    assert frame.dtype == dtype and cam.dtype == np.dtype(dtype).name
    assert frame.max() <= top
    assert frame.max() == top  # bright beads saturate at gain 50


def test_roi_and_binning_change_shape():
    cam = _camera()
    cam.roi = (10, 20, 100, 60)
    assert cam.shape == (60, 100) and cam.snap()[0].shape == (60, 100)
    cam.binning = 2
    assert cam.shape == (30, 50) and cam.snap()[0].shape == (30, 50)
    assert cam.pixel_size_um == pytest.approx(0.2)
    cam.binning = 4
    assert cam.snap()[0].shape == (15, 25)


def test_binning_keeps_total_bead_signal():
    def signal(binning):
        cam = _camera(seed=9, binning=binning, diffusion_um2_s=0)
        frame = cam.snap()[0].astype(np.float64)
        return float((frame - np.median(frame)).clip(0).sum())

    assert signal(2) == pytest.approx(signal(1), rel=0.2)


def test_bad_roi_refused_and_unchanged():
    cam = _camera()
    with pytest.raises(PropertyLimitError, match="reaches past the 256×256 sensor"):
        cam.roi = (200, 0, 100, 100)
    cam.roi = (0, 0, 3, 3)
    with pytest.raises(PropertyLimitError, match="smaller than one 4×4 binned pixel"):
        cam.binning = 4
    assert cam.roi == (0, 0, 3, 3) and cam.binning == 1
    with pytest.raises(PropertyValueError):
        cam.binning = 3


def test_render_into_checks_out_array():
    cam = _camera()
    with pytest.raises(ValueError, match=r"allocate np.empty\(camera.shape, camera.dtype\)"):
        cam.render_into(np.empty((10, 10), np.uint16))
    with pytest.raises(ValueError, match="uint8"):
        cam.render_into(np.empty(SMALL, np.uint8))
    out = np.zeros(SMALL, np.uint16)
    meta = cam.render_into(out)
    assert out.max() > 1000 and meta["exposure_ms"] == 10.0


def test_full_size_frame_and_setting_while_rendering():
    cam = SimCamera("camera", seed=0)  # default 2048×2048 sensor
    out = np.empty(cam.shape, cam.dtype)
    assert out.shape == (2048, 2048)
    stop = threading.Event()

    def setter():
        i = 0
        while not stop.is_set():
            cam.exposure_ms = 5.0 + (i % 2) * 5.0
            i += 1

    thread = threading.Thread(target=setter)
    thread.start()
    try:
        metas = [cam.render_into(out) for _ in range(5)]
    finally:
        stop.set()
        thread.join()
    assert {m["exposure_ms"] for m in metas} <= {5.0, 10.0}
    assert out.max() > np.median(out) + 500


def test_set_does_not_wait_for_a_render_in_progress():
    cam = _camera()
    done = threading.Event()

    def setter():
        cam.exposure_ms = 5.0
        done.set()

    with cam._render_lock:  # as if a frame were being rendered right now
        thread = threading.Thread(target=setter)
        thread.start()
        finished = done.wait(timeout=5)
    thread.join()
    assert finished and cam.exposure_ms == 5.0
