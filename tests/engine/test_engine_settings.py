"""``scope.settings``: save a scope's settings to YAML, load them back, build a scope from a file;
every bad key or value is refused naming the key and what is accepted, and changes nothing."""

from __future__ import annotations

import pytest
import yaml
from engine_helpers import SHAPE

import labkit as lk
from labkit.engine import SettingsError
from labkit.engine._settings_file import parse_settings

ROIS = [{"name": "spot", "x": 0, "y": 0, "w": 8, "h": 8}]


@pytest.fixture
def rig():
    with lk.Scope(devices="labkit.devices.sim:rig_devices", shape=SHAPE, ring_slots=8) as scope:
        yield scope


def _write(path, data) -> str:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def test_save_then_load_restores_devices_spool_and_nodes(rig, tmp_path):
    labels = rig.devices["filters"].property_specs()["label"].allowed
    rig.camera.exposure_ms = 7.5
    rig.camera.binning = 2
    rig.devices["filters"].label = labels[2]
    rig.devices["shutter"].is_open = True
    rig.spool.update_settings(method="tiff", compression=None, max_frames=25)
    rig.spool.series_pattern = "cells_%(day)d"
    rig.nodes.add("roi_stats", rois=ROIS, name="spots")
    rig.stage.x_um = 12.0  # where the sample sits: not a setting
    path = rig.settings.save(tmp_path / "rig.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["labkit"] == 1
    assert data["devices"] == {"factory": "sim-rig"}
    assert data["engine"] == {"mode": "thread", "ring_slots": 8, "seed": 0, "shape": list(SHAPE)}
    assert data["properties"]["camera"]["exposure_ms"] == 7.5
    assert data["properties"]["filters"]["label"] == labels[2]
    assert "position" not in data["properties"]["filters"]  # the label says it
    assert "x_um" not in data["properties"]["stage"]
    assert "shape" not in data["properties"]["camera"]  # read-only values are not settings
    assert data["spool"]["method"] == "tiff" and data["spool"]["series_pattern"] == "cells_%(day)d"
    assert data["nodes"]["spots"] == {
        "node": "roi_stats", "input": "camera", "mode": "thread", "params": {"rois": ROIS},
    }  # fmt: skip

    rig.camera.exposure_ms = 30.0
    rig.camera.binning = 1
    rig.devices["filters"].position = 0
    rig.devices["shutter"].is_open = False
    rig.spool.update_settings(method="zarr", max_frames=None)
    rig.nodes.remove("spots")
    rig.settings.load(path)
    assert (rig.camera.exposure_ms, rig.camera.binning) == (7.5, 2)
    assert rig.devices["filters"].position == 2 and rig.devices["shutter"].is_open
    assert rig.spool.get_settings()["method"] == "tiff"
    assert rig.spool.get_settings()["max_frames"] == 25
    assert "spots" in rig.nodes.describe()
    assert rig.settings.to_dict() == data  # nothing lost on the way


def test_scope_from_a_config_file(tmp_path):
    config = _write(tmp_path / "rig.yaml", {
        "labkit": 1,
        "engine": {"mode": "process", "ring_slots": 8, "shape": [48, 64]},
        "devices": {"factory": "sim"},
        "properties": {"camera": {"exposure_ms": 4.0}},
        "nodes": {"spots": {"node": "roi_stats", "params": {"rois": ROIS}}},
    })  # fmt: skip
    with lk.Scope(config=config) as scope:
        assert scope.mode == "process"
        assert scope.camera.shape == (48, 64)
        assert scope.camera.exposure_ms == 4.0
        assert scope.nodes.describe()["spots"]["kind"] == "roi_stats"
    with lk.Scope(config=config, mode="thread", shape=(32, 40)) as scope:  # arguments win
        assert (scope.mode, scope.camera.shape) == ("thread", (32, 40))


@pytest.mark.parametrize(
    ("data", "key", "accepted"),
    [
        ({"labkit": 1, "camra": {}}, "camra", "accepted keys: labkit, engine, devices"),
        ({"engine": {}}, "labkit", "labkit: 1"),
        ({"labkit": 2}, "labkit", "it reads 1"),
        ({"labkit": 1, "engine": {"mode": "fast"}}, "engine.mode", "thread, process"),
        ({"labkit": 1, "engine": {"slots": 4}}, "engine.slots", "mode, ring_slots, seed, shape"),
        ({"labkit": 1, "engine": {"shape": [64]}}, "engine.shape", "[height, width]"),
        ({"labkit": 1, "devices": {"factory": "mm"}}, "devices.factory", "sim, sim-rig, micro"),
        ({"labkit": 1, "devices": {"factory": "sim", "args": {}}}, "devices.args", "factory, kw"),
        (
            {"labkit": 1, "nodes": {"n": {"node": "roi_stats", "inputs": "c"}}},
            "nodes.n.inputs",
            "node, input, mode, params",
        ),  # fmt: skip
        ({"labkit": 1, "spool": {"protocol": {}}}, "spool.protocol", "set it in code"),
    ],
)
def test_a_bad_file_names_the_key_and_what_is_accepted(data, key, accepted):
    with pytest.raises(SettingsError, match="accepted|choose|give|start|reads|set it") as caught:
        parse_settings(data, "rig.yaml")
    assert caught.value.key == key
    assert f"rig.yaml: {key}: " in str(caught.value)
    assert accepted in str(caught.value)


@pytest.mark.parametrize(
    ("properties", "key", "accepted"),
    [
        ({"camra": {"gain": 1}}, "properties.camra", "devices: camera, stage"),
        ({"camera": {"exposre_ms": 1}}, "properties.camera.exposre_ms", "exposure_ms"),
        ({"camera": {"binning": 3}}, "properties.camera.binning", "1, 2, 4"),
        ({"camera": {"shape": [8, 8]}}, "properties.camera.shape", "read-only"),
        ({"filters": {"label": "Texas Red"}}, "properties.filters.label", "choose one of"),
    ],
)
def test_a_bad_property_names_it_and_changes_nothing(rig, tmp_path, properties, key, accepted):
    rig.camera.exposure_ms = 11.0
    config = _write(tmp_path / "bad.yaml", {
        "labkit": 1, "properties": {"camera": {"exposure_ms": 3.0}, **properties},
    })  # fmt: skip
    with pytest.raises(SettingsError, match=accepted) as caught:
        rig.settings.load(config)
    assert caught.value.key == key
    assert rig.camera.exposure_ms == 11.0  # the good value before it was not applied either


def test_a_bad_spool_setting_names_it(rig):
    with pytest.raises(SettingsError, match="spool.*zarr") as caught:
        rig.settings.apply({"labkit": 1, "spool": {"method": "floppy"}})
    assert caught.value.key == "spool"
    with pytest.raises(SettingsError, match="spool.series_pattern: give a path pattern"):
        rig.settings.apply({"labkit": 1, "spool": {"series_pattern": 5}})


def test_a_file_that_is_not_yaml_or_not_there(tmp_path, rig):
    broken = tmp_path / "broken.yaml"
    broken.write_text("labkit: 1\nproperties: {camera: [\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        rig.settings.load(broken)
    with pytest.raises(FileNotFoundError):
        rig.settings.load(tmp_path / "missing.yaml")
    with pytest.raises(SettingsError, match="not valid YAML"):
        lk.Scope(config=broken)  # refused before an engine starts


def test_settings_errors_cross_from_a_process_engine(tmp_path):
    config = _write(tmp_path / "rig.yaml", {
        "labkit": 1, "engine": {"mode": "process", "shape": [32, 40]},
        "nodes": {"spots": {"node": "no_such_node"}},
    })  # fmt: skip
    with pytest.raises(SettingsError, match="nodes.spots"):
        lk.Scope(config=config)


def test_bead_rois_are_saved_and_loaded_with_the_settings(rig, tmp_path):
    beads = [{"name": "bead0", "y": 4, "x": 6, "h": 16, "w": 16},
             {"name": "ref", "y": 30, "x": 40, "h": 16, "w": 16}]  # fmt: skip
    rig.tracking.rois = beads
    path = rig.settings.save(tmp_path / "beads.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["tracking"] == {"rois": rig.tracking.rois}
    assert [r["name"] for r in data["tracking"]["rois"]] == ["bead0", "ref"]
    rig.tracking.rois = []
    rig.settings.load(path)
    assert [(r["name"], r["y"], r["x"]) for r in rig.tracking.rois] == [
        ("bead0", 4, 6), ("ref", 30, 40),
    ]  # fmt: skip
    # a scope without bead ROIs writes no tracking section, and loading such a file keeps the
    # scope's own ROIs
    rig.tracking.rois = []
    assert "tracking" not in yaml.safe_load(rig.settings.save(tmp_path / "none.yaml").read_text())
    rig.tracking.rois = beads[:1]
    rig.settings.load(tmp_path / "none.yaml")
    assert [r["name"] for r in rig.tracking.rois] == ["bead0"]


@pytest.mark.parametrize(
    ("tracking", "key", "says"),
    [
        ({"roi": []}, "tracking.roi", "accepted keys: rois"),
        ({"rois": {"bead0": 1}}, "tracking.rois", "give a list"),
        ({"rois": [{"name": "b", "y": 1, "x": 1, "h": 8}]}, "tracking.rois[0]", "missing w"),
        ({"rois": [{"name": "b", "y": 1, "x": 1, "h": 8, "w": 8, "z": 0}]}, "tracking.rois[0].z",
         "accepted keys: name, y, x, h, w"),
    ],
)  # fmt: skip
def test_bad_tracking_sections_name_the_key(tracking, key, says):
    with pytest.raises(SettingsError, match=says) as info:
        parse_settings({"labkit": 1, "tracking": tracking})
    assert info.value.key == key


def test_bead_rois_the_scope_refuses_name_the_key(rig, tmp_path):
    rois = [{"name": "b", "y": 1, "x": 1, "h": 8, "w": 8}] * 2  # the same name twice
    path = _write(tmp_path / "twice.yaml", {"labkit": 1, "tracking": {"rois": rois}})
    with pytest.raises(SettingsError, match="tracking.rois") as info:
        rig.settings.load(path)
    assert info.value.key == "tracking.rois"
