"""Processing nodes: lifecycle, built-ins checked against the frames they read, chains, workers."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from engine_helpers import Recorder, make_scope

from labkit.engine import (
    EngineState,
    FrameStatsNode,
    NodeError,
    NodeState,
    NodeStateError,
    RoiStatsNode,
    StreamInfo,
)
from labkit.processing import Roi, bin_mean, roi_stats
from labkit.testing import wait_until

CAMERA = StreamInfo(name="camera", kind="frames", owner="camera", buffer="x", shape=(128, 160),
                    dtype="<u2", rate_hz=50.0)  # fmt: skip


def test_node_lifecycle_names_the_state_and_what_it_allows():
    node = RoiStatsNode()
    with pytest.raises(NodeStateError, match=r"cannot start\(\) .* 'created'.*allows: configure"):
        node.start()
    with pytest.raises(TypeError, match=r"takes the parameters \['rois', 'stats'\]"):
        node.configure(rois=[("a", 0, 0, 4, 4)], colour="red")
    node.configure(rois=[("a", 0, 0, 4, 4)], stats=["mean", "max"])
    assert node.initialize(CAMERA).channels == ("a_mean", "a_max")
    node.start()
    node.stop()
    node.start()  # repeatable
    assert node.state is NodeState.RUNNING
    node.close()
    with pytest.raises(NodeStateError, match="'closed'"):
        node.start()
    outside = RoiStatsNode()
    outside.configure(rois=[("far", 120, 150, 16, 16)])
    with pytest.raises(ValueError, match="leaves the 128x160 frame"):
        outside.initialize(CAMERA)
    stats = FrameStatsNode()
    stats.configure()
    with pytest.raises(NodeError, match="reads frames"):
        stats.initialize(StreamInfo(name="s", kind="trace", owner="s", buffer="y"))


@pytest.fixture(scope="module", params=["thread", "process"])
def module_scope(request):
    scope = make_scope(request.param)
    scope.camera.frame_rate_hz = 50
    yield scope
    scope.close()


@pytest.fixture
def scope(module_scope):
    """The module's scope, stopped again after each test (a failed test leaves it running)."""
    yield module_scope
    if module_scope.state is EngineState.RUNNING:
        module_scope.stop()


def _by_time(reader, n):
    frames = {}
    while len(frames) < n:
        f = reader.next(timeout=10)
        frames[f.meta["timestamp_s"]] = f.data
    return frames


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_builtin_nodes_compute_what_the_frames_say(scope, mode):
    rois = [Roi("bead", 10, 20, 16, 16), Roi("bg", 0, 0, 8, 8)]
    stats = scope.nodes.add("roi_stats", name=f"rois_{mode}", mode=mode, rois=rois,
                            stats=["mean", "max"])  # fmt: skip
    try:
        small = scope.nodes.add("downsample", name=f"small_{mode}", mode=mode, bin=2)
        assert stats["output"]["channels"] == ["bead_mean", "bead_max", "bg_mean", "bg_max"]
        assert tuple(small["output"]["shape"]) == (64, 80)
        with (
            scope.open_reader("camera", name="truth") as truth,
            scope.open_reader(f"small_{mode}") as binned,
        ):
            scope.start()
            frames = _by_time(truth, 20)
            out = _by_time(binned, 10)
            wait_until(lambda: scope.traces[f"rois_{mode}"].sizes["time"] >= 20, what="rows")
            scope.stop()
        matched = [t for t in out if t in frames]
        assert len(matched) >= 5  # the same frames, found by their timestamps
        for t in matched:
            assert np.array_equal(out[t], bin_mean(frames[t], 2))
        trace = scope.traces[f"rois_{mode}"]
        for t in [t for t in trace.time.values if t in frames][:5]:
            want = roi_stats(frames[t], rois, ("mean", "max"))
            row = trace.sel(time=t)
            assert [float(row.sel(channel=c)) for c in want] == pytest.approx(list(want.values()))
        health = wait_until(  # a worker reports its figures twice a second
            lambda: (h := scope.health().nodes[f"rois_{mode}"])["frames_in"] >= 20 and h,
            what="the node's health",
        )
        assert health["state"] == "running" and health["mode"] == mode
        assert health["frames_lost"] == 0 and health["ms_per_frame"] > 0
    finally:
        for name in [n for n in (f"rois_{mode}", f"small_{mode}") if n in scope.nodes]:
            scope.nodes.remove(name)
    assert f"rois_{mode}" not in scope.streams and f"rois_{mode}" not in scope.nodes


def test_nodes_chain_and_functions_become_trace_streams(scope):
    func = "engine_helpers:mean_node"
    scope.nodes.add("downsample", name="tiny", every=2, bin=4)
    scope.nodes.add(func, name="tiny_mean", input="tiny")
    if scope.mode == "thread":
        scope.nodes.add(lambda frame, meta: {"n": float(frame.size)}, name="count")
    try:
        scope.start()
        wait_until(lambda: "tiny_mean" in scope.streams, what="the function node's first output")
        wait_until(lambda: scope.traces["tiny_mean"].sizes["time"] >= 5, what="chained rows")
        scope.stop()
        assert list(scope.traces["tiny_mean"].channel.values) == ["mean", "corner"]
        assert scope.streams["tiny"].shape == (32, 40)
        assert scope.health().nodes["tiny_mean"]["input"] == "tiny"
        if scope.mode == "thread":
            assert set(scope.traces["count"].sel(channel="n").values) == {128 * 160}
    finally:
        for name in [n for n in ("count", "tiny_mean", "tiny") if n in scope.nodes]:
            scope.nodes.remove(name)


def test_a_stream_event_is_not_undone_by_an_older_reply(scope, monkeypatch):
    """The start reply lists the streams as they were when the engine replied; the function
    node's first output adds a stream right after. Under load the event thread applies that
    event before the caller's thread gets to the reply: the reply must not undo it."""
    scope.nodes.add("engine_helpers:mean_node", name="late_stream")
    call = scope._call

    def reply_after_the_event(method, **params):
        reply = call(method, **params)
        if method == "start":  # the reply as the engine sends it before the node's first output
            stale = {k: v for k, v in reply["streams"].items() if k != "late_stream"}
            reply = {**reply, "streams": stale}
            wait_until(lambda: "late_stream" in scope._streams.all(), what="the streams event")
        return reply

    monkeypatch.setattr(scope, "_call", reply_after_the_event)
    try:
        scope.start()
        assert "late_stream" in scope.streams
        scope.stop()
    finally:
        monkeypatch.undo()
        scope.nodes.remove("late_stream")


def test_bad_nodes_are_refused_with_what_to_do(scope):
    with pytest.raises(ValueError, match="unknown node 'blur'.*roi_stats"):
        scope.nodes.add("blur")
    with pytest.raises(TypeError, match="takes the parameters"):
        scope.nodes.add("frame_stats", colour="red")
    with pytest.raises(ValueError, match="leaves the 128x160 frame"):
        scope.nodes.add("roi_stats", rois=[("far", 200, 0, 4, 4)])
    with pytest.raises(ValueError, match="no stream named 'cam9'"):
        scope.nodes.add("frame_stats", input="cam9")
    with pytest.raises(ValueError, match="mode must be one of"):
        scope.nodes.add("frame_stats", mode="gpu")
    with pytest.raises(ValueError, match="a node or stream named .* exists already"):
        scope.nodes.add("frame_stats", name="camera")
    assert len(scope.nodes) == 0


def test_a_killed_node_worker_fails_visibly_while_the_camera_streams_on(scope):
    rec = Recorder()
    scope.subscribe(rec)
    try:
        scope.nodes.add("frame_stats", name="victim", mode="process")
        scope.start()
        wait_until(lambda: scope.health().nodes["victim"]["frames_in"] > 3, what="victim at work")
        os.kill(scope.health().nodes["victim"]["pid"], signal.SIGKILL)
        wait_until(lambda: scope.health().nodes["victim"]["state"] == "failed", what="failed")
        errors = wait_until(
            lambda: [e for e in rec.topic("error") if e.payload["where"] == "node:victim"],
            what="the node's error event",
        )
        assert "exited with code -9" in errors[0].payload["message"]
        acquired = scope.health().frames_acquired
        wait_until(lambda: scope.health().frames_acquired > acquired + 5, what="frames after")
        assert "victim" not in scope.streams  # its buffers died with it
        scope.stop()
    finally:
        scope.unsubscribe(rec)
        scope.nodes.remove("victim")


def test_a_node_added_before_start_sees_the_first_frame_however_late_its_thread_runs(
    monkeypatch,
):
    """The node's reader opens when nodes.add returns, not when its thread first runs: on a
    loaded machine the camera's first frames came before the thread and were missed without
    being counted (a spooled series had a frame with no node row and frames_lost 0)."""
    import threading

    from labkit.engine._node_runner import NodeLoop

    gate = threading.Event()
    run = NodeLoop.run

    def late_run(loop):  # the node's thread gets going only when the test says so
        gate.wait(30)
        run(loop)

    monkeypatch.setattr(NodeLoop, "run", late_run)
    scope = make_scope("thread")
    scope.camera.frame_rate_hz = 50
    try:
        scope.nodes.add("frame_stats", name="stats")
        with scope.open_reader("camera", name="truth") as truth:
            scope.start()
            firsts = [truth.next(timeout=10).meta["timestamp_s"] for _ in range(3)]
            gate.set()
            wait_until(lambda: scope.traces["stats"].sizes["time"] >= 5, what="node rows")
            scope.stop()
        rows = set(scope.traces["stats"].time.values)
        assert all(t in rows for t in firsts), (firsts, sorted(rows)[:5])
        assert scope.health().nodes["stats"]["frames_lost"] == 0
    finally:
        gate.set()
        scope.close()
