"""find_beads picks the simulated beads (ring patterns and fluorescent spots) and only them."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_sim import SHAPE, make_camera

from labkit.devices.sim import SimCamera, SimTweezersCamera
from labkit.processing import Roi
from labkit.processing.tracking import find_beads


def _centres(rois: list[Roi]) -> np.ndarray:
    return np.array([(r.y + (r.h - 1) / 2, r.x + (r.w - 1) / 2) for r in rois])


def _nearest(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.linalg.norm(found[:, None] - truth[None], axis=-1).min(axis=1)


def test_finds_every_ring_bead_centred_in_its_roi():
    camera, _ = make_camera()
    rois = find_beads(camera.snap()[0], roi_size=50)
    truth = camera.bead_positions_px()
    assert len(rois) == camera.n_beads == 9
    assert [r.name for r in rois] == [f"bead{i}" for i in range(9)]
    assert all(r.h == r.w == 50 for r in rois)
    assert _nearest(_centres(rois), truth).max() <= 0.75  # ROI centres on whole pixels
    centres = _centres(rois)
    assert np.all(np.diff(centres[:, 0]) >= -5)  # reading order, top to bottom


def test_finds_beads_on_a_big_frame_and_keeps_the_strongest():
    camera = SimTweezersCamera("camera", seed=3, sensor_shape=(1024, 1024), n_beads=40)
    frame = camera.snap()[0]
    rois = find_beads(frame, roi_size=64, prefix="b")
    assert len(rois) == 40 and rois[0].name == "b0"
    assert _nearest(_centres(rois), camera.bead_positions_px()).max() <= 0.75
    assert len(find_beads(frame, roi_size=64, max_beads=5)) == 5


def test_finds_fluorescent_spots():
    camera = SimCamera("camera", seed=6, sensor_shape=(256, 256), n_beads=4, diffusion_um2_s=0)
    truth = camera.bead_positions_px()
    spread = np.linalg.norm(truth[:, None] - truth[None], axis=-1) + np.eye(4) * 1e9
    assert spread.min() > 40 and np.all((truth > 20) & (truth < 236))  # isolated, inside
    rois = find_beads(camera.snap()[0], roi_size=24)
    assert len(rois) == 4
    assert _nearest(_centres(rois), truth).max() <= 0.75


def test_nothing_to_find_in_a_blank_frame_and_bad_frames_refused():
    blank = SimTweezersCamera("camera", seed=1, sensor_shape=SHAPE, n_beads=0).snap()[0]
    assert find_beads(blank) == []
    with pytest.raises(ValueError, match="2-D frame of at least 50"):
        find_beads(np.zeros((40, 40)))
    with pytest.raises(ValueError, match="2-D frame"):
        find_beads(np.zeros((3, 64, 64)))
