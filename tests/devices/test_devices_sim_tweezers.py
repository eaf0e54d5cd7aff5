"""SimTweezersCamera: ring beads whose pattern reads z one way only, with exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from labkit.devices import Camera
from labkit.devices.sim import SimStage, SimTweezersCamera, tweezers_devices
from labkit.devices.sim._tweezers import RING_DEFOCUS_UM, ring_pattern

SMALL = (288, 288)  # 3 × 3 bead cells


def _camera(**kw) -> SimTweezersCamera:
    kw.setdefault("sensor_shape", SMALL)
    return SimTweezersCamera("camera", **kw)


def _moved(stage: SimStage, **target: float) -> None:
    stage.move(**target)
    stage.wait(timeout_s=5)


def _crop(frame: np.ndarray, centre: np.ndarray, half: int = 24) -> np.ndarray:
    r, c = np.rint(centre).astype(int)
    return frame[r - half : r + half + 1, c - half : c + half + 1].astype(np.float64)


def test_camera_protocol_truth_and_layout():
    cam = _camera(seed=1)
    assert isinstance(cam, Camera)
    frame, meta = cam.snap()
    assert frame.shape == SMALL and frame.dtype == np.uint16 and meta["z_um"] == 0.0
    positions, z = cam.bead_positions_px(), cam.bead_z_um()
    assert cam.n_beads == 9 and positions.shape == (9, 2) and z.shape == (9,)
    gaps = np.linalg.norm(positions[:, None] - positions[None], axis=-1) + np.eye(9) * 1e9
    assert gaps.min() > 90  # rings of neighbours never overlap
    assert list(cam.reference_beads) == [0, 1]
    # each bead is drawn where and as the truth says: the frame is the model plus shot noise
    for centre, bead_z in zip(positions, z, strict=True):
        rows, cols = np.rint(centre).astype(int)
        y, x = np.mgrid[rows - 24 : rows + 25, cols - 24 : cols + 25]
        r2 = (((y - centre[0]) ** 2 + (x - centre[1]) ** 2) * 0.01).astype(np.float32)
        model = 1100 + 1000 * 0.5 * ring_pattern(r2, RING_DEFOCUS_UM + bead_z)
        residual = _crop(frame, centre) - model
        assert abs(residual.mean()) < 3 and residual.std() < 1.1 * np.sqrt(model.mean() - 100)
        assert model.std() > 3 * np.sqrt(1000)  # and the bead is far above that noise


def test_background_and_shot_noise_follow_the_photons():
    cam = _camera(seed=2, n_beads=0, background_e=1000.0)
    frame = cam.snap()[0].astype(np.float64)
    assert frame.mean() == pytest.approx(1100, abs=2)  # offset 100 + 1000 e⁻
    assert frame.std() == pytest.approx(np.sqrt(1000 + 1.6**2), rel=0.05)


@pytest.mark.parametrize("poisson", [False, True])
def test_bead_pixels_have_poisson_statistics(poisson):
    cam = _camera(seed=3, n_beads=1, tether_rms_nm=0.0, poisson=poisson)
    frames = np.stack([cam.snap()[0] for _ in range(40)]).astype(np.float64)
    crop = _crop_stack(frames, cam.bead_positions_px()[0])
    mean, var = crop.mean(axis=0), crop.var(axis=0, ddof=1)
    electrons = mean - 100
    assert electrons.min() < 800 and electrons.max() > 1300  # the rings modulate the light
    ratio = var.sum() / electrons.sum()
    assert ratio == pytest.approx(1.0, abs=0.08)


def _crop_stack(frames: np.ndarray, centre: np.ndarray, half: int = 20) -> np.ndarray:
    r, c = np.rint(centre).astype(int)
    return frames[:, r - half : r + half + 1, c - half : c + half + 1]


def test_rings_encode_z_monotonically_and_not_symmetrically():
    r2 = np.linspace(0, 6.0, 4000, dtype=np.float32)  # µm²
    first_dark = [
        float(np.sqrt(r2[np.argmax(ring_pattern(r2, RING_DEFOCUS_UM + z) < 0)]))
        for z in (-1.5, -0.5, 0.5, 1.5)
    ]
    assert np.all(np.diff(first_dark) > 0.05)  # the first ring spreads as z grows
    stage = SimStage("stage", speed_um_s=1e5)
    cam = _camera(seed=4, n_beads=1, tether_rms_nm=0.0, stage=stage)
    centre = cam.bead_positions_px()[0]
    crops = {}
    for z in (-1.0, 0.0, 1.0):
        _moved(stage, z=z)
        crops[z] = np.mean([_crop(cam.snap()[0], centre) for _ in range(4)], axis=0)
        assert cam.bead_z_um()[0] == pytest.approx(z + cam._height_um[0])
    noise = np.sqrt(1000 / 4)
    assert np.abs(crops[1.0] - crops[-1.0]).mean() > 4 * noise  # ±z look different
    assert np.abs(crops[0.0] - crops[1.0]).mean() > 2 * noise


def test_tethered_beads_fluctuate_references_stay_and_drift_moves_all():
    cam = _camera(seed=5, tether_rms_nm=50.0, frame_rate_hz=20)
    start, z0 = cam.bead_positions_px(), cam.bead_z_um()
    for _ in range(10):
        cam.snap()
    moved = np.linalg.norm(cam.bead_positions_px() - start, axis=1)
    refs = cam.reference_beads
    assert np.all(moved[refs] == 0) and np.all(cam.bead_z_um()[refs] == z0[refs])
    tethered = np.setdiff1d(np.arange(cam.n_beads), refs)
    assert np.all(moved[tethered] > 0) and moved[tethered].max() < 3.0  # 50 nm = 0.5 px rms
    drifting = _camera(seed=5, tether_rms_nm=0.0, diffusion_um2_s=1.0)
    before = drifting.bead_positions_px()
    drifting.snap()
    shift = drifting.bead_positions_px() - before
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-9)
    assert np.abs(shift[0]).max() > 0


def test_stage_pans_and_defocuses_with_exact_truth():
    stage = SimStage("stage", speed_um_s=1e5)
    cam = _camera(seed=6, tether_rms_nm=0.0, stage=stage)
    before, z_before = cam.bead_positions_px(), cam.bead_z_um()
    _moved(stage, x=0.25, y=-0.13, z=0.4)
    after = cam.bead_positions_px()
    np.testing.assert_allclose(after - before, np.broadcast_to([1.3, -2.5], after.shape), atol=1e-9)
    np.testing.assert_allclose(cam.bead_z_um() - z_before, 0.4, atol=1e-12)


def test_too_many_beads_and_bad_reference_count_say_what_to_do():
    with pytest.raises(ValueError, match=r"do not fit .*\(at most 9"):
        _camera(n_beads=10)
    with pytest.raises(ValueError, match="n_reference must be between 0 and n_beads"):
        _camera(n_beads=3, n_reference=4)


def test_tweezers_devices_link_camera_and_stage():
    devices = tweezers_devices(seed=1, shape=SMALL)
    try:
        assert isinstance(devices["camera"], SimTweezersCamera)
        assert devices["camera"].stage is devices["stage"]
        assert set(devices) == {"camera", "stage", "signal"}
    finally:
        for device in devices.values():
            device.close()
