"""labkit's driver conformance kit on the Micro-Manager bridges, over pymmcore-plus's UniMMCore."""

from __future__ import annotations

from functools import partial

import pytest
from mm_helpers import only

from labkit.testing import (
    check_camera,
    check_device,
    check_shutter,
    check_stage,
    check_state_device,
)


@pytest.mark.parametrize(
    ("check", "name", "kwargs", "last_kind_check"),
    [
        (check_camera, "Camera", {}, "frames_match_after_settings"),
        (
            check_stage,
            "stage",
            {"limits_um": {"x": (-500, 500), "y": (-500, 500), "z": (-50, 50)}},
            "move_refused_whole",
        ),  # fmt: skip
        (check_state_device, "Wheel", {}, "state_positions"),
        (check_shutter, "Shutter", {}, "shutter_is_open"),
        (check_device, "Lamp", {}, "unknown_property_refused"),
        (check_device, "groups", {}, "unknown_property_refused"),
    ],
    ids=["camera", "stage", "state", "shutter", "lamp", "config_groups"],
)
def test_micromanager_devices_conform(mm_config, check, name, kwargs, last_kind_check):
    report = check(partial(only, mm_config, name, **kwargs))
    for passed in ("construct", "limits_enforced", "close_releases_threads", last_kind_check):
        assert passed in report
    assert report.passed[-2:] == ["runs_in_engine", "engine_releases_threads"]
    if name == "stage":  # the limits reached the kit: it checked a whole move is refused
        assert not [n for n in report.notes if "whole-move refusal not checked" in n]
