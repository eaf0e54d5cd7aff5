"""The snapshot requests of a :class:`~labkit.widgets.LiveView`, served on its pump thread.

Two kinds: :meth:`LiveView.snapshot` (a ``Future`` the caller waits on) and the page's Snapshot
button (the snapshot is kept in ``view.last_snapshot`` and handed to the ``on_snapshot``
callbacks). Both take the newest full-resolution frame, read once for every request pending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["SnapshotRequests"]

log = logging.getLogger(__name__)

NO_FRAME = "the source has no frame yet; is acquisition running?"


class SnapshotRequests:
    """Pending snapshot requests (thread-safe) and the Snapshot button's callbacks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[Future, bool]] = []
        #: called with each snapshot the button took
        self.callbacks: list[Callable[[Any], None]] = []

    def add(self, from_button: bool) -> Future:
        """A new request; its ``Future`` gets the snapshot (or the error) once served."""
        fut: Future = Future()
        with self._lock:
            self._pending.append((fut, from_button))
        return fut

    def serve(
        self, latest: Callable[[], Any], to_dataarray: Callable[[Any], Any]
    ) -> tuple[bool, Any]:
        """Serve every pending request from one ``latest()`` frame. Returns (whether the button
        asked, the snapshot or None); without a frame every request fails with ``TimeoutError``
        and the snapshot is None."""
        with self._lock:
            if not self._pending:
                return False, None
            requests, self._pending = self._pending, []
        button = any(from_button for _, from_button in requests)
        frame = latest()
        if frame is None:
            err = TimeoutError(NO_FRAME)
            for fut, _ in requests:
                fut.set_exception(err)
            return button, None
        snap = to_dataarray(frame)
        for fut, _ in requests:
            fut.set_result(snap)
        return button, snap

    def notify(self, snap: Any) -> None:
        """Hand a button's snapshot to every callback (a failing callback is logged)."""
        for cb in list(self.callbacks):
            try:
                cb(snap)
            except Exception:  # noqa: BLE001 - a user callback must not stop the view
                log.exception("snapshot callback %r failed", cb)

    def fail(self, exc: Exception) -> None:
        """Fail every pending request with ``exc`` (the view closed)."""
        with self._lock:
            requests, self._pending = self._pending, []
        for fut, _ in requests:
            if not fut.done():
                fut.set_exception(exc)
