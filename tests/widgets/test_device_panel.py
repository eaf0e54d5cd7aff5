"""DevicePanel in the kernel: rows chosen from describe(), edits, errors, sync, close."""

from __future__ import annotations

import pytest

from labkit.devices.sim import SimCamera, SimSignal, SimStage
from labkit.widgets import DevicePanel
from labkit.widgets._form import Form


@pytest.fixture
def camera():
    cam = SimCamera("camera", sensor_shape=(64, 64))
    yield cam
    cam.close()


def _rows(panel):
    return {r["name"]: r for r in panel.schema}


def test_rows_follow_property_kinds(camera):
    panel = DevicePanel(camera)
    try:
        rows = _rows(panel)
        assert (rows["exposure_ms"]["kind"], rows["exposure_ms"]["slider"]) == ("number", "log")
        assert (rows["focus_um"]["kind"], rows["focus_um"]["slider"]) == ("number", "linear")
        assert rows["binning"]["kind"] == "choice"
        assert rows["binning"]["options"] == [["1", 1], ["2", 2], ["4", 4]]
        assert (rows["roi"]["kind"], rows["roi"]["item"]) == ("tuple", "int")
        assert rows["shape"]["kind"] == "label"  # read-only
        assert rows["exposure_ms"]["units"] == "ms"
        assert "labkit-prop-exposure_ms" in rows["exposure_ms"]["cls"]
        assert rows["exposure_ms"]["description"] == "integration time per frame"
        assert panel.values["roi"] == [0, 0, 64, 64]
        assert "labkit-device-camera" in panel.css_class and isinstance(panel, Form)
    finally:
        panel.close()


def test_edit_sets_device_and_updates_read_only(camera):
    panel = DevicePanel(camera)
    try:
        assert panel.edit("exposure_ms", 25.0)
        assert camera.exposure_ms == 25.0 and panel.values["exposure_ms"] == 25.0
        assert panel.edit("binning", 2)
        assert camera.binning == 2
        assert panel.values["shape"] == [32, 32]
        assert panel.edit("roi", [0, 0, 32, 16])  # the browser sends a list
        assert tuple(camera.roi) == (0, 0, 32, 16)
        assert panel.errors == {}
    finally:
        panel.close()


def test_invalid_value_shows_error_and_leaves_device_unchanged(camera):
    panel = DevicePanel(camera)
    sent = []
    panel.send = lambda content, buffers=None: sent.append(content)  # what goes to the page
    try:
        assert not panel.edit("exposure_ms", 5000.0)
        assert camera.exposure_ms == 10.0
        assert panel.values["exposure_ms"] == 10.0  # the control shows the device's value again
        error = panel.errors["exposure_ms"]
        assert "above the limit" in error and "2000" in error
        assert sent[-1] == {
            "type": "applied",
            "name": "exposure_ms",
            "value": 10.0,
            "error": error,
        }
        assert not panel.edit("roi", ["a", "b"])  # text typed into the boxes
        assert "roi" in panel.errors and tuple(camera.roi) == (0, 0, 64, 64)
        assert not panel.edit("shape", [1, 1])  # read-only
        assert panel.edit("exposure_ms", 12.0)  # a valid edit clears the error
        assert "exposure_ms" not in panel.errors
        assert camera.exposure_ms == 12.0
        assert sent[-1]["error"] == "" and sent[-1]["value"] == 12.0
    finally:
        panel.close()


def test_browser_messages_go_through_the_same_path(camera):
    panel = DevicePanel(camera)
    try:
        panel._on_custom_msg(panel, {"type": "edit", "name": "gain", "value": 2}, [])
        assert camera.gain == 2.0
        panel._on_custom_msg(panel, {"type": "edit", "name": "nope", "value": 2}, [])
        panel._on_custom_msg(panel, {"type": "weird", "name": "gain"}, [])
        panel._on_custom_msg(panel, "garbage", [])
        assert camera.gain == 2.0 and panel.errors == {}
    finally:
        panel.close()


def test_panel_follows_changes_made_elsewhere_until_closed(camera):
    panel = DevicePanel(camera)
    camera.exposure_ms = 42.0
    assert panel.values["exposure_ms"] == 42.0
    panel.close()
    camera.exposure_ms = 43.0
    assert panel.values["exposure_ms"] == 42.0
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
        assert panel.values["z_um"] == 7.5
        panel.close()
        assert bus.subscribers == []


def test_include_exclude_and_unknown_names():
    with SimSignal("signal") as signal:
        panel = DevicePanel(signal, include=["sine_freq_hz", "noise_std"], exclude=["noise_std"])
        assert [r["name"] for r in panel.schema] == ["sine_freq_hz"]
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
        assert panel.edit("x_um", 3.0)
        assert stage.x_um == 3.0
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
        kinds = {r["name"]: r["kind"] for r in panel.schema}
        assert kinds == {"is_open": "bool", "label": "text", "count": "int", "mode": "choice"}
        assert panel.edit("is_open", True)
        assert panel.edit("label", "side")
        assert panel.edit("mode", "slow")
        assert (dev.is_open, dev.label, dev.mode) == (True, "side", "slow")
        assert not panel.edit("count", 11)
        assert dev.count == 1 and "above the limit" in panel.errors["count"]
        panel._apply_remote("mode", "turbo")  # a value the dropdown does not offer: ignored
        assert panel.values["mode"] == "slow"
        panel.close()


def test_form_rows_are_checked():
    with pytest.raises(ValueError, match="choose one of"):
        Form.row("slider3d", "x")
    with pytest.raises(ValueError, match="unknown row option"):
        Form.row("number", "x", lo=1)
    with pytest.raises(ValueError, match="unique"):
        Form([Form.row("bool", "a"), Form.row("text", "a")])
    form = Form([Form.row("buttons", "b", buttons=[{"name": "go", "label": "Go"}])])
    try:
        clicks = []
        form._on_click = lambda name: (clicks.append(name), 1 / 0)
        form.click("go")
        assert clicks == ["go"] and form.status[0] == "error" and "division" in form.status[1]
        form.set_disabled(go=True)
        form.click("go")  # a disabled button does nothing
        assert clicks == ["go"]
        with pytest.raises(ValueError, match="status level"):
            form.set_status("x", "fatal")
    finally:
        form.close()
