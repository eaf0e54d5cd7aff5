"""Scripts: the command list, YAML, running in the engine (thread and process mode) with pause
and abort at step boundaries, and a failed step leaving the devices safe."""

from __future__ import annotations

import pytest
import yaml

import labkit as lk
from labkit.protocols import SCRIPT_COMMANDS, ProtocolError, Script, ScriptError
from labkit.testing import wait_until


def test_print_script_commands_lists_every_command_with_its_signature(capsys):
    lk.print_script_commands()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(SCRIPT_COMMANDS) >= 8
    for name in ("set_property", "move", "wait", "snap", "spool", "run_mda", "run_node", "call"):
        assert any(line.startswith(f"{name}(") for line in lines), name
    assert any(line.startswith("spool(frames: int, path: str = ''") for line in lines)
    assert all(" — " in line for line in lines)  # each says what it does


def test_yaml_round_trip_and_bad_keys_named(tmp_path):
    script = Script(
        [("set_property", {"device": "camera", "name": "exposure_ms", "value": 5}),
         {"move": {"z_um": 2.0}}, ("wait", {"seconds": 0.01})],
        name="sweep",
    )  # fmt: skip
    path = script.save(tmp_path / "sweep.yaml")
    assert yaml.safe_load(path.read_text())["steps"][1] == {"move": {"z_um": 2.0}}
    again = Script.load(path)
    assert again.to_dict() == script.to_dict() and again.name == "sweep"

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "stpes": []}))
    with pytest.raises(
        ScriptError, match="unknown script key.*'stpes'.*accepted: labkit_script, name, steps"
    ):
        Script.load(bad)
    with pytest.raises(ScriptError, match="step 2: unknown command 'mvoe'; commands: set_property"):
        Script([("wait", {"seconds": 1}), ("mvoe", {})])
    with pytest.raises(
        ScriptError, match=r"step 1: move\(x_um.*unexpected keyword argument 'zz_um'"
    ):
        Script([("move", {"zz_um": 1})])
    with pytest.raises(ScriptError, match=r"step 1: wait\(seconds: float\).*missing"):
        Script([("wait", {})])


def test_script_runs_every_command_in_the_engine(scope, tmp_path):
    seq = {"z_plan": {"range": 1, "step": 1}}
    script = Script([
        ("run_mda", {"sequence": seq, "path": str(tmp_path / "s.ome.zarr")}),
        ("set_property", {"device": "camera", "name": "exposure_ms", "value": 7.5}),
        ("move", {"z_um": 3.0}),
        ("wait", {"seconds": 0.01}),
        ("snap", {}),
        ("call", {"function": "double", "args": {"value": 21}}),
        ("run_node", {"node": "frame_stats", "name": "stats"}),
        ("spool", {"frames": 4, "path": str(tmp_path / "spooled"),
                   "settings": {"preflight_mode": "skip"}}),
    ])  # fmt: skip
    seen = []
    scope.subscribe(on := lambda e: seen.append(e.payload) if e.topic == "protocol" else None)
    try:
        final = scope.run_script(script).wait(60)
    finally:
        scope.unsubscribe(on)
        if "stats" in scope.nodes.describe():
            scope.nodes.remove("stats")
    assert final["state"] == "done" and final["steps_done"] == 8
    steps = [p["step"].split("(")[0] for p in seen if p["state"] == "running" and p["step"]]
    assert steps == [step.command for step in script.steps]
    assert scope.camera.exposure_ms == 7.5
    assert scope.stage.position()[2] == pytest.approx(3.0)
    assert lk.open_series(tmp_path / "s.ome.zarr").sizes["z"] == 2
    assert lk.open_series(tmp_path / "spooled.ome.zarr").sizes["t"] == 4
    assert scope.state == "stopped"  # the spool step started acquisition and stopped it


def test_failed_step_stops_the_script_and_leaves_devices_safe(scope):
    scope.stage.move(z=0, wait=True)
    script = Script([
        ("set_property", {"device": "shutter", "name": "is_open", "value": True}),
        ("set_property", {"device": "stage", "name": "speed_um_s", "value": 1.0}),
        ("set_property", {"device": "stage", "name": "z_um", "value": 50.0}),  # starts a move
        ("set_property", {"device": "camera", "name": "exposure_ms", "value": 1e9}),
        ("wait", {"seconds": 0.01}),
    ])  # fmt: skip
    handle = scope.run_script(script)
    with pytest.raises(ProtocolError, match="exposure_ms.*above the limit"):
        handle.wait(30)
    final = handle.progress
    assert final["state"] == "failed" and final["error_type"] == "PropertyLimitError"
    assert final["step"].startswith("set_property(device='camera'")
    assert final["steps_done"] == 3  # the failing step's index: the wait never ran
    assert scope.devices["shutter"].is_open is False
    assert not scope.stage.is_moving() and scope.stage.position()[2] < 50
    scope.stage.speed_um_s = 1000.0


def test_pause_and_abort_at_step_boundaries(scope):
    script = Script([("wait", {"seconds": 0.02})] * 20 + [("wait", {"seconds": 600})])
    handle = scope.run_script(script)
    wait_until(lambda: handle.progress["steps_done"] >= 2, what="two steps")
    handle.pause()
    wait_until(lambda: handle.state == "paused", what="the script to hold")
    held = handle.progress["steps_done"]
    handle.resume()
    wait_until(lambda: handle.progress["steps_done"] == 20, what="the long wait")
    handle.cancel()  # interrupts the 600 s wait
    final = handle.wait(30)
    assert final["state"] == "cancelled"
    assert handle.states == ["running", "paused", "running", "cancelled"]
    assert held < 20
