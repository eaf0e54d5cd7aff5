"""``SpoolHandle``: one running series — progress, wait, stop, error."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from labkit.spool._errors import SpoolError
from labkit.spool._pipeline import Pipeline
from labkit.spool._store import is_url


class SpoolState(StrEnum):
    """``waiting`` (interactive preflight) → ``running`` → ``stopping`` → ``finished`` | ``failed`` | ``cancelled``."""

    WAITING = "waiting"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class SpoolProgress:
    """A snapshot of a series. Rates in MB/s (1e6 bytes), times in seconds."""

    state: str
    path: str
    frames_written: int
    frames_read: int
    frames_expected: int | None
    frames_dropped: int
    frames_discarded: int
    frames_skipped_moving: int
    mb_s_in: float
    mb_s_out: float
    mb_written: float
    ring_fill: float
    elapsed_s: float
    eta_s: float | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SpoolHandle:
    """Returned by ``SpoolController.start``; the kernel stays free while the series records.

    ``wait()`` blocks until the series ends and raises the write error if there was one;
    ``stop()`` ends it early, keeping every frame already read.
    """

    def __init__(
        self,
        path: Path | str,
        series_name: str,
        method: str,
        pipeline: Pipeline | None,
        reader: Any,
    ) -> None:
        #: where the series is: a local Path, or the URL of a series in an object store
        self.path: Any = path if is_url(path) else Path(path)
        self.store: Any = None  # the ObjectStore of a URL series
        self.series_name = series_name
        self.method = method
        self._pipeline = pipeline
        self._reader = reader
        self._lock = threading.Lock()
        self._rate_sample = (time.monotonic(), 0, 0)
        self._rates = (0.0, 0.0)
        self._cancelled = False
        self._stopping = False
        self._traces: Any = None  # the TraceRecorder of the trace streams recorded beside
        self.preflight: Any = None

    # state --------------------------------------------------------------------------------
    @property
    def state(self) -> SpoolState:
        p = self._pipeline
        if p is None:
            return SpoolState.CANCELLED if self._cancelled else SpoolState.WAITING
        if p.done or p.state != "running":
            return SpoolState.FAILED if p.error is not None else SpoolState.FINISHED
        return SpoolState.STOPPING if self._stopping else SpoolState.RUNNING

    @property
    def done(self) -> bool:
        return self.state in (SpoolState.FINISHED, SpoolState.FAILED, SpoolState.CANCELLED)

    @property
    def error(self) -> BaseException | None:
        return None if self._pipeline is None else self._pipeline.error

    @property
    def progress(self) -> SpoolProgress:
        p = self._pipeline
        state = self.state.value
        if p is None:
            return SpoolProgress(
                state, str(self.path), 0, 0, None, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, None, None
            )
        c = p.counters
        now = time.monotonic()
        with self._lock:
            t0, b_in, b_out = self._rate_sample
            if now - t0 >= 0.5:
                self._rates = (
                    (c.bytes_in - b_in) / (now - t0) / 1e6,
                    (c.bytes_out - b_out) / (now - t0) / 1e6,
                )
                self._rate_sample = (now, c.bytes_in, c.bytes_out)
            mb_in, mb_out = self._rates
        end = c.t_end if c.t_end is not None else now
        elapsed = end - c.t_start
        expected = p.max_frames
        eta = None
        if expected is not None and not p.done and c.frames_written:
            fps = c.frames_in / max(elapsed, 1e-9)
            eta = max(0.0, (expected - c.frames_written) / max(fps, 1e-9))
        elif p.done:
            eta = 0.0
            mb_in = mb_out = 0.0
        try:
            fill = 0.0 if p.done else min(1.0, self._reader.lag / self._reader.ring.n_slots)
        except Exception:
            fill = 0.0
        err = p.error
        msg = str(err) if err is not None else p.source_error
        return SpoolProgress(
            state,
            str(self.path),
            c.frames_written,
            c.frames_in,
            expected,
            c.frames_dropped,
            c.frames_discarded,
            c.frames_skipped_moving,
            round(mb_in, 2),
            round(mb_out, 2),
            round(c.bytes_out / 1e6, 2),
            round(fill, 3),
            round(elapsed, 3),
            None if eta is None else round(eta, 2),
            msg,
        )

    @property
    def traces(self) -> dict[str, dict[str, int]]:
        """Trace streams recorded beside the frames: ``{stream: {"rows", "rows_lost"}}``."""
        return {} if self._traces is None else self._traces.progress()

    # control ------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> SpoolProgress:
        """Block until the series ends; returns the final progress.

        Raises ``TimeoutError`` if it is still running after ``timeout`` s, ``SpoolError`` if it
        was cancelled, and the write error (``SpoolWriteError``) if writing failed.
        """
        if self._pipeline is None:
            raise SpoolError(
                f"series {self.series_name} has not started ({self.state.value}); confirm or cancel the preflight dialog"
            )
        if not self._pipeline.join(timeout):
            raise TimeoutError(
                f"series {self.series_name} still running after {timeout} s; call stop() to end it"
            )
        self._release()
        if self._pipeline.error is not None:
            raise self._pipeline.error
        return self.progress

    def stop(self, timeout: float | None = 60.0) -> SpoolProgress:
        """End the series early; every frame already read is written. Does not raise write errors."""
        if self._pipeline is None:
            self._cancelled = True
            return self.progress
        self._stopping = True
        self._pipeline.request_stop()
        if not self._pipeline.join(timeout):
            raise TimeoutError(
                f"the writer of {self.series_name} did not finish within {timeout} s (slow disk?)"
            )
        self._release()
        return self.progress

    def _release(self) -> None:
        with self._lock:
            reader = self._reader
            if reader is None or isinstance(reader, _Closed):
                return
            self._reader = _Closed(reader)
        reader.close()

    def __repr__(self) -> str:
        p = self.progress
        return (
            f"<SpoolHandle {self.series_name} {p.state} {p.frames_written} frames -> {self.path}>"
        )


class _Closed:
    """Stands in for a closed reader (lag 0)."""

    def __init__(self, reader: Any) -> None:
        self.lag = 0
        self.ring = type("R", (), {"n_slots": 1})()
