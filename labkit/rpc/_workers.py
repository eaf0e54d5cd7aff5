"""A small pool of daemon threads that run requests off the socket thread.

Threads start on demand, up to ``size``; :meth:`close` lets queued work finish and joins them for a
bounded time (a handler stuck in vendor code is left behind with a warning rather than hanging the
process: the threads are daemons).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["Workers"]

logger = logging.getLogger(__name__)

_STOP = None


class Workers:
    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least 1 thread, got {size}")
        self.size, self.name = size, name
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on a worker thread (exceptions are logged; ``fn`` should not raise)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: the worker pool is closed")
            if self._idle <= 0 and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._run, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                self._idle += 1
                thread.start()
            self._idle -= 1
        self._queue.put(fn)

    def _run(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is _STOP:
                return
            try:
                fn()
            except Exception:  # pragma: no cover - callers wrap their own errors
                logger.exception("%s: a task failed", self.name)
            finally:
                with self._lock:
                    self._idle += 1

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish queued work and join the threads (at most ``timeout_s`` in all)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout_s)
            if thread.is_alive():
                logger.warning(
                    "%s: a request is still running after %.0f s; leaving its thread behind",
                    thread.name,
                    timeout_s,
                )
