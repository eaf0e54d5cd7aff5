"""LiveView kernel side with a recording comm: credit, newest-wins, viewport binning, visibility,
encodings, snapshots, contrast never reaching the pump, and clean shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import simplejpeg
import traitlets
import xarray as xr

from labkit.buffers import Frame, FrameRing
from labkit.testing import wait_until
from labkit.widgets import ArraySource, FrameSource, LiveView
from labkit.widgets import _liveview as liveview_module
from labkit.widgets import _static as static_module
from labkit.widgets._binning import bin_mean


class Recorder:
    """Stands in for the comm: records every message the widget sends."""

    def __init__(self) -> None:
        self.msgs: list[tuple[dict, list]] = []
        self.lock = threading.Lock()

    def __call__(self, content, buffers=None):
        with self.lock:
            self.msgs.append((content, list(buffers or [])))

    def frames(self) -> list[tuple[dict, list]]:
        with self.lock:
            return [m for m in self.msgs if m[0]["type"] == "frame"]


class CountingSource:
    """A FrameSource whose camera runs at 1 kHz (faster than any link): always a new frame."""

    def __init__(self, shape=(256, 256)) -> None:
        self.t0 = time.monotonic()
        self.index = -1
        self.shape = shape
        self.dtype = np.dtype(np.uint16)

    def latest(self) -> Frame:
        self.index = max(self.index + 1, int((time.monotonic() - self.t0) * 1000))
        data = np.full(self.shape, self.index % 65536, np.uint16)
        return Frame(data, self.index, time.time(), {})


def wait_for(cond, timeout: float = 10.0):
    return wait_until(cond, timeout_s=timeout, what=getattr(cond, "__name__", "a condition"))


def pump_rounds(view: LiveView, rounds: int = 3) -> None:
    """Wait until the pump has gone round ``rounds`` more times. Each round checks credit,
    visibility and the source, so it is a chance to send: 'nothing was sent' is asserted after
    a few rounds, never after a fixed sleep."""
    counter = view.__dict__.get("_test_rounds")
    if counter is None:
        counter = view._test_rounds = [0]
        original = view._pump_once

        def counted(now=None):
            try:
                return original(now)
            finally:
                counter[0] += 1

        view._pump_once = counted
    target = counter[0] + rounds
    wait_until(lambda: counter[0] >= target, timeout_s=10, what=f"{rounds} pump rounds")


def make_view(source, **kw) -> tuple[LiveView, Recorder]:
    view = LiveView(source, **kw)
    rec = Recorder()
    view.send = rec  # the pump sends through view.send
    return view, rec


def browser(view: LiveView, content: dict) -> None:
    view._on_custom_msg(view, content, [])


def test_first_frame_is_binned_to_the_canvas_and_sent_raw16():
    a = np.random.default_rng(0).integers(0, 4096, (2048, 2048), dtype=np.uint16)
    with make_view(a)[0] as view:
        rec = view.send
        browser(view, {"type": "ready"})
        assert wait_for(lambda: len(rec.frames()) == 1)
        content, buffers = rec.frames()[0]
        assert content["encoding"] == "raw16" and content["bin"] == 3
        assert (content["w"], content["h"], content["full_w"], content["full_h"]) == (
            682,
            682,
            2048,
            2048,
        )
        got = np.frombuffer(buffers[0], np.uint16).reshape(682, 682)
        np.testing.assert_array_equal(got, bin_mean(a[:2046, :2046], 3))
        pump_rounds(view)
        assert len(rec.frames()) == 1  # a static source is sent once


def test_at_most_two_frames_in_flight_and_acks_release_more():
    view, rec = make_view(CountingSource(), credit_timeout_s=30)
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: len(rec.frames()) == 2)
        pump_rounds(view)
        assert len(rec.frames()) == 2
        browser(view, {"type": "ack", "seq": rec.frames()[0][0]["seq"]})
        assert wait_for(lambda: len(rec.frames()) == 3)
        pump_rounds(view)
        assert len(rec.frames()) == 3
        stats = view.stats
        assert stats["frames_sent"] == 3 and stats["in_flight"] == 2
        assert stats["frames_skipped"] > 0  # newest wins: the source ran ahead, nothing queued
        indices = [m[0]["index"] for m in rec.frames()]
        assert indices == sorted(indices)


def test_credit_timeout_lets_the_view_recover_without_acks():
    view, rec = make_view(CountingSource(), credit_timeout_s=0.2)
    statuses = []
    view.observe(lambda change: statuses.append(change["new"]), "status")
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: len(rec.frames()) >= 4, timeout=5)
        assert view.stats["credit_timeouts"] >= 2
        warnings = [st for st in statuses if st[0] == "warning"]
        assert len(warnings) == 1 and "busy" in warnings[0][1]  # said once, not per timeout
        assert view.status == warnings[0]

        def ack_newest_until_ok():
            browser(view, {"type": "ack", "seq": rec.frames()[-1][0]["seq"]})
            return view.status == ("ok", "")

        assert wait_for(ack_newest_until_ok)  # acks flow again: the warning is cleared


def test_viewport_zoom_resends_the_same_frame_at_full_resolution():
    a = np.arange(2048 * 2048, dtype=np.uint32).reshape(2048, 2048).astype(np.uint16)
    view, rec = make_view(a)
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: len(rec.frames()) == 1)
        assert rec.frames()[0][0]["bin"] == 3
        browser(view, {"type": "ack", "seq": 0})
        browser(
            view,
            {
                "type": "viewport",
                "canvas_w": 640,
                "canvas_h": 640,
                "zoom": 4.0,
                "x0": 100,
                "y0": 200,
                "x1": 260,
                "y1": 360,
            },
        )
        assert wait_for(lambda: len(rec.frames()) == 2)
        content, buffers = rec.frames()[1]
        assert content["bin"] == 1 and content["index"] == 0
        x, y, w, h = content["x"], content["y"], content["w"], content["h"]
        assert x <= 100 and y <= 200 and x + w >= 260 and y + h >= 360
        got = np.frombuffer(buffers[0], np.uint16).reshape(h, w)
        np.testing.assert_array_equal(got, a[y : y + h, x : x + w])


def test_hidden_view_sends_nothing_until_visible_again():
    view, rec = make_view(CountingSource(), credit_timeout_s=30)
    with view:
        browser(view, {"type": "ready"})  # the browser reports visibility after rendering
        browser(view, {"type": "visible", "visible": False})
        pump_rounds(view)
        sent = len(rec.frames())
        assert sent <= 2  # at most what went out before the page said it is hidden
        for content, _ in rec.frames():  # credit back: only the visibility holds the pump now
            browser(view, {"type": "ack", "seq": content["seq"]})
        pump_rounds(view)
        assert len(rec.frames()) == sent
        browser(view, {"type": "visible", "visible": True})
        assert wait_for(lambda: len(rec.frames()) >= sent + 2)


def test_contrast_change_from_the_browser_never_triggers_a_frame():
    view, rec = make_view(np.full((64, 64), 7, np.uint16))
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: len(rec.frames()) == 1)
        browser(view, {"type": "ack", "seq": 0})
        view.set_state({"contrast": [0, 100, 1.5]})  # what a histogram drag syncs, once, at the end
        view.colormap = "magma"
        pump_rounds(view)
        assert view.contrast == (0.0, 100.0, 1.5)
        assert len(rec.frames()) == 1


def test_raw8_and_jpeg_encodings_carry_scale_and_offset():
    a = np.linspace(100, 4000, 128 * 128).astype(np.uint16).reshape(128, 128)
    for encoding in ("raw8", "jpeg"):
        view, rec = make_view(a, encoding=encoding)
        with view:
            browser(view, {"type": "ready"})
            assert wait_for(lambda rec=rec: len(rec.frames()) == 1)
            content, buffers = rec.frames()[0]
            assert content["encoding"] == encoding and content["bin"] == 1
            if encoding == "raw8":
                u8 = np.frombuffer(buffers[0], np.uint8).reshape(128, 128)
            else:
                u8 = simplejpeg.decode_jpeg(bytes(buffers[0]), colorspace="GRAY")[:, :, 0]
            back = u8.astype(float) * content["scale"] + content["offset"]
            assert np.median(np.abs(back - a)) < 2 * content["scale"]


def test_max_fps_paces_the_pump():
    view, rec = make_view(CountingSource(), max_fps=20)
    with view:
        browser(view, {"type": "ready"})

        def eight_sent_acking_each():
            for content, _ in rec.frames():
                browser(view, {"type": "ack", "seq": content["seq"]})
            return len(rec.frames()) >= 8

        assert wait_for(eight_sent_acking_each)
        frames = [content for content, _ in rec.frames()]
        assert {c["send_cap_fps"] for c in frames} == {20.0}
        # a token bucket of 1.5 frames refilled at 20/s: n sends span >= (n - 1 - 1.5) / 20 s
        # (a busy machine only spreads them more; unpaced, 8 sends take a few ms)
        n = len(frames)
        assert frames[-1]["sent_s"] - frames[0]["sent_s"] >= (n - 1 - 1.5) / 20 * 0.95


def test_snapshot_returns_a_dataarray_with_coords_and_state():
    da = xr.DataArray(
        np.arange(12, dtype=np.uint16).reshape(3, 4),
        dims=("y", "x"),
        coords={"y": [0.0, 0.5, 1.0], "x": [0.0, 0.5, 1.0, 1.5]},
    )
    view, _ = make_view(da, contrast=(0, 10))
    with view:
        snap = view.snapshot()
        assert snap.dims == ("y", "x")
        np.testing.assert_array_equal(snap.values, da.values)
        np.testing.assert_array_equal(snap.x.values, da.x.values)
        assert snap.attrs["contrast"] == [0.0, 10.0, 1.0] and snap.attrs["index"] == 0


def test_snapshot_button_keeps_the_frame_and_calls_back():
    source = ArraySource(np.ones((8, 8), np.uint16))
    view, rec = make_view(source)
    got = []
    view.on_snapshot(got.append)
    with view:
        browser(view, {"type": "ready"})
        source.update(np.full((8, 8), 5, np.uint16))
        browser(view, {"type": "snapshot"})
        assert wait_for(lambda: view.last_snapshot is not None)
        assert int(view.last_snapshot.values[0, 0]) == 5 and got and got[0] is view.last_snapshot
        assert wait_for(lambda: "snapshot of frame 1" in view.status[1])


def test_snapshot_without_a_frame_says_so_under_the_image_and_raises():
    class NoFrames:
        def latest(self):
            return None

    view, _ = make_view(NoFrames())
    with view:
        browser(view, {"type": "ready"})
        browser(view, {"type": "snapshot"})  # the page's button
        assert wait_for(lambda: view.status[0] == "warning")
        assert "no snapshot: the source has no frame yet" in view.status[1]
        assert view.last_snapshot is None
        with pytest.raises(TimeoutError, match="no frame yet"):
            view.snapshot(timeout_s=60)  # served (and refused) by the pump, not timed out


def test_ring_reader_source_is_read_zero_copy_and_not_closed_by_the_view():
    with FrameRing.create((128, 128), np.uint16, n_slots=4) as ring:
        reader = ring.reader("test")
        view, rec = make_view(reader)
        with view:
            browser(view, {"type": "ready"})
            ring.write(np.full((128, 128), 42, np.uint16))
            assert wait_for(lambda: len(rec.frames()) == 1)
            content, buffers = rec.frames()[0]
            assert content["index"] == 0
            assert np.frombuffer(buffers[0], np.uint16).max() == 42
            browser(view, {"type": "ack", "seq": 0})
            ring.write(np.full((128, 128), 43, np.uint16))
            assert wait_for(lambda: len(rec.frames()) == 2)
        assert not reader.closed  # the user's reader stays theirs
        reader.close()


def test_browser_stats_and_message_counters():
    view, _ = make_view(np.zeros((4, 4), np.uint16))
    with view:
        browser(view, {"type": "stats", "painted": 12, "fps_painted": 59.5, "latency_ms_p50": 20.0})
        s = view.stats
        assert s["painted"] == 12 and s["fps_painted"] == 59.5 and s["encoding"] == "raw16"
        assert view.messages_received == {"stats": 1}


def test_protocol_and_errors():
    assert isinstance(ArraySource(np.zeros((2, 2), np.uint8)), FrameSource)
    with pytest.raises(TypeError, match="pass a Scope, a RingReader"):
        LiveView(object())
    with pytest.raises(ValueError, match="2-D"):
        LiveView(np.zeros((2, 2, 2), np.uint16))
    with pytest.raises(ValueError, match="Scale it first"):
        ArraySource(np.full((2, 2), -1.5))
    with pytest.raises(ValueError, match="'auto', 'raw16'"):
        LiveView(np.zeros((2, 2), np.uint16), encoding="png")
    with LiveView(np.zeros((2, 2), np.uint16)) as view:
        with pytest.raises(traitlets.TraitError, match="choose one of gray, viridis"):
            view.colormap = "rainbow"
        with pytest.raises(traitlets.TraitError, match="hi > lo"):
            view.contrast = (5, 1)
        with pytest.raises(traitlets.TraitError, match=r"\(x, y, w, h\)"):
            view.roi = (1, 2, 0, 3)
        view.roi = [1.0, 2.0, 3.0, 4.0]
        assert view.roi == (1, 2, 3, 4)
        assert view.width_px == 0  # default: as wide as the page gives it
        with pytest.raises(traitlets.TraitError, match="or 0 for as wide as"):
            view.width_px = -5
        view.width_px = 640
    with pytest.raises(traitlets.TraitError, match="width_px"):
        LiveView(np.zeros((2, 2), np.uint16), width_px=3)


def test_missing_bundle_says_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setattr(static_module, "STATIC_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="npm --prefix js"):
        LiveView(np.zeros((2, 2), np.uint16))


def test_close_stops_the_pump_and_is_idempotent():
    view, _ = make_view(CountingSource())
    browser(view, {"type": "ready"})
    assert view._thread is not None and view._thread.is_alive()
    view.close()
    assert not view._thread.is_alive()
    view.close()
    with pytest.raises(RuntimeError, match="closed"):
        view.start()


def test_scope_source_follows_the_engine_ring_and_closes_its_reader():
    from labkit.engine import Scope

    with Scope(shape=(256, 256)) as scope:
        scope.camera.frame_rate_hz = 50
        scope.start()
        view, rec = make_view(scope)
        with view:
            browser(view, {"type": "ready"})
            assert wait_for(lambda: len(rec.frames()) == 2, timeout=10)
            for content, _ in rec.frames():
                browser(view, {"type": "ack", "seq": content["seq"]})
            assert wait_for(lambda: len(rec.frames()) >= 3, timeout=10)
            content, buffers = rec.frames()[0]
            assert (content["full_w"], content["full_h"], content["bin"]) == (256, 256, 1)
            assert np.frombuffer(buffers[0], np.uint16).size == 256 * 256
            readers = scope.health().readers
            assert any(name.startswith("liveview-") for name in readers), readers
            # a new camera shape means a new ring: the view follows it
            old_ring = scope.ring_name
            scope.camera.binning = 2

            def sees_new_shape():
                for content, _ in rec.frames()[-2:]:
                    browser(view, {"type": "ack", "seq": content["seq"]})
                return rec.frames()[-1][0]["full_w"] == 128

            assert wait_for(sees_new_shape, timeout=15)
            assert scope.ring_name != old_ring
        assert view._source._reader is None  # the view closed the reader it opened


class BrokenSource:
    def latest(self):
        raise OSError("camera unplugged")


def test_source_errors_are_shown_in_the_widget_and_the_pump_survives():
    view, rec = make_view(BrokenSource())
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: view.error is not None)
        assert view.error == "OSError: camera unplugged"
        assert wait_for(lambda: view.status[0] == "error")
        assert "camera unplugged" in view.status[1]
        assert view._thread.is_alive() and view.stats["errors"] >= 1


def test_malformed_viewport_messages_are_ignored(caplog):
    view, rec = make_view(np.zeros((64, 64), np.uint16))
    with view:
        for bad in (
            {"type": "viewport"},
            {
                "type": "viewport",
                "canvas_w": 1,
                "canvas_h": 1,
                "zoom": 0,
                "x0": 0,
                "y0": 0,
                "x1": 1,
                "y1": 1,
            },
            {"type": "viewport", "canvas_w": "x"},
        ):
            browser(view, bad)
        assert view._viewport is None
        assert sum("malformed viewport" in r.message for r in caplog.records) == 3
        browser(
            view,
            {
                "type": "viewport",
                "canvas_w": 100.0,
                "canvas_h": 100,
                "zoom": 2,
                "x0": 1,
                "y0": 2,
                "x1": 30,
                "y1": 40,
            },
        )
        assert view._viewport.x1 == 30 and isinstance(view._viewport.canvas_w, int)


def test_no_frames_once_every_view_closed_until_a_view_is_back():
    view, rec = make_view(CountingSource(), credit_timeout_s=30)
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: len(rec.frames()) == 2)
        browser(view, {"type": "closed"})
        for content, _ in rec.frames():
            browser(view, {"type": "ack", "seq": content["seq"]})
        pump_rounds(view)
        assert len(rec.frames()) == 2
        browser(view, {"type": "ready"})  # the notebook is opened again
        assert wait_for(lambda: len(rec.frames()) == 4)


def test_a_silent_browser_is_treated_as_gone(monkeypatch):
    monkeypatch.setattr(liveview_module, "ORPHAN_TIMEOUTS", 5)
    view, rec = make_view(CountingSource(), credit_timeout_s=0.02)
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: view.stats["credit_timeouts"] >= 5)
        pump_rounds(view)
        n = len(rec.frames())
        pump_rounds(view, 10)  # had it not paused, each round would send one frame per timeout
        assert len(rec.frames()) == n  # paused instead of one frame per timeout forever
        browser(view, {"type": "stats", "painted": 1})  # any message: a browser is there
        assert wait_for(lambda: len(rec.frames()) > n)


def test_encoding_can_be_changed_while_running():
    view, rec = make_view(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    with view:
        browser(view, {"type": "ready"})
        assert wait_for(lambda: len(rec.frames()) == 1)
        browser(view, {"type": "ack", "seq": 0})
        view.encoding = "raw8"
        assert wait_for(lambda: len(rec.frames()) == 2)  # the same frame again, now 8-bit
        assert rec.frames()[1][0]["encoding"] == "raw8" and view.encoding == "raw8"
        with pytest.raises(ValueError, match="'auto', 'raw16'"):
            view.encoding = "webp"


def test_a_widget_shown_twice_sends_while_any_view_is_visible():
    view, rec = make_view(CountingSource(), credit_timeout_s=30)
    with view:
        browser(view, {"type": "ready", "view": "a"})
        browser(view, {"type": "ready", "view": "b"})
        browser(view, {"type": "visible", "visible": False, "view": "a"})
        assert wait_for(lambda: len(rec.frames()) == 2)  # b is still visible
        browser(view, {"type": "visible", "visible": False, "view": "b"})
        for content, _ in rec.frames():
            browser(view, {"type": "ack", "seq": content["seq"]})
        pump_rounds(view)
        assert len(rec.frames()) == 2 and view.stats["visible"] is False
        browser(view, {"type": "closed", "view": "b"})  # only hidden "a" is left
        pump_rounds(view)
        assert len(rec.frames()) == 2
        browser(view, {"type": "visible", "visible": True, "view": "a"})
        assert wait_for(lambda: len(rec.frames()) == 4)
