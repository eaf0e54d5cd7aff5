"""Device actions and user commands through every kind of engine."""

from __future__ import annotations

import pytest
from engine_helpers import make_scope

from labkit.devices import (
    ActionArgumentError,
    PropertyLimitError,
    PropertyValueError,
    UnknownActionError,
)
from labkit.engine import UnknownUserCommandError


@pytest.fixture(scope="module", params=["thread", "process"])
def rig_scope(request):
    scope = make_scope(
        request.param, devices="engine_helpers:rig", commands=["engine_helpers:brighten"]
    )
    yield scope
    scope.close()


def test_actions_are_methods_with_checked_arguments(rig_scope):
    magnet = rig_scope.devices["magnet"]
    assert set(magnet.action_specs()) == {"home", "nudge"}
    assert "nudge" in dir(magnet) and "delta_mm" in magnet.nudge.__doc__
    start = magnet.height_mm
    assert magnet.nudge(delta_mm=1.5) == pytest.approx(start + 1.5)
    with pytest.raises(PropertyLimitError, match=r"delta_mm=9 is above the limit 5 mm"):
        magnet.nudge(delta_mm=9)
    with pytest.raises(ActionArgumentError, match=r"unknown arguments \['delta'\].*delta_mm"):
        magnet.nudge(delta=1)
    with pytest.raises(ActionArgumentError, match=r"needs \['delta_mm'\]"):
        magnet.nudge()
    assert magnet.height_mm == pytest.approx(start + 1.5)  # the refused calls changed nothing
    with pytest.raises(AttributeError, match="actions: home, nudge"):
        magnet.fly()


def test_an_action_reports_progress_to_its_caller(rig_scope):
    magnet = rig_scope.devices["magnet"]
    seen: list[tuple[float, str]] = []
    elapsed = magnet.home(speed_mm_s=50, progress=lambda f, m: seen.append((f, m)))
    assert elapsed >= 0 and magnet.height_mm == 0.0
    assert [f for f, _ in seen] == pytest.approx([k / 10 for k in range(1, 11)])
    assert seen[-1][1] == "100 %"
    with pytest.raises(TypeError, match="progress must be callable"):
        magnet.home(progress="loud")


def test_state_devices_keep_position_and_label_in_step(rig_scope):
    wheel = rig_scope.devices["filters"]
    wheel.label = "RFP"
    assert wheel.position == 3
    wheel.position = 1
    assert wheel.label == "GFP"
    with pytest.raises(PropertyLimitError, match="above the limit 5"):
        wheel.position = 6
    with pytest.raises(
        PropertyValueError, match="label='TRITC' of SimFilterWheel 'filters' is not"
    ):
        wheel.label = "TRITC"
    assert wheel.label == "GFP" and wheel.position == 1
    shutter = rig_scope.devices["shutter"]
    shutter.is_open = True
    assert shutter.is_open is True and shutter.kind == "shutter"


def test_user_commands_round_trip_and_check_their_arguments(rig_scope):
    cam = rig_scope.camera
    cam.exposure_ms = 10
    assert rig_scope.commands.brighten(gain=3) == pytest.approx(30)
    assert cam.exposure_ms == pytest.approx(30)
    assert rig_scope.devices["camera2"].exposure_ms == pytest.approx(30)
    spec = rig_scope.commands.describe()["brighten"]
    assert [a.name for a in spec.args] == ["gain"] and spec.args[0].kind == "float"
    with pytest.raises(ActionArgumentError, match="unknown arguments"):
        rig_scope.commands.brighten(gian=2)
    with pytest.raises(AttributeError, match="no user command 'darken'; commands: brighten"):
        rig_scope.commands.darken()
    with pytest.raises(UnknownUserCommandError, match="no user command 'darken'"):
        rig_scope._call("run_command", name="darken", args={})
    cam.exposure_ms = 10


def test_commands_added_later_and_from_the_notebook(rig_scope):
    if rig_scope.mode == "thread":

        def triple(engine, x: int) -> int:
            return 3 * x

        spec = rig_scope.commands.add(triple)
        assert spec.name == "triple" and rig_scope.commands.triple(x=4) == 12
    else:
        with pytest.raises(ValueError, match="cannot be loaded by another process"):
            rig_scope.commands.add(lambda engine, x: x)
    spec = rig_scope.commands.add("engine_helpers:brighten", name="brighten_again")
    assert spec.name == "brighten_again"
    with pytest.raises(ValueError, match="built-in engine command"):
        rig_scope.commands.add("engine_helpers:brighten", name="snap")


def test_unknown_device_action_name_through_the_wire(rig_scope):
    with pytest.raises(UnknownActionError, match="has no action 'fly'; its actions: home, nudge"):
        rig_scope._call("call_action", device="magnet", action="fly", args={})
