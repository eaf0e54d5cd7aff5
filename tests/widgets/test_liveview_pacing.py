"""Send pacing of the live view: the kernel holds its sends to the paint rate the browser reports
(and ``max_fps``), by time, newest frame wins, and skipped frames are counted by cause.

Deterministic: the pump is stepped with an injected clock (no thread, no sleeps)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labkit.buffers import Frame
from labkit.widgets import LiveView
from labkit.widgets._transport import BrowserViews, SendPacer, frame_rate


class ClockCamera:
    """A camera at ``fps`` on the test's clock: ``latest()`` is the newest frame at ``t``."""

    shape = (16, 16)
    dtype = np.dtype(np.uint16)

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.t = 0.0
        self.calls = 0

    def index_at(self, t: float) -> int:
        return int(math.floor(t * self.fps + 1e-9))

    def latest(self) -> Frame:
        self.calls += 1
        i = self.index_at(self.t)
        return Frame(np.full(self.shape, i % 65536, np.uint16), i, i / self.fps, {})


class Browser:
    """Records frames sent by the view; acks each one ``ack_delay_s`` after it was sent."""

    def __init__(self, view: LiveView, ack_delay_s: float) -> None:
        self.view, self.ack_delay_s = view, ack_delay_s
        self.sent: list[tuple[float, dict]] = []  # (clock time, content)
        self.t = 0.0
        self._unacked: list[tuple[float, int]] = []
        view.send = self._send  # type: ignore[method-assign]

    def _send(self, content: dict, buffers: list | None = None) -> None:
        self.sent.append((self.t, content))
        self._unacked.append((self.t + self.ack_delay_s, content["seq"]))

    def deliver_acks(self, t: float) -> None:
        due = [s for when, s in self._unacked if when <= t]
        self._unacked = [(w, s) for w, s in self._unacked if w > t]
        for seq in due:
            self.view._credit.ack(seq, now=t)


def message(view: LiveView, content: dict) -> None:
    view._on_custom_msg(view, content, [])


def simulate(camera_fps: float, paint_fps: float | None, seconds: float, ack_delay_s=0.005, **kw):
    """Step the pump every 0.5 ms for ``seconds``; returns (view, browser, camera)."""
    camera = ClockCamera(camera_fps)
    view = LiveView(camera, encoding="raw16", credit_timeout_s=1e9, **kw)
    view.start = lambda: None  # type: ignore[method-assign]  # the test drives the pump itself
    browser = Browser(view, ack_delay_s)
    message(view, {"type": "ready", "view": "a"})
    if paint_fps is not None:
        message(view, {"type": "paint_rate", "view": "a", "fps": paint_fps})
    t = 0.0
    while t < seconds:
        camera.t = browser.t = t
        browser.deliver_acks(t)
        view._pump_once(now=t)
        t = round(t + 0.0005, 6)
    return view, browser, camera


def sends_in_windows(times: list[float], window_s: float, seconds: float) -> list[int]:
    edges = np.arange(0.0, seconds - window_s + 1e-9, window_s / 4)
    return [sum(1 for t in times if a <= t < a + window_s) for a in edges]


def test_sends_are_held_to_the_reported_paint_rate_and_carry_the_newest_frame():
    view, browser, camera = simulate(camera_fps=100, paint_fps=60, seconds=5.0)
    try:
        times = [t for t, _ in browser.sent]
        # at most cap * window (+1 for the window edge, +0.5 for the token bucket's burst)
        assert max(sends_in_windows(times, 1.0, 5.0)) <= 60 * 1.0 + 1.5
        assert len(times) >= 0.95 * 60 * 5  # and the cap is used, not undershot
        # newest wins: each send carries the newest camera frame at that moment
        for t, content in browser.sent:
            assert content["index"] == camera.index_at(t)
            assert content["send_cap_fps"] == 60
        stats = view.stats
        assert stats["send_cap_fps"] == 60 and stats["paint_rate_fps"] == 60
        assert stats["camera_fps"] == pytest.approx(100, rel=0.02)
        # 500 camera frames, ~300 sent: the rest were skipped because of the cap, not credit
        assert stats["frames_skipped"] == camera.index_at(times[-1]) - len(times) + 1
        assert stats["frames_skipped_cap"] >= 0.9 * stats["frames_skipped"] > 0
        assert stats["frames_skipped_credit"] == 0
    finally:
        view.close()


def test_no_send_waits_longer_than_one_pacing_interval_after_a_new_frame():
    view, browser, camera = simulate(camera_fps=100, paint_fps=60, seconds=3.0)
    try:
        times = [t for t, _ in browser.sent]
        # between two sends at most one interval (+ one 0.5 ms step of the simulation)
        assert max(np.diff(times)) <= 1 / 60 + 0.0006
        # a sent frame is never older than one pacing interval (camera period 10 ms < 16.7 ms)
        ages = [t - c["index"] / 100 for t, c in browser.sent]
        assert max(ages) <= 1 / 60 + 0.0006
    finally:
        view.close()


def test_slow_camera_frames_go_out_on_arrival():
    view, browser, camera = simulate(camera_fps=25, paint_fps=60, seconds=2.0)
    try:
        ages = [t - c["index"] / 25 for t, c in browser.sent]
        assert len(browser.sent) == camera.index_at(2.0 - 0.0005) + 1  # every frame sent
        assert max(ages) <= 0.0006  # in the step it appeared: the cap never delayed it
        assert view.stats["frames_skipped"] == 0
        assert view.stats["send_cap_fps"] == pytest.approx(25, rel=0.05)  # min(camera, paint)
    finally:
        view.close()


def test_without_a_paint_report_or_with_pacing_off_credit_is_the_only_limit():
    for kw in ({"paint_fps": None}, {"paint_fps": 30, "pace_to_paint": False}):
        view, browser, _ = simulate(camera_fps=100, seconds=2.0, ack_delay_s=0.001, **kw)
        try:
            assert len(browser.sent) >= 195  # every camera frame (100 fps, acks in 1 ms)
            assert view.stats["frames_skipped_cap"] == 0
            assert browser.sent[-1][1]["send_cap_fps"] is None
        finally:
            view.close()


def test_frames_skipped_for_lack_of_credit_are_counted_apart_from_the_cap():
    # acks take 100 ms: 2 in flight -> ~20 sends/s, well under the 60 fps cap
    view, browser, camera = simulate(camera_fps=100, paint_fps=60, seconds=2.0, ack_delay_s=0.1)
    try:
        stats = view.stats
        assert len(browser.sent) <= 2 / 0.1 * 2 + 2
        assert stats["frames_skipped_credit"] >= 0.9 * stats["frames_skipped"] > 0
        assert stats["frames_skipped_cap"] <= 0.1 * stats["frames_skipped"]
    finally:
        view.close()


def test_the_cap_follows_paint_rate_changes_and_max_fps():
    camera = ClockCamera(200)
    view = LiveView(camera, encoding="raw16", credit_timeout_s=1e9, max_fps=100)
    view.start = lambda: None  # type: ignore[method-assign]
    browser = Browser(view, 0.001)
    message(view, {"type": "ready", "view": "a"})
    counts = []
    try:
        t = 0.0
        for paint in (60, 144, 30):  # moved to a 144 Hz screen, then the tab was throttled
            message(view, {"type": "paint_rate", "view": "a", "fps": paint})
            n0 = len(browser.sent)
            end = t + 2.0
            while t < end:
                camera.t = browser.t = t
                browser.deliver_acks(t)
                view._pump_once(now=t)
                t = round(t + 0.0005, 6)
            counts.append(len(browser.sent) - n0)
        assert 115 <= counts[0] <= 122  # 60 fps
        assert 195 <= counts[1] <= 202  # 144 Hz screen, but max_fps=100
        assert 58 <= counts[2] <= 62  # 30 fps
        assert view.stats["send_cap_fps"] == 30
        view.max_fps = None
        assert view._pacer.cap_fps == 30
        with pytest.raises(ValueError, match="max_fps must be > 0"):
            view.max_fps = 0
    finally:
        view.close()


def test_malformed_paint_rate_messages_are_ignored():
    view = LiveView(ClockCamera(10))
    view.start = lambda: None  # type: ignore[method-assign]
    try:
        message(view, {"type": "ready", "view": "a"})
        for bad in ({}, {"fps": "fast"}, {"fps": -1}, {"fps": float("nan")}, {"fps": 1e9}):
            message(view, {"type": "paint_rate", "view": "a", **bad})
        assert view.stats["paint_rate_fps"] is None and view._pacer.cap_fps is None
    finally:
        view.close()


def test_browser_views_cap_at_the_fastest_visible_view():
    views = BrowserViews()
    assert views.paint_fps() is None and views.visible
    views.ready("a")
    views.ready("b")
    views.set_paint_fps("a", 60)
    assert views.paint_fps() is None  # b is visible and has not measured yet: no cap
    views.set_paint_fps("b", 144)
    assert views.paint_fps() == 144
    views.set_visible("b", False)
    assert views.paint_fps() == 60 and views.visible
    views.set_visible("a", False)
    assert views.paint_fps() is None and not views.visible
    views.closed("a")
    views.closed("b")
    assert views.alive == 0 and views.had_view


def test_pacer_token_bucket():
    p = SendPacer(max_fps=None)
    assert p.cap_fps is None and p.wait_s(0.0) == 0.0
    p.paint_fps = 50
    assert p.cap_fps == 50
    p.sent(0.0)  # the bucket starts full (1.5 tokens): 0.5 left
    assert p.wait_s(0.0) == pytest.approx(0.01)
    assert p.wait_s(0.01) == 0.0
    p.sent(0.01)
    assert p.wait_s(0.01) == pytest.approx(0.02)
    # sent 5 ms late: the next send comes 5 ms early, so the rate stays at the cap
    p.sent(0.035)
    assert p.wait_s(0.035) == pytest.approx(0.015)
    # idle for long: at most 1.5 tokens saved, so the second send after a pause waits half
    # an interval (sends never bunch up)
    assert p.wait_s(10.0) == 0.0
    p.sent(10.0)
    assert p.wait_s(10.0) == pytest.approx(0.01)
    assert SendPacer(max_fps=10, headroom=1.2).cap_fps == 10
    q = SendPacer(max_fps=100, headroom=1.1)
    q.paint_fps = 60
    assert q.cap_fps == pytest.approx(66)
    with pytest.raises(ValueError, match="max_fps must be > 0"):
        SendPacer(max_fps=0)


def test_frame_rate_from_sent_frames():
    assert frame_rate([]) is None
    assert frame_rate([(0, 0.0), (1, 0.05)]) is None  # too short to tell
    assert frame_rate([(0, 0.0), (50, 0.5)]) == 100.0


def test_paced_sends_lock_to_the_pages_paint_phase():
    """The page says, per ack, how long the frame waits for its paint; the pacer shifts its
    schedule so frames land just before a paint (by a margin over the jitter) instead of on a
    paint's edge (where jitter puts two frames in one display frame and none in the next)."""
    period, transit_s, phase0 = 1 / 60, 0.004, 0.0123
    rng = np.random.default_rng(1)
    camera = ClockCamera(100)
    view = LiveView(camera, encoding="raw16", credit_timeout_s=1e9)
    view.start = lambda: None  # type: ignore[method-assign]
    arrivals: list[float] = []
    pending: list[tuple[float, int]] = []

    def send(content, buffers=None):
        arrival = t + transit_s + rng.uniform(-0.001, 0.001)
        arrivals.append(arrival)
        pending.append((arrival, content["seq"]))

    view.send = send  # type: ignore[method-assign]
    message(view, {"type": "ready", "view": "a"})
    message(view, {"type": "paint_rate", "view": "a", "fps": 60})
    try:
        t = 0.0
        while t < 4.0:
            camera.t = t
            for arrival, seq in [p for p in pending if p[0] <= t]:
                pending.remove((arrival, seq))
                vsync_in = period - ((arrival - phase0) % period)
                message(view, {"type": "ack", "seq": seq, "vsync_in_ms": 1e3 * vsync_in})
            view._pump_once(now=t)
            t = round(t + 0.0005, 6)
        late = [a for a in arrivals if a > 2.0]  # after the loop settled
        waits = np.array([period - ((a - phase0) % period) for a in late])
        # as close to the paint as the jitter (±1 ms) allows: 0.5 ms + 3 x MAD (0.5 ms) = 2 ms
        assert 0.0015 <= np.median(waits) <= 0.0035, np.median(waits)
        assert view._pacer.target_wait_s == pytest.approx(np.median(waits), abs=0.0015)
        # every display frame after settling gets exactly one new frame: none replaced, none missed
        slots = np.floor((np.array(late) - phase0) / period).astype(int)
        assert len(set(slots)) == len(slots)
        assert len(late) >= 0.97 * 60 * 2
    finally:
        view.close()


def test_a_frame_arriving_just_after_a_paint_counts_as_late_not_early():
    early, late = SendPacer(), SendPacer()
    for p in (early, late):
        p.paint_fps = 60
        p.sent(0.0)
        p.sent(0.0)  # tokens spent: the next send is due in 1.5 periods
    base = early.wait_s(0.0)
    early.align(0.010)  # 10 ms before the paint: too early -> later sends
    late.align(0.016)  # 16 ms = 0.7 ms after the previous paint: late -> earlier sends
    assert early.wait_s(0.0) > base > late.wait_s(0.0)


def test_a_frame_queued_behind_another_moves_the_sends_later():
    """The page keeps one frame waiting behind the one it paints next (two arriving within one
    display frame both paint); its "time until my paint" is then over a period: every frame
    waits a display frame longer than it could, so the sends move later — further than for a
    frame that arrived a little early — and a wait beyond the queue is ignored."""
    queued, early, beyond = SendPacer(), SendPacer(), SendPacer()
    for p in (queued, early, beyond):
        p.paint_fps = 60
        p.sent(0.0)
        p.sent(0.0)
    base = queued.wait_s(0.0)
    period = 1 / 60
    queued.align(period + 0.010)  # one frame ahead of it: 26.7 ms until its paint
    early.align(0.010)
    beyond.align((SendPacer.MAX_QUEUED + 1) * period + 0.005)  # not a wait the page reports
    assert queued.wait_s(0.0) > early.wait_s(0.0) > base
    assert beyond.wait_s(0.0) == base
