"""A simulated tweezers sample shared by the tracking tests (same beads for every camera made)."""

from __future__ import annotations

import numpy as np

from labkit.devices.sim import SimStage, SimTweezersCamera
from labkit.processing import Roi

SEED = 7
SHAPE = (288, 288)  # nine beads
ROI_SIZE = 50
TABLE_Z_UM = np.round(np.arange(-1.5, 1.5001, 0.05), 3)  # 50 nm steps


def make_camera(**values) -> tuple[SimTweezersCamera, SimStage]:
    """A fresh camera on a fast stage: the same beads (seed) every time, beads held still."""
    stage = SimStage("stage", speed_um_s=1e5)
    values.setdefault("tether_rms_nm", 0.0)
    return SimTweezersCamera("camera", seed=SEED, sensor_shape=SHAPE, stage=stage, **values), stage


def move(stage: SimStage, **target: float) -> None:
    stage.move(**target)
    stage.wait(timeout_s=5)


def rois_for(camera: SimTweezersCamera, size: int = ROI_SIZE) -> list[Roi]:
    """ROIs centred on the true bead positions (pixel centres at integers)."""
    origins = np.rint(camera.bead_positions_px() - (size - 1) / 2).astype(int)
    return [Roi(f"bead{i}", int(y), int(x), size, size) for i, (y, x) in enumerate(origins)]


def heights_um() -> np.ndarray:
    """Each bead's z offset from the stage z (what the table's z coordinates leave out)."""
    return make_camera()[0].bead_z_um()
