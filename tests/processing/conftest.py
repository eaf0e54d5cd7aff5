"""The z table of the simulated tweezers sample, recorded once per session."""

from __future__ import annotations

import pytest
from tracking_sim import SHAPE, TABLE_Z_UM, make_camera, move, rois_for

from labkit.processing.tracking import ZLUT, ZLUTBuilder


@pytest.fixture(scope="session")
def zlut() -> ZLUT:
    camera, stage = make_camera()
    with ZLUTBuilder(rois_for(camera), SHAPE) as builder:
        for z in TABLE_Z_UM:
            move(stage, z=float(z))
            for _ in range(4):
                builder.add(camera.snap()[0], float(z))
        return builder.build()
