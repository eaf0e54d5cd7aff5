"""``TraceRecorder``: trace streams (signals, node outputs) recorded beside a series' frames.

One thread polls a :class:`~labkit.buffers.TraceReader` per stream (trace buffers have no
wake-up; ``POLL_S`` keeps the reader far inside any buffer's capacity) and appends the rows to
the series' trace writers; every ``flush_interval_s`` it makes them durable and journals how many
rows each stream has on disk (a ``trace`` record), as the frames path journals its shards. Rows
a reader lost (the buffer overwrote them first) are counted and journaled (``trace_lost``).

Which rows belong to the series: those stamped inside its span, from the first frame's timestamp
to the end of the last frame's period (its timestamp + one frame interval), both on the engine's
clock. The span's start is known only once the first frame is kept, and a row stamped after it
may have been written before the series started (a signal writes its samples in blocks), so the
readers also take the last ``HISTORY_S`` of each buffer when they open, and rows wait in memory
until the first frame's timestamp says which to keep. At the end the recorder waits until each
stream has a row stamped past the span (node outputs lag their frames, signals arrive in blocks)
or has been quiet for ``QUIET_S`` (a camera stopped: its node has nothing more), at most
``DRAIN_S``; ``caught_up`` says whether a stream got as far as the last frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.buffers import RingError
from labkit.spool._streams import TraceSpec

log = logging.getLogger(__name__)

__all__ = ["TraceRecorder"]

POLL_S = 0.02
QUIET_S = 0.5
DRAIN_S = 5.0
HISTORY_S = 2.0  # rows stamped this long before the series opened may still be inside its span
HISTORY_ROWS = 65_536

Journal = Callable[[list[dict[str, Any]], bool], None]


class _Track:
    """One stream: its reader, its writer and what was recorded."""

    def __init__(self, spec: TraceSpec, reader: Any, since_s: float) -> None:
        self.spec = spec
        self.reader = reader
        self.writer: Any = None
        t, v = reader.latest(HISTORY_ROWS)  # rows written before the series opened
        keep = t >= since_s
        self.pending: list[tuple[np.ndarray, np.ndarray]] = [(t[keep], v[keep])]
        self.times: list[np.ndarray] = []  # every row's time (8 bytes a row): the end trim
        self.rows_lost = 0
        self.rows_durable = 0
        self.newest_s = float(t.max()) if len(t) else -np.inf  # the newest timestamp seen
        self.last_new = time.monotonic()  # when rows last arrived
        self.error: str | None = None

    @property
    def rows(self) -> int:
        return 0 if self.writer is None else int(self.writer.rows)

    def hold(self, t: np.ndarray, v: np.ndarray, since_s: float) -> None:
        """Keep rows until the span starts, dropping those too old to be inside it."""
        self.pending.append((t, v))
        t_all = np.concatenate([p[0] for p in self.pending])
        v_all = np.concatenate([p[1] for p in self.pending])
        keep = t_all >= since_s
        self.pending = [(t_all[keep], v_all[keep])]

    def release(self, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Held rows, then ``t``/``v``."""
        if self.pending:
            t = np.concatenate([p[0] for p in self.pending] + [t])
            v = np.concatenate([p[1] for p in self.pending] + [v])
            self.pending = []
        return t, v


class TraceRecorder:
    """Opens readers at once (so a series misses no row), records once :meth:`start` ed."""

    def __init__(
        self, specs: tuple[TraceSpec, ...], open_reader: Callable[[str], Any] | None
    ) -> None:
        """``open_reader(stream)`` gives a TraceReader (the host's ``open_trace_reader``)."""
        self._tracks: dict[str, _Track] = {}
        opened: list[Any] = []
        since = time.time() - HISTORY_S
        try:
            for spec in specs:
                assert open_reader is not None, "plan_streams checks the host has streams"
                opened.append(open_reader(spec.stream))
                self._tracks[spec.stream] = _Track(spec, opened[-1], since)
        except BaseException:
            for reader in opened:
                reader.close()
            raise
        self._journal: Journal = lambda records, sync: None
        self._first_frame_s: Callable[[], float | None] = lambda: None
        self._t_first: float | None = None
        self._flush_interval_s = 1.0
        self._wake = threading.Event()
        self._ending = threading.Event()
        self._t_end: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def __bool__(self) -> bool:
        return bool(self._tracks)

    def start(
        self,
        writers: dict[str, Any],
        journal: Journal,
        first_frame_s: Callable[[], float | None],
        flush_interval_s: float = 1.0,
    ) -> None:
        """Record into ``writers`` (by stream). ``journal(records, sync)`` appends records to the
        series' journal; ``first_frame_s()`` is the first kept frame's timestamp (None before)."""
        for name, track in self._tracks.items():
            track.writer = writers[name]
        self._journal = journal
        self._first_frame_s = first_frame_s
        self._flush_interval_s = max(0.05, float(flush_interval_s))
        if self._tracks:
            self._thread = threading.Thread(
                target=self._run, name="labkit-spool-traces", daemon=True
            )
            self._thread.start()

    def progress(self) -> dict[str, dict[str, int]]:
        """``{stream: {"rows", "rows_lost"}}`` so far."""
        return {n: {"rows": t.rows, "rows_lost": t.rows_lost} for n, t in self._tracks.items()}

    # the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        last_flush = time.monotonic()
        deadline = None
        while True:
            self._poll()
            now = time.monotonic()
            if self._ending.is_set():
                deadline = deadline or now + DRAIN_S
                if now >= deadline or all(self._drained(t, now) for t in self._live()):
                    return
            if now - last_flush >= self._flush_interval_s:
                self._flush()
                last_flush = now
            self._wake.wait(POLL_S)

    def _live(self) -> list[_Track]:
        return [t for t in self._tracks.values() if t.error is None]

    def _drained(self, track: _Track, now: float) -> bool:
        if self._t_end is None or track.newest_s > self._t_end:
            return True
        return now - track.last_new >= QUIET_S

    def _poll(self) -> None:
        if self._t_first is None:
            self._t_first = self._first_frame_s()
        for track in self._live():
            try:
                t, v, lost = track.reader.read_new()
            except RingError as exc:  # the owner closed it (node removed, engine gone)
                self._stop_track(track, f"stream ended: {exc}")
                continue
            if lost:
                track.rows_lost += lost
                self._note(
                    {"event": "trace_lost", "stream": track.spec.stream, "count": int(lost),
                     "before_row": track.rows}
                )  # fmt: skip
            if len(t):
                track.last_new = time.monotonic()
                track.newest_s = max(track.newest_s, float(t.max()))
            if self._t_first is None:  # no frame yet: the span has not started
                track.hold(t, v, time.time() - HISTORY_S)
                continue
            t, v = track.release(t, v)
            keep = t >= self._t_first
            if not keep.all():
                t, v = t[keep], v[keep]
            if not len(t):
                continue
            track.times.append(t)
            try:
                track.writer.append(t, v)
            except Exception as exc:  # OSError (disk full...), h5py errors wrapping one
                self._stop_track(track, f"writing failed: {exc}")

    def _stop_track(self, track: _Track, why: str) -> None:
        track.error = why
        log.warning("spool trace %r: %s", track.spec.stream, why)
        self._note({"event": "trace_error", "stream": track.spec.stream, "message": why})

    def _note(self, record: dict[str, Any]) -> None:
        self._note_many([record], sync=False)

    def _note_many(self, records: list[dict[str, Any]], sync: bool) -> None:
        try:
            self._journal(records, sync)
        except Exception:  # pragma: no cover - the journal reports its own disk problems
            log.exception("journaling %s failed", records[0].get("event"))

    def _flush(self) -> None:
        records = []
        for track in self._tracks.values():
            if track.writer is None or track.writer.rows == track.rows_durable:
                continue
            try:
                track.rows_durable = track.writer.flush()
            except Exception as exc:
                if track.error is None:
                    self._stop_track(track, f"writing failed: {exc}")
                continue
            records.append(
                {"event": "trace", "stream": track.spec.stream, "rows": track.rows_durable,
                 "lost": track.rows_lost}
            )  # fmt: skip
        if records:  # after the rows are durable, like a shard's ``synced`` line
            self._note_many(records, sync=True)

    # the end ------------------------------------------------------------------------------
    def finish(self, t_last: float | None, t_end: float | None) -> dict[str, dict[str, Any]]:
        """Drain, keep the rows stamped up to ``t_end``, close; returns each stream's attrs.

        ``t_last``: the last frame's timestamp (None: no frames, so no span and no rows);
        ``t_end``: when the series' span ends (the last frame + one frame interval).
        """
        self._t_end = t_end
        self._ending.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        out: dict[str, dict[str, Any]] = {}
        for name, track in self._tracks.items():
            times = np.concatenate(track.times) if track.times else np.zeros(0)
            keep = times.size
            if t_end is not None and times.size:
                inside = np.flatnonzero(times <= t_end)
                keep = int(inside[-1]) + 1 if inside.size else 0
            try:
                if track.writer is not None:
                    track.writer.truncate(min(keep, track.writer.rows))
                    track.writer.finish()
            except Exception as exc:
                if track.error is None:
                    self._stop_track(track, f"writing failed: {exc}")
            rows = track.rows
            span = times[:rows]
            out[name] = {
                **track.spec.to_json(),
                "rows": rows,
                "rows_lost": track.rows_lost,
                "time_s": [float(span.min()), float(span.max())] if rows else None,
                "caught_up": bool(t_last is None or track.newest_s >= t_last),
                "error": track.error,
            }
        self._note_many(
            [{"event": "trace", "stream": n, "rows": a["rows"], "lost": a["rows_lost"],
              "final": True} for n, a in out.items()],
            sync=True,
        )  # fmt: skip
        self.close()
        return out

    def close(self) -> None:
        """Stop the thread (if running) and close every reader. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._ending.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            self._t_end = None  # nothing to wait for
            thread.join()
        for track in self._tracks.values():
            try:
                track.reader.close()
            except Exception:  # pragma: no cover
                log.exception("closing the trace reader of %r failed", track.spec.stream)
