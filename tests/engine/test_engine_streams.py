"""Streams: several cameras stream at once, each with its own ring and health; signals are traces."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import Recorder, make_scope, wait_until

from labkit.engine import StreamInfo


@pytest.fixture(scope="module", params=["thread", "process"])
def rig_scope(request):
    scope = make_scope(request.param, devices="engine_helpers:rig")
    yield scope
    scope.close()


def test_every_camera_and_signal_is_a_named_stream(rig_scope):
    streams = rig_scope.streams
    assert set(streams) == {"camera", "camera2", "signal"}
    cam, cam2, sig = streams["camera"], streams["camera2"], streams["signal"]
    assert isinstance(cam, StreamInfo) and cam.kind == "frames" and cam2.kind == "frames"
    assert cam.shape == (128, 160) and cam2.shape == (64, 80)
    assert np.dtype(cam.dtype) == np.uint16 and cam.owner == "camera"
    assert sig.kind == "trace" and sig.channels == tuple(rig_scope.signal.channels)
    assert rig_scope.ring_name == cam.buffer != cam2.buffer
    with pytest.raises(LookupError, match=r"no stream named 'nope'; streams: camera \(frames\)"):
        rig_scope.open_reader("nope")


def test_two_cameras_stream_at_once_with_exact_losses_per_ring(rig_scope):
    rig_scope.devices["camera2"].frame_rate_hz = 200
    rig_scope.camera.frame_rate_hz = 100
    with (
        rig_scope.open_reader("camera", name="fast") as fast,
        rig_scope.open_reader("camera2", name="idle") as idle,
    ):
        start1, start2 = fast.cursor, idle.cursor  # the first frame each reader wants
        rig_scope.start()
        for _ in range(40):  # keeps up with camera (on a loaded machine it may still lose some)
            fast.next(timeout=5)
        # camera2's reader reads nothing while camera2 writes more than its ring holds
        wait_until(
            lambda: rig_scope.health().streams["camera2"]["readers"]["idle"]["frames_lost"] > 0,
            what="camera2's idle reader to lose frames (seen in health)",
        )
        rig_scope.stop()
        health = rig_scope.health()
        written2 = health.streams["camera2"]["frames_acquired"]
        frames, lost = idle.drain()
        # exact: every camera2 frame since the reader opened was either read or counted lost
        assert len(frames) + idle.frames_lost == written2 - start2
        assert lost == idle.frames_lost > 0 and len(frames) <= 16
        assert frames[-1].index == written2 - 1
        # the other ring keeps its own exact count: its reader's losses are its own
        rest, _ = fast.drain()
        written1 = health.streams["camera"]["frames_acquired"]
        assert 40 + len(rest) + fast.frames_lost == written1 - start1
        readers = rig_scope.health().streams["camera"]["readers"]
        assert readers["fast"]["frames_lost"] == fast.frames_lost
    assert health.streams["camera"]["frames_acquired"] >= 40
    assert set(health.streams) == {"camera", "camera2"}
    assert health.streams["camera"]["ring_name"] == rig_scope.streams["camera"].buffer


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_shape_change_remakes_only_that_cameras_ring(mode):
    # its own scope: a new ring made during a test looks like a leak of a shared one
    with make_scope(mode, devices="engine_helpers:rig") as scope:
        rec = Recorder()
        scope.subscribe(rec)
        before = scope.streams
        scope.devices["camera2"].binning = 2
        scope.start()
        wait_until(lambda: rec.topic("ring"), what="a ring event")
        scope.stop()
        after = scope.streams
        assert after["camera2"].shape == (32, 40)
        assert after["camera"].buffer == before["camera"].buffer
        assert after["camera2"].buffer != before["camera2"].buffer
        assert {e.payload["stream"] for e in rec.topic("ring")} == {"camera2"}
        with scope.open_reader("camera2") as reader:
            assert reader.ring.shape == (32, 40)


def test_traces_are_dataarrays_of_time_and_channel(rig_scope):
    rig_scope.start()
    wait_until(lambda: rig_scope.traces["signal"].sizes["time"] > 5, what="signal samples")
    rig_scope.stop()
    trace = rig_scope.traces["signal"]
    assert trace.dims == ("time", "channel")
    assert list(trace.channel.values) == list(rig_scope.signal.channels)
    assert np.all(np.diff(trace.time.values) > 0)
    assert list(rig_scope.traces) == ["signal"]
    with pytest.raises(KeyError, match="no trace stream 'camera'"):
        rig_scope.traces["camera"]
