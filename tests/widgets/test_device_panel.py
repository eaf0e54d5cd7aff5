"""DevicePanel in the kernel: controls chosen from describe(), edits, errors, sync, close."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from labkit.devices.sim import SimCamera, SimSignal, SimStage
from labkit.widgets import DevicePanel


@pytest.fixture
def camera():
    cam = SimCamera("camera", sensor_shape=(64, 64))
    yield cam
    cam.close()


def _controls(panel, name):
    return panel.rows[name].controls


def test_controls_follow_property_kinds(camera):
    panel = DevicePanel(camera)
    try:
        kinds = {n: [type(c).__name__ for c in _controls(panel, n)] for n in panel.rows}
        assert kinds["exposure_ms"] == ["FloatLogSlider", "FloatText"]  # 0.01..2000 ms
        assert kinds["focus_um"] == ["FloatSlider", "FloatText"]
        assert kinds["binning"] == ["Dropdown"]
        assert kinds["roi"] == ["Text"]
        assert kinds["shape"] == ["Label"]  # read-only
        assert _controls(panel, "binning")[0].options == ((("1", 1), ("2", 2), ("4", 4)))
        units = panel.rows["exposure_ms"].box.children[-2]
        assert units.value == "ms"
    finally:
        panel.close()


def test_edit_sets_device_and_updates_read_only(camera):
    panel = DevicePanel(camera)
    try:
        _controls(panel, "exposure_ms")[1].value = 25.0
        assert camera.exposure_ms == 25.0
        assert _controls(panel, "exposure_ms")[0].value == pytest.approx(25.0)  # slider follows
        _controls(panel, "binning")[0].value = 2
        assert camera.binning == 2
        assert _controls(panel, "shape")[0].value == "32, 32"
        _controls(panel, "roi")[0].value = "0, 0, 32, 16"
        assert tuple(camera.roi) == (0, 0, 32, 16)
        assert panel.errors == {}
    finally:
        panel.close()


def test_invalid_value_shows_error_and_leaves_device_unchanged(camera):
    panel = DevicePanel(camera)
    try:
        box = _controls(panel, "exposure_ms")[1]
        box.value = 5000.0
        assert camera.exposure_ms == 10.0
        assert box.value == 10.0  # control shows the device's value again
        error = panel.rows["exposure_ms"].error.value
        assert "above the limit" in error and "2000" in error and "color: #c62828" in error
        assert "exposure_ms" in panel.errors
        _controls(panel, "roi")[0].value = "a, b"
        assert "numbers separated by commas" in panel.rows["roi"].error.value
        box.value = 12.0  # a valid edit clears the error
        assert panel.rows["exposure_ms"].error.value == ""
        assert camera.exposure_ms == 12.0
    finally:
        panel.close()


def test_panel_follows_changes_made_elsewhere_until_closed(camera):
    panel = DevicePanel(camera)
    camera.exposure_ms = 42.0
    assert _controls(panel, "exposure_ms")[1].value == 42.0
    panel.close()
    camera.exposure_ms = 43.0
    assert _controls(panel, "exposure_ms")[1].value == 42.0
    assert camera._listeners == []


def test_events_source_drives_updates():
    class Bus:
        def __init__(self):
            self.subscribers = []

        def subscribe(self, fn):
            self.subscribers.append(fn)

        def unsubscribe(self, fn):
            self.subscribers.remove(fn)

    class Event:
        def __init__(self, topic, payload):
            self.topic, self.payload = topic, payload

    bus = Bus()
    with SimStage("stage") as stage:
        panel = DevicePanel(stage, events=bus)
        for fn in bus.subscribers:
            fn(Event("property", {"device": "stage", "name": "z_um", "value": 7.5}))
            fn(Event("property", {"device": "other", "name": "z_um", "value": 1.0}))
        assert _controls(panel, "z_um")[1].value == 7.5
        panel.close()
        assert bus.subscribers == []


def test_include_exclude_and_unknown_names():
    with SimSignal("signal") as signal:
        panel = DevicePanel(signal, include=["sine_freq_hz", "noise_std"], exclude=["noise_std"])
        assert list(panel.rows) == ["sine_freq_hz"]
        panel.close()
        with pytest.raises(ValueError, match="choose from"):
            DevicePanel(signal, include=["nope"])


def test_attribute_only_proxy_is_supported():
    class Proxy:  # what an engine proxy without get/set looks like
        def __init__(self, dev):
            object.__setattr__(self, "_dev", dev)

        def describe(self):
            return self._dev.describe()

        def __getattr__(self, name):
            return getattr(self._dev, name)

        def __setattr__(self, name, value):
            setattr(self._dev, name, value)

    with SimStage("stage") as stage:
        proxy = Proxy(stage)
        panel = DevicePanel(proxy)
        _controls(panel, "x_um")[1].value = 3.0
        assert stage.x_um == 3.0
        assert isinstance(panel, widgets.VBox)
        panel.close()


def test_bool_str_int_controls_and_odd_event_values():
    from labkit.devices import Device, prop

    class Shutter(Device):
        kind = "shutter"
        is_open = prop(bool, default=False, description="light path open")
        label = prop(str, default="main")
        count = prop(int, low=0, high=10, default=1)
        mode = prop(str, allowed=("fast", "slow"), default="fast")

    with Shutter("shutter") as dev:
        panel = DevicePanel(dev)
        kinds = {n: type(panel.rows[n].controls[0]).__name__ for n in panel.rows}
        assert kinds == {
            "is_open": "Checkbox",
            "label": "Text",
            "count": "IntText",
            "mode": "Dropdown",
        }
        panel.rows["is_open"].controls[0].value = True
        panel.rows["label"].controls[0].value = "side"
        panel.rows["mode"].controls[0].value = "slow"
        assert (dev.is_open, dev.label, dev.mode) == (True, "side", "slow")
        panel.rows["count"].controls[0].value = 11
        assert dev.count == 1 and "above the limit" in panel.errors["count"]
        panel._apply_remote(
            "mode", "turbo"
        )  # a value the dropdown does not offer: ignored, no crash
        assert panel.rows["mode"].controls[0].value == "slow"
        panel.close()
