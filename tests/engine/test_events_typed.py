"""Typed events: every event a scope delivers parses to the Struct registered for its topic, and
every registered topic is seen, so neither the emit sites nor the registry can drift.

The suite runs with ``LABKIT_STRICT_EVENTS=1`` (tests/conftest.py): an emit site whose payload does
not match its Struct, or a topic nobody registered, raises where it is emitted.
"""

from __future__ import annotations

import json
import logging
import os
import signal

import pytest
from engine_helpers import Recorder, make_scope, wait_until

from labkit.devices import Device
from labkit.devices.sim import rig_devices
from labkit.engine import EngineState, events
from labkit.wire import Event, decode, encode

SHAPE = (96, 128)


def typed_rig(seed: int = 0, shape: tuple[int, int] = SHAPE) -> dict[str, Device]:
    """The simulated rig (a magnet with actions) plus a camera whose stream can break."""
    from engine_helpers import FragileCamera

    devices = rig_devices(seed=seed, shape=shape)
    devices["camera"].close()
    devices["camera"] = FragileCamera(
        "camera", seed=seed, sensor_shape=shape, stage=devices["stage"]
    )
    return devices


def emit_anything(engine, topic: str, payload_json: str) -> None:
    """A user command that emits an arbitrary event (what a careless extension might do)."""
    engine.emit(topic, json.loads(payload_json))


@pytest.fixture
def engine_logs_info():
    logger = logging.getLogger("labkit.engine")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


def _drive(scope, tmp_path, rec: Recorder) -> None:
    """Start/stop, a property, a ring change, an action with progress, a node, bead ROIs and the
    bead lock, a spool series, a script and an acquisition failure."""
    scope.camera.frame_rate_hz = 50
    scope.camera.exposure_ms = 12
    scope.start()
    wait_until(lambda: rec.topic("health"), what="a health event")
    scope.camera.binning = 2  # while running: a new ring at once
    wait_until(lambda: rec.topic("ring"), what="a ring event")
    steps: list[float] = []
    scope.devices["magnet"].home(speed_mm_s=50, progress=lambda f, m: steps.append(f))
    assert steps and steps[-1] == pytest.approx(1.0)
    scope.nodes.add("frame_stats", name="stats")
    wait_until(lambda: "stats" in scope.streams, what="the node's stream")
    wait_until(
        lambda: any("stats" in e.payload.get("nodes", {}) for e in rec.topic("health")),
        what="a health event with the node",
    )
    scope.nodes.remove("stats")
    scope.tracking.rois = [("bead", 0, 0, 16, 16)]  # tracking
    scope.tracking.add_tracker(name="beads")
    scope.tracking.lock("bead", tracker="beads")  # bead_lock: searching, then off
    scope.tracking.unlock()
    scope.nodes.remove("beads")
    scope.spool.dir_pattern = str(tmp_path)
    handle = scope.spool.start(max_frames=4, preflight_mode="warn")
    handle.wait(timeout=60)
    wait_until(
        lambda: any(e.payload["event"] == "finished" for e in rec.topic("spool")),
        what="the spool's finished event",
    )
    script = scope.run_script({"name": "probe", "steps": [["wait", {"seconds": 0.01}]]})
    script.wait(timeout=60)
    wait_until(
        lambda: any(e.payload["state"] == "done" for e in rec.topic("protocol")),
        what="the script's done event",
    )
    scope.stop()
    scope.camera.fail_after_frames = 2
    scope.start()
    wait_until(lambda: rec.topic("error"), timeout_s=30, what="the acquisition's error event")
    wait_until(lambda: scope.state is EngineState.FAILED, timeout_s=30, what="state failed")


#: topics only a scope connected to a TCP engine gets (tests/remote checks them)
REMOTE_ONLY = {"link"}


def _check_all_parse(rec: Recorder, expect_topics: set[str]) -> None:
    seen: set[str] = set()
    registered = events.topics()
    for event in rec.events:
        typed = events.parse(event)
        assert type(typed) is registered[event.topic]
        # unknown fields are refused by parse; and the Struct goes back to the same plain data
        again = Event(topic=event.topic, payload=events.to_payload(event.topic, typed))
        assert events.parse(again) == typed
        seen.add(event.topic)
    assert seen == expect_topics, f"topics never seen: {expect_topics - seen}"


@pytest.mark.slow
def test_every_event_of_a_thread_scope_parses_and_every_topic_is_seen(tmp_path, engine_logs_info):
    rec = Recorder()
    with make_scope("thread", devices=typed_rig, shape=SHAPE) as scope:
        scope.subscribe(rec)
        _drive(scope, tmp_path, rec)
        wait_until(lambda: rec.topic("log"), what="a log event")
    # thread mode cannot lose its engine; the acquisition failure gave the error event
    _check_all_parse(rec, set(events.topics()) - REMOTE_ONLY)
    failed = [events.parse(e, events.StateEvent) for e in rec.topic("state")]
    assert any(s is not None and "cable unplugged" in s.reason for s in failed)


@pytest.mark.slow
def test_every_event_of_a_process_scope_parses_and_every_topic_is_seen(tmp_path, engine_logs_info):
    rec = Recorder()
    with make_scope("process", devices="test_events_typed:typed_rig", shape=SHAPE) as scope:
        scope.subscribe(rec)
        _drive(scope, tmp_path, rec)
        wait_until(lambda: rec.topic("log"), what="a log event from the engine process")
        scope.restart()
        os.kill(scope.status().engine_pid, signal.SIGKILL)
        wait_until(
            lambda: any(e.payload["where"] == "engine" for e in rec.topic("error")),
            what="the engine-died error event",
        )
    _check_all_parse(rec, set(events.topics()) - REMOTE_ONLY)
    died = [events.parse(e, events.ErrorEvent) for e in rec.topic("error")]
    assert [d.type for d in died if d is not None and d.where == "engine"] == ["EngineDiedError"]


def test_payloads_on_the_wire_stay_plain_data():
    event = events.StateEvent(state=EngineState.RUNNING, previous=EngineState.READY)
    assert events.to_payload("state", event) == {"state": "running", "previous": "ready"}
    ring = events.RingEvent(stream="camera", ring_name="r", shape=(16, 32), dtype="<u2")
    payload = events.to_payload("ring", ring)
    assert payload["shape"] == [16, 32]
    # through the codec and back, the typed object is the same
    back = decode(encode(Event(topic="ring", payload=payload)))
    assert events.parse(back) == ring


def test_parse_picks_a_topic_and_names_what_is_wrong():
    event = Event(topic="property", payload={"device": "camera", "name": "gain", "value": 2})
    assert events.parse(event, events.StateEvent) is None
    prop_event = events.parse(event, events.PropertyEvent)
    assert prop_event is not None and (prop_event.device, prop_event.value) == ("camera", 2)
    with pytest.raises(events.EventPayloadError, match="PropertyEvent.*device"):
        events.parse(Event(topic="property", payload={"name": "gain", "value": 2}))
    with pytest.raises(events.UnknownTopicError, match="'magnet_force'.*@topic"):
        events.parse(Event(topic="magnet_force", payload={}))


def test_registering_a_topic_is_one_decorator_and_is_checked():
    with pytest.raises(ValueError, match="already registered to StateEvent"):

        @events.topic("state")
        class Again(events.EngineEvent):
            state: str

    with pytest.raises(TypeError, match="EngineEvent subclass"):
        events.topic("plain")(dict)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_the_engine_refuses_bad_events_in_strict_mode(mode):
    commands = [emit_anything if mode == "thread" else "test_events_typed:emit_anything"]
    with make_scope(mode, commands=commands) as scope:
        with pytest.raises(events.UnknownTopicError, match="'magnet_force'"):
            scope.commands.emit_anything(topic="magnet_force", payload_json='{"locked": true}')
        with pytest.raises(events.EventPayloadError, match="'progress'.*ProgressEvent"):
            scope.commands.emit_anything(topic="progress", payload_json='{"fraction": "half"}')
        # a matching plain payload is fine
        rec = Recorder()
        scope.subscribe(rec)
        good = {"type": "X", "message": "m", "where": "node:n"}
        scope.commands.emit_anything(topic="error", payload_json=json.dumps(good))
        wait_until(lambda: rec.topic("error"), what="the error event")
    assert rec.topic("error")[0].payload == good


def test_without_strict_mode_a_bad_event_is_sent_and_logged_once(monkeypatch, caplog):
    monkeypatch.delenv(events.STRICT_ENV)
    monkeypatch.setattr(events, "_warned", set())
    with make_scope("thread", commands=[emit_anything]) as scope:
        rec = Recorder()
        scope.subscribe(rec)
        with caplog.at_level(logging.WARNING, logger="labkit.engine.events"):
            for n in range(2):
                scope.commands.emit_anything(
                    topic="magnet_force", payload_json=json.dumps({"n": n})
                )
            wait_until(lambda: len(rec.topic("magnet_force")) == 2, what="both events")
    assert [e.payload["n"] for e in rec.topic("magnet_force")] == [0, 1]
    warnings = [r for r in caplog.records if "magnet_force" in r.getMessage()]
    assert len(warnings) == 1 and "LABKIT_STRICT_EVENTS" in warnings[0].getMessage()
