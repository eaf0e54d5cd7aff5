"""BeadTracker on rendered tweezers beads with known truth: x, y, z, quality flags, drift.

Bounds here are looser than the goals (x/y 0.015 px, z 15 nm RMS): the goals are measured by
``labkit bench tracking``; these prove the tracker recovers what the images hold.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from tracking_sim import SHAPE, heights_um, make_camera, move, rois_for

from labkit.devices.sim import SimCamera
from labkit.processing import Roi
from labkit.processing.tracking import BeadTracker, Quality, find_beads


def _errors(tracker, camera, stage, zs, heights):
    """(x/y errors (frames, beads, 2) px, z errors (frames, beads) nm, quality) over stage z."""
    xy, z, quality = [], [], []
    for target in zs:
        move(stage, z=float(target))
        result = tracker.track(camera.snap()[0])
        truth = camera.bead_positions_px()[:, ::-1]  # (x, y)
        xy.append(result.values[:, :2] - truth)
        z.append((result.values[:, 2] - (camera.bead_z_um() - heights)) * 1e3)
        quality.append(result.values[:, 3].copy())
    return np.array(xy), np.array(z), np.array(quality)


def test_recovers_subpixel_xy_and_z_with_a_table(zlut):
    camera, stage = make_camera(tether_rms_nm=30.0)  # beads wander 0.3 px and 30 nm
    heights = heights_um()
    zs = np.random.default_rng(1).uniform(-1.2, 1.2, 12)  # between the table's planes
    with BeadTracker() as tracker:
        tracker.prepare(rois_for(camera), SHAPE, zlut)
        xy, z, quality = _errors(tracker, camera, stage, zs, heights)
    assert np.all(quality == 0)
    assert np.sqrt(np.mean(xy**2)) < 0.03  # goal 0.015 px (bench)
    assert np.abs(xy).max() < 0.15
    assert np.sqrt(np.mean(z**2)) < 30  # goal 15 nm (bench)
    assert abs(z.mean()) < 10


def test_without_a_table_z_is_nan_and_xy_still_tracked():
    camera, _ = make_camera()
    with BeadTracker(iterations=3, reference=["bead0"]) as tracker:
        tracker.prepare(rois_for(camera), SHAPE)
        result = tracker.track(camera.snap()[0])
        assert np.all(np.isnan(result.values[:, 2])) and np.all(result.values[:, 3] == 0)
        np.testing.assert_allclose(
            result.values[:, :2], camera.bead_positions_px()[:, ::-1], atol=0.1
        )
        assert np.all(result.snr > 3) and np.all(np.isnan(result.match))


def test_flags_leaving_the_roi_z_past_the_table_missing_bead_and_poor_match(zlut):
    camera, stage = make_camera()
    rois = rois_for(camera)
    with BeadTracker() as tracker:
        tracker.prepare(rois, SHAPE, zlut)
        move(stage, x=1.6)  # 16 px: every bead leaves the middle of its ROI
        result = tracker.track(camera.snap()[0])
        assert np.all(result.values[:, 3].astype(int) & Quality.OFF_CENTRE)
        move(stage, x=0.0, z=2.5)  # 1 µm past the table's last plane
        result = tracker.track(camera.snap()[0])
        assert np.all(result.values[:, 3].astype(int) & Quality.Z_RANGE)
        assert np.all(result.values[:, 2] >= 1.45)
    # an empty ROI (a grid cell without a bead) beside real ones
    sparse, _ = make_camera(n_beads=8)
    cells = np.array([(48 + 96 * r, 48 + 96 * c) for r in range(3) for c in range(3)])
    gaps = np.linalg.norm(cells[:, None] - sparse.bead_positions_px()[None], axis=-1).min(axis=1)
    y, x = cells[np.argmax(gaps)] - 25
    rois = [*rois_for(sparse)[:2], Roi("empty", int(y), int(x), 50, 50)]
    with BeadTracker() as tracker:
        tracker.prepare(rois, SHAPE, zlut.shared_table())
        result = tracker.track(sparse.snap()[0])
        assert list(result.values[:, 3]) == [0, 0, Quality.MISSING]
        assert np.all(np.isnan(result.values[2, :3])) and result.snr[2] < 1
    # fluorescent spots are beads, but not the kind the ring table was recorded with
    spots = SimCamera("spots", seed=6, sensor_shape=(256, 256), n_beads=4, diffusion_um2_s=0)
    frame = spots.snap()[0]
    with BeadTracker() as tracker:
        tracker.prepare(find_beads(frame, 50), frame.shape, zlut.shared_table())
        result = tracker.track(frame)
        assert np.all(result.values[:, 3].astype(int) & Quality.POOR_MATCH)
        assert np.all(result.match < 0.9) and np.all(result.snr > 3)


def test_reference_beads_remove_a_common_drift(zlut):
    camera, stage = make_camera()
    refs = [f"bead{i}" for i in camera.reference_beads]
    with BeadTracker(reference=refs) as tracker:
        tracker.prepare(rois_for(camera), SHAPE, zlut)
        first = tracker.track(camera.snap()[0])
        raw0, referenced0 = first.raw.copy(), first.values[:, :3].copy()
        np.testing.assert_allclose(referenced0, raw0)  # the first frame is the origin
        move(stage, x=-0.037, y=0.061, z=0.12)  # sample drift: +0.37 px in x, −0.61 in y, focus
        later = tracker.track(camera.snap()[0])
        drift = later.raw - raw0
        np.testing.assert_allclose(
            drift, np.broadcast_to([0.37, -0.61, 0.12], drift.shape), atol=0.06
        )
        residual = later.values[:, :3] - referenced0
        assert np.abs(residual[:, :2]).max() < 0.06 and np.abs(residual[:, 2]).max() < 0.03
        tracker.reset_reference()
        np.testing.assert_allclose(
            tracker.track(camera.snap()[0]).values[:, :3], later.raw, atol=0.1
        )


def test_result_arrays_are_reused_and_threads_agree():
    camera, _ = make_camera()
    frame = camera.snap()[0]
    frame.flags.writeable = False  # frames from a ring are read-only views
    outputs = []
    for threads in (1, 2):
        with BeadTracker(threads=threads) as tracker:
            tracker.prepare(rois_for(camera), SHAPE)
            first = tracker.track(frame)
            second = tracker.track(frame)
            assert first.values is second.values and first.profiles is second.profiles
            outputs.append(second.values.copy())
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int32])
def test_any_numeric_frame_dtype(dtype):
    camera, _ = make_camera()
    frame = camera.snap()[0]
    scaled = (frame / 8).astype(dtype) if dtype == np.uint8 else frame.astype(dtype)
    with BeadTracker() as tracker:
        tracker.prepare(rois_for(camera), SHAPE, dtype=dtype)
        values = tracker.track(scaled).values
    np.testing.assert_allclose(values[:, :2], camera.bead_positions_px()[:, ::-1], atol=0.15)


def test_bad_setups_say_what_to_do(zlut):
    camera, _ = make_camera()
    rois = rois_for(camera)
    tracker = BeadTracker()
    with pytest.raises(RuntimeError, match="call BeadTracker.prepare"):
        tracker.track(np.zeros(SHAPE, np.uint16))
    with pytest.raises(ValueError, match="squares of one size"):
        tracker.prepare([rois[0], Roi("odd", 0, 0, 40, 40)], SHAPE)
    with pytest.raises(ValueError, match="leaves the 288x288 frame"):
        tracker.prepare([Roi("edge", 250, 0, 50, 50)], SHAPE)
    with pytest.raises(ValueError, match="at least one ROI"):
        tracker.prepare([], SHAPE)
    with pytest.raises(ValueError, match=r"reference beads \['nope'\]"):
        BeadTracker(reference=["nope"]).prepare(rois, SHAPE)
    with pytest.raises(ValueError, match="recorded with 50 px ROIs"):
        tracker.prepare(rois_for(camera, size=40), SHAPE, zlut)
    with pytest.raises(ValueError, match="no profiles for \\['other'\\]"):
        tracker.prepare([Roi("other", rois[0].y, rois[0].x, 50, 50)], SHAPE, zlut)
    with pytest.raises(ValueError, match="oversample must be"):
        BeadTracker(oversample=0)
    tracker.prepare(rois, SHAPE)
    with pytest.raises(ValueError, match="prepared for \\(288, 288\\)"):
        tracker.track(np.zeros((100, 100), np.uint16))
    tracker.close()


_NO_CACHE = r"""
from numba.core import caching
caching.CacheImpl._locator_classes = []  # as on a read-only install without a home cache
import numpy as np
from labkit.processing import Roi
from labkit.processing.tracking import BeadTracker
with BeadTracker() as tracker:
    tracker.prepare([Roi("b", 0, 0, 50, 50)], (64, 64))
    print(int(tracker.track(np.zeros((64, 64), np.uint16)).values[0, 3]))
"""


@pytest.mark.slow
def test_kernels_compile_where_numba_cannot_cache():
    out = subprocess.run([sys.executable, "-c", _NO_CACHE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(int(Quality.MISSING))  # a blank frame holds no bead
