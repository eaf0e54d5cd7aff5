"""The bead lock in the engine: a thread that reads a bead tracker's trace and moves the stage.

It runs where the stage is (the engine's process), whichever mode the tracker node runs in: it
reads the tracker's trace buffer by name. Each batch of new rows gives the lock bead's newest
position to a :class:`~labkit.processing.tracking.LockController`, whose target the stage goes
to. A change of state is a ``bead_lock`` event (``{state, previous, reason, bead, tracker, error,
correction_um, target}``); losing the bead is one with ``state: "lost"`` and the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.buffers import RingError, TraceReader
from labkit.engine._streams import StreamInfo

log = logging.getLogger(__name__)

__all__ = ["LockLoop", "lock_channels"]

_POLL_S = 0.01


def lock_channels(stream: StreamInfo, bead: str) -> list[int]:
    """Indices of the x, y, z and quality channels of ``bead`` in a tracker's trace (the raw
    x, y, z of a reference bead: its referenced position would be held at zero).

    Raises:
        ValueError: ``stream`` is not a tracker's trace, or has no such bead (names those it has).
    """
    channels = list(stream.channels)
    if stream.kind != "trace" or not any(c.endswith("_quality") for c in channels):
        raise ValueError(
            f"stream {stream.name!r} is not a bead tracker's trace; add one with "
            "scope.tracking.add_tracker(...) and lock on it"
        )
    if f"{bead}_quality" not in channels:
        beads = [c[: -len("_quality")] for c in channels if c.endswith("_quality")]
        raise ValueError(f"tracker {stream.name!r} has no bead {bead!r}; its beads: {beads}")

    def index(coord: str) -> int:
        raw = f"{bead}_{coord}_raw"
        return channels.index(raw if raw in channels else f"{bead}_{coord}")

    return [index("x"), index("y"), index("z"), channels.index(f"{bead}_quality")]


class LockLoop:
    """Holds ``bead`` of tracker stream ``stream`` with ``controller`` by moving ``stage``.

    ``on_change(status_json)`` is called (on the loop's thread) whenever the state changes.
    """

    def __init__(
        self,
        stream: StreamInfo,
        bead: str,
        controller: Any,
        stage: Any,
        on_change: Callable[[dict[str, Any]], None],
        target: Any = None,
    ) -> None:
        self.stream, self.bead, self.controller, self.stage = stream, bead, controller, stage
        self._columns = lock_channels(stream, bead)
        self._on_change = on_change
        self._reader = TraceReader.attach(stream.buffer)
        self._stop = threading.Event()
        self._moves = 0
        self._previous = "off"
        controller.engage(stage.position(), target)
        self._report()
        self._thread = threading.Thread(target=self._run, name="labkit-bead-lock", daemon=True)
        self._thread.start()

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def status(self) -> dict[str, Any]:
        return {
            **self.controller.status().to_json(), "bead": self.bead,
            "tracker": self.stream.name, "stage_moves": self._moves,
        }  # fmt: skip

    def _report(self) -> None:
        state = self.controller.state.value
        if state != self._previous:
            payload = {**self.status(), "previous": self._previous}
            self._previous = state
            if state == "lost":
                log.warning("bead lock on %s lost: %s", self.bead, payload["reason"])
            self._on_change(payload)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    _, values, _ = self._reader.read_new()
                except RingError:
                    self.controller.lose(f"the tracker stream {self.stream.name!r} went away")
                    self._report()
                    return
                if not len(values):
                    self.controller.poll()
                    self._report()
                    self._stop.wait(_POLL_S)
                    continue
                row = values[-1, self._columns]  # the newest position: older rows are stale
                target = self.controller.update(row[:3], int(row[3]) if np.isfinite(row[3]) else 1)
                if target is not None:
                    self._move(target)
                self._report()
        except Exception as exc:  # a stage error: the lock is lost, visibly
            self.controller.lose(f"{type(exc).__name__}: {exc}")
            self._report()
        finally:
            self._reader.close()

    def _move(self, target: np.ndarray) -> None:
        if self.controller.settings.axes == "xyz":
            self.stage.move(x=float(target[0]), y=float(target[1]), z=float(target[2]))
        else:
            self.stage.move(z=float(target[2]))
        self._moves += 1

    def close(self) -> dict[str, Any]:
        """Stop holding (the stage stays where it is); returns the final status."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(10)
        if self.controller.state.value != "lost":
            self.controller.release()
        self._report()
        return self.status()
