"""An MDA on Micro-Manager devices (pymmcore-plus's UniMMCore with Python device adapters):
channels through the config group, stage moves through the MM stage, the series on disk."""

from __future__ import annotations

import json

import pytest
import useq
import zarr

import labkit as lk
from labkit.testing import write_micromanager_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mm_config(tmp_path_factory):
    return write_micromanager_config(tmp_path_factory.mktemp("mm") / "rig.cfg")


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_mda_on_unimmcore_devices_writes_tpczyx(mm_config, tmp_path, mode):
    seq = useq.MDASequence(
        time_plan={"interval": 0, "loops": 2},
        z_plan={"range": 1, "step": 1},
        channels=["DAPI", "GFP"],  # the config group "Channel"
        stage_positions=[(0, 0, 0), (30, 10, 0)],
        axis_order="tpcz",
        metadata={"rig": "mm"},
    )
    factory = lk.devices.micromanager(mm_config, limits_um={"x": (-1000, 1000)})
    with lk.Scope(devices=factory, mode=mode) as scope:
        handle = scope.run_mda(seq, tmp_path / "mm", burst=False)
        final = handle.wait(120)
        assert final["state"] == "done" and final["frames_done"] == 16
        assert scope.devices["groups"].Channel == "GFP"  # the last channel's preset is applied
        assert scope.devices["Wheel"].label == "GFP"
        assert not scope.stage.is_moving()
    data = lk.open_series(handle.path)
    assert data.dims == ("t", "p", "c", "z", "y", "x")
    assert data.shape == (2, 2, 2, 2, 64, 80)
    assert list(data.c.values) == ["DAPI", "GFP"]
    assert data.attrs["sequence"]["metadata"] == {"rig": "mm"}
    image = zarr.open_group(str(handle.path / "1"), mode="r")
    assert image["0"].shape == (2, 2, 2, 64, 80)
    frames = json.loads((handle.path / "1" / "zarr.json").read_text())["attributes"]["ome_writers"][
        "frame_metadata"
    ]
    assert frames[0]["x_um"] == pytest.approx(30.0) and frames[0]["index"]["c"] == 0
