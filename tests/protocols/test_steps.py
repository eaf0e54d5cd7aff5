"""The step runner: order, pause/resume/cancel at step boundaries, errors, safe state."""

from __future__ import annotations

import threading

import pytest

from labkit.devices.sim import SimShutter, SimStage
from labkit.protocols import (
    ProtocolCancelled,
    RunState,
    Step,
    StepControl,
    StepError,
    StepRunner,
    move_step,
    safe_state,
)
from labkit.testing import wait_until


def _steps(log, n):
    return [Step(f"s{i}", lambda c, i=i: log.append(i) or i) for i in range(n)]


def test_steps_run_in_order_and_report_each():
    log, seen = [], []
    runner = StepRunner(on_step=lambda i, s: seen.append((i, s.label)))
    assert runner.run(_steps(log, 3)) == [0, 1, 2]
    assert log == [0, 1, 2] and seen == [(0, "s0"), (1, "s1"), (2, "s2")]


def test_a_failing_step_names_itself_and_makes_devices_safe():
    stage, shutter = SimStage("stage", speed_um_s=1.0), SimShutter("shutter", is_open=True)
    stage.move(z=100)  # a long move under way
    runner = StepRunner({"stage": stage, "shutter": shutter})

    def boom(control):
        raise ValueError("bad value")

    with pytest.raises(StepError, match=r"step 2 \(explode\) failed: ValueError: bad value") as err:
        runner.run([Step("ok", lambda c: None), Step("explode", boom)])
    assert isinstance(err.value.__cause__, ValueError) and err.value.index == 1
    assert not stage.is_moving() and stage.z_um < 100
    assert shutter.is_open is False
    assert safe_state({"stage": stage}) == ["stopped stage"]


def test_pause_holds_before_the_next_step_and_cancel_ends_a_paused_run():
    control, log, states = StepControl(), [], []
    runner = StepRunner(control=control, on_state=states.append)
    control.pause()
    done = threading.Event()
    result = {}

    def run():
        try:
            runner.run(_steps(log, 3))
        except ProtocolCancelled as exc:
            result["cancelled"] = exc
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    wait_until(lambda: states == [RunState.PAUSED], what="the runner to hold")
    assert log == []  # it holds: reported PAUSED before any step ran
    control.resume()
    wait_until(lambda: len(log) == 3, what="the steps after resume")
    assert states == [RunState.PAUSED, RunState.RUNNING]
    thread.join()

    control2, log2 = StepControl(), []
    control2.pause()
    control2.cancel()
    with pytest.raises(ProtocolCancelled):
        StepRunner(control=control2).run(_steps(log2, 2))
    assert log2 == []


def test_cancel_interrupts_a_stage_wait():
    stage = SimStage("stage", speed_um_s=1.0)
    control = StepControl()
    runner = StepRunner({"stage": stage}, control)
    errors = []

    def run():
        try:
            runner.run_one(move_step(stage, z=500))
        except ProtocolCancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_until(stage.is_moving, what="the move")
    control.cancel()
    thread.join(10)
    assert errors and not stage.is_moving() and stage.z_um < 500
