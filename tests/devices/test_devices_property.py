"""Device / prop / PropertySpec: validation, errors, listeners, describe()."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.devices import (
    Device,
    PropertyError,
    PropertyLimitError,
    PropertyReadOnlyError,
    PropertySpec,
    PropertyValueError,
    UnknownPropertyError,
    prop,
)


class Widget(Device):
    kind = "widget"

    exposure_ms = prop(float, units="ms", low=0.01, high=2000, default=10.0, description="exposure")
    count = prop(int, low=0, high=100, default=3)
    enabled = prop(bool, default=False)
    label_text = prop(str, default="hello")
    binning = prop(int, allowed=(1, 2, 4), default=1)
    mode = prop(str, allowed=("fast", "slow"), default="fast")
    roi = prop(tuple[int, int, int, int], units="px", low=0, high=100, default=(0, 0, 10, 10))

    @prop(float, readonly=True, units="µm")
    def pixel_size_um(self) -> float:
        """pixel size"""
        return 0.1 * self.binning


class SubWidget(Widget):
    gain = prop(float, low=0, high=10, default=1.0)


@pytest.fixture
def widget():
    dev = Widget("w1")
    yield dev
    dev.close()


def test_defaults_and_descriptor_access(widget):
    assert widget.exposure_ms == 10.0
    assert widget.get("count") == 3
    assert widget.roi == (0, 0, 10, 10)
    assert widget.pixel_size_um == pytest.approx(0.1)
    widget.binning = 4
    assert widget.pixel_size_um == pytest.approx(0.4)
    assert list(widget.property_specs()) == [
        "exposure_ms",
        "count",
        "enabled",
        "label_text",
        "binning",
        "mode",
        "roi",
        "pixel_size_um",
    ]


def test_subclass_inherits_properties():
    dev = SubWidget("sub", gain=2.5, count=7)
    assert dev.gain == 2.5 and dev.count == 7
    assert "exposure_ms" in dev.property_specs() and "gain" in dev.property_specs()
    assert "gain" not in Widget("plain").property_specs()


def test_limit_error_names_device_property_value_limit_units(widget):
    with pytest.raises(PropertyLimitError) as info:
        widget.exposure_ms = 5000
    msg = str(info.value)
    assert "exposure_ms=5000" in msg
    assert "above the limit 2000 ms" in msg
    assert "Widget 'w1'" in msg
    assert "choose a value in [0.01, 2000] ms" in msg
    assert info.value.prop_name == "exposure_ms" and info.value.value == 5000
    assert isinstance(info.value, PropertyError) and isinstance(info.value, ValueError)
    assert widget.exposure_ms == 10.0
    with pytest.raises(PropertyLimitError, match="below the limit 0.01 ms"):
        widget.set("exposure_ms", 0.001)
    assert widget.exposure_ms == 10.0


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("exposure_ms", "10", "must be a number"),
        ("exposure_ms", float("nan"), "not a finite number"),
        ("exposure_ms", True, "must be a number"),
        ("count", 2.5, "whole number"),
        ("enabled", 1, "True or False"),
        ("label_text", 3, "must be a string"),
        ("binning", 3, "choose one of 1, 2, 4"),
        ("mode", "medium", "choose one of 'fast', 'slow'"),
        ("roi", (0, 0, 1), "has 3 values, needs 4"),
        ("roi", 5, "must be a tuple"),
        ("roi", (0, 0, 1.5, 2), "whole number"),
    ],
)
def test_value_errors_leave_value_unchanged(widget, name, value, fragment):
    before = widget.get(name)
    with pytest.raises(PropertyValueError, match=fragment) as info:
        widget.set(name, value)
    assert name in str(info.value) and "Widget 'w1'" in str(info.value)
    assert widget.get(name) == before


def test_tuple_elements_checked_against_limits(widget):
    with pytest.raises(PropertyLimitError, match=r"above the limit 100 px.*\[0, 100\] px"):
        widget.roi = (0, 0, 500, 10)
    assert widget.roi == (0, 0, 10, 10)
    widget.roi = [1, 2, 3.0, np.int64(4)]
    assert widget.roi == (1, 2, 3, 4) and all(type(v) is int for v in widget.roi)


def test_readonly_and_unknown(widget):
    with pytest.raises(PropertyReadOnlyError, match="read-only"):
        widget.pixel_size_um = 3.0
    with pytest.raises(UnknownPropertyError, match="no property 'nope'; choose one of exposure_ms"):
        widget.set("nope", 1)
    with pytest.raises(UnknownPropertyError):
        widget.get("nope")


def test_lossless_coercion(widget):
    widget.count = 5.0
    assert widget.count == 5 and type(widget.count) is int
    widget.exposure_ms = np.int32(7)
    assert widget.exposure_ms == 7.0 and type(widget.exposure_ms) is float
    widget.binning = 2.0
    assert widget.binning == 2 and type(widget.binning) is int
    widget.enabled = np.bool_(True)
    assert widget.enabled is True


def test_spec_validate_standalone_and_json():
    spec = PropertySpec("z_um", "float", units="µm", low=-500, high=500, default=0.0)
    assert spec.validate(3) == 3.0
    with pytest.raises(PropertyLimitError, match=r"z_um=600 is above the limit 500 µm; choose"):
        spec.validate(600)
    with pytest.raises(ValueError, match="kind must be one of"):
        PropertySpec("x", "complex")
    data = json.loads(json.dumps(spec.to_json()))
    assert data["low"] == -500 and data["units"] == "µm" and data["kind"] == "float"


def test_spec_json_round_trip(widget):
    for spec in widget.property_specs().values():
        again = PropertySpec.from_json(json.loads(json.dumps(spec.to_json())))
        assert again == spec
    roi = PropertySpec.from_json(widget.property_specs()["roi"].to_json())
    with pytest.raises(PropertyLimitError):
        roi.validate((0, 0, 500, 1))


def test_describe_is_json_serialisable(widget):
    text = json.dumps(widget.describe())
    data = json.loads(text)
    assert data["name"] == "w1" and data["kind"] == "widget" and data["type"] == "Widget"
    assert data["values"]["roi"] == [0, 0, 10, 10]
    assert data["properties"]["binning"]["kind"] == "enum"
    assert data["properties"]["binning"]["allowed"] == [1, 2, 4]
    assert data["properties"]["pixel_size_um"]["readonly"] is True
    assert data["properties"]["pixel_size_um"]["description"] == "pixel size"
    assert data["properties"]["roi"]["length"] == 4


def test_listeners_called_after_successful_set_only(widget):
    calls = []

    def listener(device_name, prop_name, value):
        calls.append((device_name, prop_name, value, widget.get(prop_name)))

    widget.add_listener(listener)
    widget.exposure_ms = 20
    with pytest.raises(PropertyLimitError):
        widget.exposure_ms = 1e9
    assert calls == [("w1", "exposure_ms", 20.0, 20.0)]  # value already stored when called
    widget.remove_listener(listener)
    widget.exposure_ms = 30
    assert len(calls) == 1


def test_broken_listener_does_not_break_set(widget, caplog):
    def broken(*_):
        raise RuntimeError("boom")

    seen = []
    widget.add_listener(broken)
    widget.add_listener(lambda *a: seen.append(a))
    widget.count = 9
    assert widget.count == 9 and seen == [("w1", "count", 9)]
    assert "boom" in caplog.text


def test_bad_initial_value_raises():
    with pytest.raises(PropertyLimitError, match="count=1000"):
        Widget("bad", count=1000)
    with pytest.raises(ValueError, match="non-empty string"):
        Widget("")


class TwoHalves(Device):
    """A device whose setter writes its state in two steps, like a register written in halves."""

    kind = "pair"
    value = prop(int, low=0, high=1_000_000, default=0)

    def __init__(self, name: str) -> None:
        self.lo = self.hi = 0
        super().__init__(name)

    def _apply(self, name, value):
        self.lo = value
        time.sleep(0)  # let other threads run between the halves, as a slow register write does
        self.hi = value

    @prop(tuple[int, int], readonly=True)
    def halves(self):
        return (self.lo, self.hi)


def _hammer(dev: TwoHalves, enough) -> tuple[int, int]:
    """Set ``value`` in a thread while this one reads ``halves`` until ``enough(changes, torn)``
    (10 s at most); returns (reads that saw a new value, reads that saw two halves differ)."""
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            i = i % 1_000_000 + 1
            dev.value = i

    thread = threading.Thread(target=writer)
    thread.start()
    changes = torn = 0
    last = None
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline and not enough(changes, torn):
            lo, hi = dev.halves
            torn += lo != hi
            changes += lo != last
            last = lo
    finally:
        stop.set()
        thread.join()
    return changes, torn


def test_concurrent_set_and_get_never_see_half_a_set():
    dev = TwoHalves("pair")
    changes, torn = _hammer(dev, lambda changes, torn: changes >= 500 or torn)
    assert changes >= 500, "the reader never overlapped the writer: nothing was tested"
    assert torn == 0


def test_the_half_set_check_fails_without_the_device_lock():
    dev = TwoHalves("pair")
    dev._lock = contextlib.nullcontext()  # what the check above would meet if get/set did not lock
    _, torn = _hammer(dev, lambda changes, torn: torn > 0)
    assert torn > 0


def test_close_is_idempotent_and_drops_listeners():
    dev = Widget("c")
    dev.add_listener(lambda *a: pytest.fail("listener called after close"))
    with dev:
        pass
    dev.close()
    assert dev.closed
    dev.count = 4  # no listener left


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**6), max_value=10**6),
        st.text(max_size=3),
        st.booleans(),
        st.none(),
    )
)
def test_any_value_is_stored_valid_or_refused_unchanged(value):
    dev = Widget("h")
    try:
        stored = dev.set("exposure_ms", value)
    except PropertyError:
        assert dev.exposure_ms == 10.0
    else:
        assert 0.01 <= stored <= 2000 and dev.exposure_ms == stored == float(value)
