"""The Micro-Manager bridges against real CMMCorePlus calls (UniMMCore with Python devices): what
each Micro-Manager property becomes, state devices, shutters, configuration groups, the stage, the
camera's settings, and Micro-Manager's own changes reaching labkit listeners."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import labkit as lk
from labkit.devices import (
    DeviceFactory,
    PropertyLimitError,
    PropertyReadOnlyError,
    PropertyValueError,
    UnknownPropertyError,
)
from labkit.devices.micromanager import (
    MMCamera,
    MMConfigGroups,
    MMDevice,
    MMShutter,
    MMStage,
    MMStateDevice,
    from_core,
)
from labkit.devices.micromanager._core import load_core
from labkit.testing import wait_until


class Heard:
    """A device listener: every (device, property, value) it was told, from any thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, device: str, name: str, value: object) -> None:
        with self.lock:
            self.calls.append((device, name, value))

    def of(self, name: str) -> list[object]:
        with self.lock:
            return [v for _, n, v in self.calls if n == name]


def test_the_rig_becomes_labkit_devices_of_each_kind(mm_devices):
    kinds = {name: type(dev) for name, dev in mm_devices.items()}
    assert kinds == {
        "groups": MMConfigGroups, "Camera": MMCamera, "stage": MMStage, "Camera2": MMDevice,
        "XY": MMDevice, "Z": MMDevice, "Wheel": MMStateDevice, "Shutter": MMShutter,
        "Lamp": MMDevice,
    }  # fmt: skip
    assert mm_devices["groups"].kind == "config_groups"
    assert mm_devices["XY"].property_specs()["Speed"].high == 100_000.0  # the stage's own settings


def test_every_micromanager_property_kind_maps_to_a_labkit_spec(mm_devices):
    specs = mm_devices["Lamp"].property_specs()
    power, level, mode = specs["Power"], specs["Level"], specs["Mode"]
    assert (power.kind, power.low, power.high, power.readonly) == ("float", 0.0, 100.0, False)
    assert (level.kind, level.low, level.high) == ("int", 0.0, 10.0)
    assert (mode.kind, mode.item_kind, mode.allowed) == ("enum", "str", ("low", "high"))
    assert specs["Enabled"].kind == "bool"
    assert specs["Temperature"].readonly and specs["Temperature"].kind == "float"
    assert specs["Port"].readonly and "pre-init" in specs["Port"].description
    lamp = mm_devices["Lamp"]
    assert (lamp.get("Power"), lamp.get("Level"), lamp.get("Enabled")) == (5.0, 3, False)
    lamp.set("Power", 42.5)
    lamp.set("Enabled", True)
    core = lamp.core
    assert float(core.getProperty("Lamp", "Power")) == 42.5  # it reached Micro-Manager
    assert lamp.get("Enabled") is True


def test_bad_values_are_refused_before_micromanager_sees_them(mm_devices):
    lamp = mm_devices["Lamp"]
    with pytest.raises(PropertyLimitError, match=r"100"):
        lamp.set("Power", 250.0)
    with pytest.raises(PropertyValueError, match=r"'low'.*'high'|low, high"):
        lamp.set("Mode", "blinding")
    with pytest.raises(PropertyReadOnlyError):
        lamp.set("Temperature", 30.0)
    with pytest.raises(PropertyReadOnlyError):
        lamp.set("Port", "COM2")
    with pytest.raises(UnknownPropertyError, match="Power"):
        lamp.set("Powr", 1.0)
    assert float(lamp.core.getProperty("Lamp", "Power")) == 5.0


def test_changes_made_in_micromanager_reach_labkit_listeners(mm_devices):
    lamp, heard = mm_devices["Lamp"], Heard()
    lamp.add_listener(heard)
    lamp.core.setProperty("Lamp", "Level", 7)  # another client of the same core
    wait_until(lambda: heard.of("Level") == [7], what="the Level change relayed")
    lamp.set("Level", 2)  # labkit's own change is told once (no echo from Micro-Manager)
    lamp.core.setProperty("Lamp", "Mode", "high")
    wait_until(lambda: heard.of("Mode") == ["high"], what="a later change relayed")
    assert heard.of("Level") == [7, 2]


def test_state_device_moves_by_position_and_label(mm_devices):
    wheel, heard = mm_devices["Wheel"], Heard()
    wheel.add_listener(heard)
    assert wheel.labels == ("DAPI", "GFP", "RFP", "Cy5")
    wheel.set("label", "RFP")
    assert (wheel.get("position"), wheel.core.getState("Wheel")) == (2, 2)
    wheel.set("position", 3)
    assert wheel.get("label") == "Cy5"
    with pytest.raises(PropertyValueError, match="DAPI"):
        wheel.set("label", "Texas Red")
    wheel.core.setState("Wheel", 1)  # moved in Micro-Manager
    wait_until(lambda: "GFP" in heard.of("label"), what="the wheel's label relayed")
    assert wheel.get("position") == 1


def test_shutter_opens_through_the_core(mm_devices):
    shutter = mm_devices["Shutter"]
    shutter.set("is_open", True)
    assert shutter.core.getShutterOpen("Shutter") is True
    shutter.set("is_open", False)
    assert shutter.core.getShutterOpen("Shutter") is False
    assert "State" not in shutter.property_specs()  # is_open is the same thing


def test_config_groups_are_one_enum_property_each(mm_devices):
    groups, wheel, lamp = mm_devices["groups"], mm_devices["Wheel"], mm_devices["Lamp"]
    heard = Heard()
    wheel.add_listener(heard)
    spec = groups.property_specs()["Channel"]
    assert (spec.kind, spec.allowed) == ("enum", ("", "DAPI", "GFP"))
    groups.set("Channel", "GFP")
    assert (wheel.get("label"), lamp.get("Mode")) == ("GFP", "high")
    wait_until(lambda: "GFP" in heard.of("label"), what="the preset's wheel move relayed")
    with pytest.raises(PropertyValueError, match="'DAPI', 'GFP'"):
        groups.set("Channel", "")  # '' is what it reads when no preset matches, not a preset
    lamp.set("Mode", "low")  # now the devices match no preset of Channel
    assert groups.get("Channel") == ""
    groups.set("Channel", "")  # a settings file saved in this state loads again
    with pytest.raises(PropertyValueError, match="DAPI"):
        groups.set("Channel", "YFP")


def test_a_preset_set_in_micromanager_reaches_the_groups_listeners(mm_devices):
    groups, heard = mm_devices["groups"], Heard()
    groups.add_listener(heard)
    groups.core.setConfig("Channel", "DAPI")
    wait_until(lambda: heard.of("Channel") == ["DAPI"], what="the preset relayed")


def test_stage_moves_xy_and_focus_and_follows_micromanager(mm_devices):
    stage, heard = mm_devices["stage"], Heard()
    stage.add_listener(heard)
    stage.move(x=100.0, y=-20.0, z=5.0)
    stage.wait(timeout_s=10)
    assert stage.position() == pytest.approx((100.0, -20.0, 5.0))
    assert tuple(stage.core.getXYPosition()) == pytest.approx((100.0, -20.0))
    with pytest.raises(PropertyLimitError, match="5000"):
        stage.move(x=9000.0, z=1.0)  # refused whole: z stays
    assert stage.targets()[2] == 5.0
    stage.core.setXYPosition(30.0, 40.0)  # moved by Micro-Manager (an MDA, a joystick)
    wait_until(lambda: stage.targets()[:2] == (30.0, 40.0), what="the XY target followed")
    assert 30.0 in heard.of("x_um")


def test_stage_stop_halts_a_slow_move(mm_devices):
    stage = mm_devices["stage"]
    mm_devices["XY"].set("Speed", 1.0)  # 1 µm/s: a move of minutes
    stage.move(x=1000.0)
    assert stage.is_moving()
    x, _, _ = stage.stop()
    assert not stage.is_moving()
    assert x < 1000.0 and stage.targets()[0] == x


def test_camera_settings_go_through_micromanager(mm_devices):
    camera = mm_devices["Camera"]
    assert (camera.get("shape"), camera.get("dtype"), camera.get("bit_depth")) == (
        (64, 80), "uint16", 16,
    )  # fmt: skip
    assert camera.property_specs()["binning"].allowed == (1, 2, 4)
    assert camera.property_specs()["exposure_ms"].high == 2000.0
    camera.set("exposure_ms", 2.0)
    assert camera.core.getExposure() == 2.0
    camera.set("binning", 2)
    assert camera.get("shape") == (32, 40)
    assert camera.get("roi") == (0, 0, 40, 32)
    camera.set("roi", (4, 2, 16, 8))
    frame, meta = camera.snap()
    assert frame.shape == (8, 16) and frame.dtype == np.uint16
    assert meta["exposure_ms"] == 2.0
    with pytest.raises(PropertyLimitError, match="40×32"):
        camera.set("roi", (30, 0, 16, 8))
    camera.set("PixelType", "8bit")
    assert camera.snap()[0].dtype == np.uint8


def test_camera_streams_from_the_sequence_buffer_into_the_slot(mm_devices):
    camera = mm_devices["Camera"]
    camera.set("exposure_ms", 1.0)
    camera.set("frame_rate_hz", 1000.0)
    out = np.zeros(camera.get("shape"), camera.get("dtype"))
    camera.start_streaming()
    try:
        assert camera.core.isSequenceRunning()
        assert camera._buffer is not None  # UniMMCore's buffer pops straight into the slot
        counts = []
        for _ in range(20):
            camera.render_into(out)
            counts.append(int(out[0, 0]))
    finally:
        camera.stop_streaming()
    assert not camera.core.isSequenceRunning()
    gaps = np.diff(counts)
    assert (gaps >= 1).all()  # in order, never twice the same frame
    assert int(gaps.sum()) - len(gaps) <= camera.get("frames_skipped")  # every gap counted


def test_a_core_passed_in_stays_loaded_after_its_devices_close(mm_config):
    core = load_core(mm_config)
    try:
        devices = from_core(core)
        devices["Lamp"].set("Power", 9.0)
        for device in devices.values():
            device.close()
        assert "Lamp" in core.getLoadedDevices()
        assert float(core.getProperty("Lamp", "Power")) == 9.0
        factory = lk.devices.micromanager(core)
        again = factory(seed=0, shape=(1, 1))
        assert set(again) == set(devices)
        for device in again.values():
            device.close()
    finally:
        core.unloadAllDevices()


def test_closing_the_last_device_unloads_a_core_labkit_loaded(mm_devices):
    core = mm_devices["Lamp"].core
    for device in mm_devices.values():
        device.close()
    assert list(core.getLoadedDevices()) == ["Core"]


def test_micromanager_factory_and_its_errors(mm_config, tmp_path):
    factory = lk.devices.micromanager(mm_config, pixel_size_um=0.65, limits_um={"z": (0, 50)})
    assert isinstance(factory, DeviceFactory)
    assert factory.kwargs == {
        "config": str(mm_config.resolve()), "pixel_size_um": 0.65, "limits_um": {"z": [0.0, 50.0]},
    }  # fmt: skip
    with pytest.raises(FileNotFoundError, match="cfg file"):
        lk.devices.micromanager(tmp_path / "missing.cfg")
    with pytest.raises(TypeError, match="config file path or a loaded CMMCorePlus"):
        lk.devices.micromanager(42)
    bad = tmp_path / "bad.cfg"
    bad.write_text("#py pyDevice,Cam,no_such_module_here,Camera\nProperty,Core,Initialize,1\n")
    with pytest.raises(RuntimeError, match="could not load"):
        factory = lk.devices.micromanager(bad)
        factory(seed=0, shape=(1, 1))


def test_labels_that_clash_with_labkit_names_are_refused(tmp_path):
    config = tmp_path / "clash.cfg"
    config.write_text(
        "#py pyDevice,stage,labkit.testing._micromanager,SimMMFocus\nProperty,Core,Initialize,1\n"
    )
    with pytest.raises(ValueError, match="rename them in the config file"):
        lk.devices.micromanager(config)(seed=0, shape=(1, 1))
