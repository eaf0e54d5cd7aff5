"""In-order event delivery to notebook callbacks on one dispatcher thread per scope."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["EventBus"]

_STOP = object()


class _Barrier:
    """Queued by :meth:`EventBus.flush`; set when the dispatcher reaches it."""

    def __init__(self, done: threading.Event) -> None:
        self.done = done


class EventBus:
    """Delivers events to subscribers in the order they were published.

    Publishing never blocks and never runs user code on the publisher's thread: events are queued
    and one dispatcher thread (``labkit-events-<label>``) calls each subscriber in turn. A subscriber
    that raises is logged and keeps its subscription; the other subscribers still get the event.
    """

    def __init__(self, label: str) -> None:
        self._label = label
        self._subscribers: list[Callable[[Any], None]] = []
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.errors = 0  # subscriber exceptions (logged)

    def subscribe(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(event)`` for every later event (a ``labkit.wire.Event``)."""
        if not callable(fn):
            raise TypeError(
                f"subscribe() needs a callable taking one Event, got {type(fn).__name__}"
            )
        with self._lock:
            if fn not in self._subscribers:
                self._subscribers = [*self._subscribers, fn]

    def unsubscribe(self, fn: Callable[[Any], None]) -> None:
        """Stop calling ``fn``; unknown callables are ignored."""
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s != fn]

    def publish(self, event: Any) -> None:
        """Queue ``event`` for delivery (thread-safe, never blocks); dropped if nobody subscribed."""
        if self._subscribers:
            self._queue.put(event)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every event published before this call was delivered (False on timeout).

        From the dispatcher thread itself (a subscriber) it returns at once.
        """
        if self._thread is None or self._thread is threading.current_thread():
            return True
        done = threading.Event()
        self._queue.put(_Barrier(done))
        return done.wait(timeout_s)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"labkit-events-{self._label}", daemon=True
        )
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued, then stop the dispatcher thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        if thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is _STOP:
                return
            if isinstance(event, _Barrier):
                event.done.set()
                continue
            for fn in self._subscribers:
                try:
                    fn(event)
                except Exception:
                    self.errors += 1
                    log.exception(
                        "event subscriber %r raised on %s event", fn, getattr(event, "topic", "?")
                    )
