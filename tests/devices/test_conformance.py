"""The conformance kit passes every shipped sim device and fails broken drivers at the named check."""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

import numpy as np
import pytest

from labkit.devices import PropertyLimitError, prop
from labkit.devices.sim import (
    SimCamera,
    SimFilterWheel,
    SimMagnet,
    SimShutter,
    SimSignal,
    SimStage,
)
from labkit.testing import (
    ConformanceError,
    ConformanceReport,
    check_camera,
    check_device,
    check_shutter,
    check_signal,
    check_stage,
    check_state_device,
)

SENSOR = (48, 64)

# -- every shipped sim device passes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "factory", "kwargs", "last_kind_check"),
    [
        (check_camera, SimCamera, {"sensor_shape": SENSOR}, "frames_match_after_settings"),
        (  # the rig's second camera: another sensor, another seed, linked to a stage
            check_camera,
            partial(SimCamera, "camera2", seed=1, stage=SimStage()),
            {"sensor_shape": (32, 40)},
            "frames_match_after_settings",
        ),
        (check_stage, SimStage, {}, "move_refused_whole"),
        (check_state_device, SimFilterWheel, {"name": "filters"}, "state_positions"),
        (check_shutter, SimShutter, {}, "shutter_is_open"),
        (check_signal, SimSignal, {}, "signal_read"),
    ],
    ids=["camera", "camera2", "stage", "filter_wheel", "shutter", "signal"],
)
def test_every_sim_device_conforms(check, factory, kwargs, last_kind_check):
    report = check(factory, **kwargs)
    assert isinstance(report, ConformanceReport)
    for name in ("construct", "describe_json", "limits_enforced", last_kind_check):
        assert name in report
    assert report.passed[-2:] == ["runs_in_engine", "engine_releases_threads"]
    assert str(report).startswith(f"{report.device} ({report.kind}): {len(report.passed)} checks")


def test_the_magnet_conforms_and_its_actions_really_run():
    report = check_device(
        SimMagnet, run_actions={"nudge": {"delta_mm": 1.0}, "home": {"speed_mm_s": 50}}
    )
    assert report.kind == "magnet" and "actions" in report
    assert "ran home({'speed_mm_s': 50}): 10 progress reports" in report.notes


def test_the_camera_streams_through_the_engine_at_no_more_than_its_rate():
    report = check_camera(SimCamera, sensor_shape=SENSOR)
    rates = [n for n in report.notes if n.startswith("streamed at")]
    assert len(rates) == 2 and all(n.endswith("(asked 20)") for n in rates)


def test_an_instance_instead_of_a_class_is_refused():
    with SimShutter() as shutter, pytest.raises(TypeError, match="not <SimShutter 'shutter'>"):
        check_shutter(shutter)


def test_options_must_name_what_the_device_has():
    with pytest.raises(ValueError, match=r"run_actions names \['fly'\].*it has home, nudge"):
        check_device(SimMagnet, run_actions={"fly": {}})
    with pytest.raises(ValueError, match=r"keep_settings names \['gian'\].*it has"):
        check_camera(SimCamera, sensor_shape=SENSOR, keep_settings=["gian"])
    with pytest.raises(TypeError, match=r"property names, e.g. \('gain',\)"):
        check_camera(SimCamera, sensor_shape=SENSOR, keep_settings="gain")


class TriggeredCamera(SimCamera):
    """Waits for a hardware trigger in 'external' mode: its SDK gives up after a timeout."""

    trigger_mode = prop(str, allowed=("internal", "external"), default="internal")

    def snap(self) -> tuple[np.ndarray, dict[str, float]]:
        if self.trigger_mode == "external":
            raise TimeoutError("no trigger arrived within the SDK's grab timeout")
        return super().snap()


def test_settings_the_kit_must_keep_are_left_alone_while_taking_frames():
    with pytest.raises(ConformanceError, match="no trigger arrived") as err:
        check_camera(TriggeredCamera, sensor_shape=SENSOR, in_engine=False)
    assert err.value.check == "frames_match_after_settings"
    report = check_camera(TriggeredCamera, sensor_shape=SENSOR, keep_settings=["trigger_mode"])
    assert "frames_match_after_settings" in report and "runs_in_engine" in report


# -- broken drivers fail at the check that names their bug --------------------------------------


class LyingDtypeCamera(SimCamera):
    """Says uint16 whatever the bit depth; its 8-bit frames are uint8."""

    def get(self, name: str) -> Any:
        return "uint16" if name == "dtype" else super().get(name)


class UncheckedExposureCamera(SimCamera):
    """Passes exposure straight to the 'SDK' without checking the declared limits."""

    def set(self, name: str, value: Any) -> Any:
        if name != "exposure_ms":
            return super().set(name, value)
        self._values[name] = value
        self._notify(name, value)
        return value


class NewArrayCamera(SimCamera):
    """Renders into a fresh array and ignores the ring slot it is given."""

    def render_into(self, out: np.ndarray) -> dict[str, float]:
        return self.snap()[1]


class MonotonicClockCamera(SimCamera):
    """Stamps frames with time.monotonic() (seconds since boot), not time.time()."""

    def render_into(self, out: np.ndarray) -> dict[str, float]:
        return {**super().render_into(out), "timestamp_s": time.monotonic()}

    def snap(self) -> tuple[np.ndarray, dict[str, float]]:
        frame, meta = super().snap()
        return frame, {**meta, "timestamp_s": time.monotonic()}


class PlainDeviceCamera(SimCamera):
    """Forgot its kind: the engine would never stream it."""

    kind = "device"


class ThreadAffineCamera(SimCamera):
    """An SDK handle that works only on the thread that opened it (the engine renders on its own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._owner = threading.get_ident()
        super().__init__(*args, **kwargs)

    def render_into(self, out: np.ndarray) -> dict[str, float]:
        if threading.get_ident() != self._owner:
            raise RuntimeError("sdk handle used from another thread")
        return super().render_into(out)


class SdkHandleInDescribe(SimShutter):
    """Puts its SDK handle into describe(): not JSON."""

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "sdk": object()}


class DoubleCloseShutter(SimShutter):
    """Releases its SDK handle on every close(): the second one fails."""

    def close(self) -> None:
        if getattr(self, "released", False):
            raise RuntimeError("sdk handle already released")
        self.released = True
        super().close()


class PollingSignal(SimSignal):
    """Starts a polling thread and never stops it in close()."""

    stop_all = threading.Event()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poller = threading.Thread(target=self.stop_all.wait, name="acme-poller", daemon=True)
        self.poller.start()


class ExtraPositionWheel(SimFilterWheel):
    """Six labels but seven positions: the limit was set by hand, off by one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_spec("position", high=float(len(self.labels)))


class AxisByAxisStage(SimStage):
    """Moves each axis as soon as its target is checked: a refused move has moved the others."""

    def move(self, x: float | None = None, y: float | None = None, z: float | None = None) -> None:
        for axis, value in zip(("x_um", "y_um", "z_um"), (x, y, z), strict=True):
            if value is not None:
                self.set(axis, value)


class UncheckedActionMagnet(SimMagnet):
    """Calls the method with whatever it is given (Python's own TypeError for a wrong name)."""

    def call_action(self, name: str, args: dict | None = None, progress: Any = None) -> Any:
        if name not in self.action_specs():
            return super().call_action(name, args, progress)
        return getattr(self, name)(**(args or {}))


@pytest.mark.parametrize(
    ("check", "factory", "failed", "fix"),
    [
        (check_camera, LyingDtypeCamera, "frames_match_after_settings", "sizes its ring"),
        (check_camera, UncheckedExposureCamera, "limits_enforced", "declare limits"),
        (check_camera, NewArrayCamera, "render_into_fills_out", "write the frame into out"),
        (check_camera, MonotonicClockCamera, "frame_timestamps", "time.time()"),
        (check_camera, PlainDeviceCamera, "construct", 'kind = "camera"'),
        (check_shutter, SdkHandleInDescribe, "describe_json", "JSON-able"),
        (check_shutter, DoubleCloseShutter, "close_idempotent", "safe to call twice"),
        (check_state_device, ExtraPositionWheel, "state_labels", "one label per position"),
        (check_stage, AxisByAxisStage, "move_refused_whole", "validate every target"),
        (check_device, UncheckedActionMagnet, "actions", "ActionArgumentError"),
    ],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "__name__", None),
)
def test_a_broken_driver_fails_the_check_that_names_its_bug(check, factory, failed, fix):
    kwargs = {"name": "broken"}
    if issubclass(factory, SimCamera):
        kwargs["sensor_shape"] = SENSOR
    with pytest.raises(ConformanceError) as err:
        check(factory, **kwargs)
    error = err.value
    assert error.check == failed, str(error)
    assert error.device == f"{factory.__name__} 'broken'"
    message = str(error)
    assert message.startswith(
        f"{factory.__name__} 'broken' failed the conformance check {failed!r}"
    )
    assert "To fix: " in message and fix in message + repr(error.__cause__), message


def test_a_thread_left_running_after_close_is_named():
    try:
        with pytest.raises(ConformanceError, match="'acme-poller'") as err:
            check_signal(PollingSignal, timeout_s=0.5)
        assert err.value.check == "close_releases_threads"
        assert "join it" in err.value.fix
    finally:
        PollingSignal.stop_all.set()


def test_a_driver_that_works_alone_but_not_on_the_engine_thread_is_caught_there():
    report_before = check_camera(ThreadAffineCamera, sensor_shape=SENSOR, in_engine=False)
    assert "frames_match_after_settings" in report_before
    with pytest.raises(ConformanceError, match="sdk handle used from another thread") as err:
        check_camera(ThreadAffineCamera, sensor_shape=SENSOR)
    assert err.value.check == "runs_in_engine"
    assert "the engine is failed" in err.value.problem and "threading rules" in err.value.fix


def test_a_refused_out_of_range_value_names_the_limit_the_kit_tried():
    with pytest.raises(ConformanceError) as err:
        check_camera(UncheckedExposureCamera, sensor_shape=SENSOR, in_engine=False)
    problem = "set('exposure_ms', -0.99) was accepted although it is outside [0.01, 2000] ms"
    assert err.value.problem == problem
    with SimCamera(sensor_shape=SENSOR) as camera, pytest.raises(PropertyLimitError):
        camera.set("exposure_ms", -0.99)  # what a conforming camera does instead
