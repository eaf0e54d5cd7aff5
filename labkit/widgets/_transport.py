"""Flow control for the live view: a credit window and the automatic encoding choice.

Credit: at most ``max_in_flight`` frames are unacknowledged; the browser acks each frame on
receipt. ipykernel handles comm messages (acks) only when the kernel is idle, so while a cell
runs acks pile up unread: after ``timeout_s`` without an ack the window reclaims its credit
(counted in ``timeouts``) so the view resumes — slowly — instead of freezing for good.

Pacing: the browser measures how often it can really paint (its requestAnimationFrame rate) and
reports it; :class:`SendPacer` spaces sends to ``min(max_fps, paint rate)`` by time (a token
bucket), so the kernel stops binning, encoding and sending frames the browser would replace
before painting them. Newest still wins: a paced send takes the newest frame at that moment.
:class:`BrowserViews` keeps what the kernel knows of each browser view (visible, paint rate).

Encoding (``encoding="auto"``): start with raw uint16 (exact values, no kernel work); step down
to 8 bits and then JPEG when the measured ack round trip shows the link cannot carry the frames
fast enough, and step back up when it clearly can. marimo sends buffers as base64, so auto
starts with JPEG there.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass

__all__ = [
    "ENCODINGS",
    "BrowserViews",
    "CreditWindow",
    "EncodingPolicy",
    "SendPacer",
    "frame_rate",
]

ENCODINGS = ("raw16", "raw8", "jpeg")


class CreditWindow:
    """Thread-safe credit accounting for frames in flight.

    ``acquire()`` returns a sequence number or None (no credit); ``ack(seq)`` returns the round
    trip in seconds (None for an unknown or reclaimed seq). ``now`` arguments exist for tests;
    they default to ``time.monotonic()``.
    """

    def __init__(self, max_in_flight: int = 2, timeout_s: float = 1.5) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._in_flight: dict[int, float] = {}
        self._next_seq = 0
        self.sent = 0
        self.acked = 0
        self.timeouts = 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def _reclaim(self, now: float) -> None:
        stale = [s for s, t in self._in_flight.items() if now - t >= self.timeout_s]
        for s in stale:
            del self._in_flight[s]
        self.timeouts += len(stale)

    def has_credit(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._reclaim(now)
            return len(self._in_flight) < self.max_in_flight

    def acquire(self, now: float | None = None) -> int | None:
        """Take one credit: the new frame's sequence number, or None when the window is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._reclaim(now)
            if len(self._in_flight) >= self.max_in_flight:
                return None
            seq = self._next_seq
            self._next_seq += 1
            self._in_flight[seq] = now
            self.sent += 1
            return seq

    def ack(self, seq: int, now: float | None = None) -> float | None:
        """Return the credit of frame ``seq``; its round trip in s, or None if unknown/reclaimed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            t = self._in_flight.pop(seq, None)
            if t is None:
                return None
            self.acked += 1
            return now - t

    def ack_through(self, seq: int, now: float | None = None) -> float | None:
        """A cumulative ack: return the credit of ``seq`` and of every earlier one in flight
        (a receiver that acks every few messages); the round trip of ``seq`` in s, or None when
        ``seq`` itself is unknown or reclaimed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            done = [s for s in self._in_flight if s <= seq]
            t = self._in_flight.get(seq)
            for s in done:
                del self._in_flight[s]
            self.acked += len(done)
            return None if t is None else now - t

    def next_deadline(self) -> float | None:
        """Monotonic time at which the oldest in-flight frame times out (None if none)."""
        with self._lock:
            if not self._in_flight:
                return None
            return min(self._in_flight.values()) + self.timeout_s

    def reset(self) -> None:
        """Forget frames in flight (a new browser view connected)."""
        with self._lock:
            self._in_flight.clear()


@dataclass
class _Sample:
    encoding: str
    rtt_s: float
    nbytes: int


class EncodingPolicy:
    """Chooses the encoding from ack round trips when ``mode == "auto"``; else fixed.

    Rule (per window of ``window`` acks of the current encoding): step down (raw16 → raw8 →
    jpeg) when the median round trip exceeds ``slow_s`` — the link, not the camera, limits
    the frame rate; step up when the median round trip, scaled by the byte ratio of the richer
    encoding, stays under ``fast_s``. If a step down did not cut the round trip by at least 20%
    (per-message latency, e.g. a loaded machine, not bytes, is the limit) it is undone and no
    step down is tried for ``10 * window`` frames. 8-bit sources never use raw16.
    """

    # bytes of the next richer level / bytes of this level (roughly)
    _RICHER_RATIO = {"raw8": 2.0, "jpeg": 4.0}

    def __init__(
        self,
        mode: str = "auto",
        *,
        source_bits: int = 16,
        prefer_small: bool = False,
        slow_s: float = 0.036,  # 2 frames in flight / 0.036 s = 55 fps
        fast_s: float = 0.025,
        window: int = 20,
    ) -> None:
        if mode not in ("auto", *ENCODINGS):
            raise ValueError(f"encoding must be 'auto', 'raw16', 'raw8' or 'jpeg', got {mode!r}")
        self.mode = mode
        self.slow_s, self.fast_s, self.window = slow_s, fast_s, window
        self._levels = list(ENCODINGS) if source_bits > 8 else ["raw8", "jpeg"]
        if mode == "auto":
            self.current = "jpeg" if prefer_small else self._levels[0]
        else:
            self.current = "raw8" if (mode == "raw16" and source_bits <= 8) else mode
        self._samples: deque[_Sample] = deque(maxlen=window)
        self.switches = 0
        self._rtt_above: float | None = None  # median round trip of the level we stepped down from
        self._cooldown = 0  # frames before another step down may be tried

    def record(self, rtt_s: float, nbytes: int) -> str:
        """Add one ack round trip of a frame of ``nbytes``; returns the encoding to use next."""
        self._samples.append(_Sample(self.current, rtt_s, nbytes))
        if self.mode != "auto":
            return self.current
        self._cooldown = max(0, self._cooldown - 1)
        mine = [s for s in self._samples if s.encoding == self.current]
        if len(mine) < self.window:
            return self.current
        rtt = statistics.median(s.rtt_s for s in mine)
        level = self._levels.index(self.current)
        if level > 0 and self._rtt_above is not None and rtt >= 0.8 * self._rtt_above:
            self._switch(self._levels[level - 1], None)  # smaller frames did not help: undo
            self._cooldown = 10 * self.window
        elif rtt > self.slow_s and level + 1 < len(self._levels) and self._cooldown == 0:
            self._switch(self._levels[level + 1], rtt)
        elif level > 0:
            if rtt * self._RICHER_RATIO.get(self.current, 1.0) < self.fast_s:
                self._switch(self._levels[level - 1], None)
            else:
                self._rtt_above = None  # the step down helped: stay
        return self.current

    def _switch(self, encoding: str, rtt_above: float | None) -> None:
        self.current = encoding
        self.switches += 1
        self._rtt_above = rtt_above
        self._samples.clear()


class BrowserViews:
    """What the kernel knows about each browser view of one widget: alive, visible, paint rate.

    A widget displayed twice has two views; the kernel sends while any of them is visible, and
    as fast as the fastest visible one paints. Message handlers run on the kernel's main thread,
    the pump reads from its own thread: a lock keeps the two consistent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._visible: dict[str, bool] = {}  # view id -> visible
        self._paint_fps: dict[str, float] = {}  # view id -> reported paint rate (frames/s)
        self.alive = 0  # views rendered ("ready") and not closed
        self.had_view = False

    def ready(self, view: str) -> None:
        with self._lock:
            self._visible[view] = True  # until it says otherwise
            self.alive += 1
            self.had_view = True

    def closed(self, view: str) -> None:
        with self._lock:
            self.alive = max(0, self.alive - 1)
            self._visible.pop(view, None)
            self._paint_fps.pop(view, None)

    def set_visible(self, view: str, visible: bool) -> None:
        with self._lock:
            self._visible[view] = visible

    def set_paint_fps(self, view: str, fps: float) -> None:
        """Record a view's measured paint rate; ``ValueError`` unless 0 < fps <= 1000."""
        if not 0 < fps <= 1000:
            raise ValueError(f"paint rate must be in (0, 1000] frames/s, got {fps!r}")
        with self._lock:
            self._paint_fps[view] = float(fps)

    @property
    def visible(self) -> bool:
        """True while any view is visible (or none has said anything yet)."""
        with self._lock:
            return not self._visible or any(self._visible.values())

    @property
    def n_visible(self) -> int:
        with self._lock:
            return sum(self._visible.values())

    def paint_fps(self) -> float | None:
        """Paint rate (frames/s) of the fastest visible view, or None while a visible view has
        not measured its rate yet (then nothing caps the sends)."""
        with self._lock:
            shown = [v for v, vis in self._visible.items() if vis]
            if not shown or any(v not in self._paint_fps for v in shown):
                return None
            return max(self._paint_fps[v] for v in shown)


class SendPacer:
    """Spaces sends to at most ``cap_fps`` frames per second, by time (a token bucket).

    ``cap_fps = min(max_fps, paint_fps * headroom)``; None when neither is known (no pacing).
    A token accrues every ``1 / cap_fps`` s up to ``burst`` tokens and a send spends one, so a
    send that was late (the pump woke a little after its time) is made up by the next one
    instead of lowering the rate, but sends never bunch up by more than ``burst``. ``now``
    arguments are seconds on any monotonic clock (tests inject one).

    Phase: sends at the paint rate that reach the page right at a display frame's edge collide
    (two in one frame: the page queues the second, a display frame later; none in the next: a
    display frame without a new frame). :meth:`align` takes
    the page's "time until my next paint" of each received frame and nudges the schedule so
    frames land a margin before the paint (a phase-locked loop with gain ``phase_gain`` per ack).
    The margin is 0.5 ms + 3 × the median absolute deviation of the recent waits (the arrival
    jitter), within [1.5 ms, 0.4 period]: as close to the paint as the jitter allows, since
    every ms a frame waits for its paint is camera→paint latency.
    """

    phase_gain = 0.1
    #: frames the page keeps waiting behind the one it paints next (js/src/liveview/widget.ts)
    MAX_QUEUED = 1

    def __init__(
        self, max_fps: float | None = None, headroom: float = 1.0, burst: float = 1.5
    ) -> None:
        if max_fps is not None and not max_fps > 0:
            raise ValueError(f"max_fps must be > 0 frames/s or None, got {max_fps!r}")
        if not headroom > 0 or not burst >= 1:
            raise ValueError(f"need headroom > 0 and burst >= 1, got {headroom!r}, {burst!r}")
        self.max_fps = max_fps
        self.headroom = headroom
        self.burst = burst
        self.paint_fps: float | None = None
        self._tokens = burst
        self._t: float | None = None
        self._waits: deque[float] = deque(maxlen=32)  # recent "time until the next paint", s
        self.target_wait_s: float | None = None

    @property
    def cap_fps(self) -> float | None:
        """Frames per second the sends are held to now (None: not paced)."""
        caps = [c for c in (self.max_fps, self.paint_fps) if c is not None]
        if self.paint_fps is not None:
            caps[-1] = self.paint_fps * self.headroom
        return min(caps) if caps else None

    def _refill(self, now: float) -> float | None:
        cap = self.cap_fps
        if self._t is not None and cap is not None:
            self._tokens = min(self.burst, self._tokens + max(0.0, now - self._t) * cap)
        elif cap is None:
            self._tokens = self.burst
        self._t = now
        return cap

    def wait_s(self, now: float) -> float:
        """Seconds until the next send is allowed (0.0: send now)."""
        cap = self._refill(now)
        if cap is None or self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / cap

    def align(self, vsync_in_s: float) -> None:
        """A frame reached the page ``vsync_in_s`` seconds before its next paint: shift the
        schedule by ``phase_gain`` of the error (later if it arrived too early).

        A wait between 3/4 of a period and a period is read as "just after a paint" (late: it
        missed that paint, or the page had not run that paint's callback yet), not as very
        early. A wait over a period means the frame queued behind another one in the page (the
        page keeps up to ``MAX_QUEUED`` + 1 unpainted, so two arriving within one display frame
        both paint): a period or more early, every frame a display frame later than it could be;
        the schedule then moves later until the queue is gone."""
        cap = self.cap_fps
        if cap is None or self.paint_fps is None:
            return
        period = 1.0 / self.paint_fps
        if not 0.0 <= vsync_in_s <= (self.MAX_QUEUED + 1) * period:
            return
        if vsync_in_s > period:
            lead_s = vsync_in_s
        elif vsync_in_s > 0.75 * period:
            lead_s = vsync_in_s - period
        else:
            lead_s = vsync_in_s
        self._waits.append(lead_s)
        target = 0.3 * period
        if len(self._waits) >= 8:
            med = statistics.median(self._waits)
            spread = statistics.median(abs(w - med) for w in self._waits)
            target = min(0.4 * period, max(0.0015, 0.0005 + 3.0 * spread))
        self.target_wait_s = target
        error_s = lead_s - target
        self._tokens = max(-1.0, min(self.burst, self._tokens - self.phase_gain * error_s * cap))

    def sent(self, now: float) -> None:
        """A frame was sent at ``now``: spend a token."""
        if self._refill(now) is not None:
            self._tokens = max(-1.0, self._tokens - 1.0)


def frame_rate(frames: list[tuple[int, float]]) -> float | None:
    """Camera frames per second from ``(index, timestamp_s)`` pairs in order (None when they
    span less than 0.1 s)."""
    if len(frames) < 2 or frames[-1][1] - frames[0][1] <= 0.1:
        return None
    (i0, t0), (i1, t1) = frames[0], frames[-1]
    return round((i1 - i0) / (t1 - t0), 2)
