"""A scope whose state event was among the events the engine dropped for it (it read too slowly)
asks the engine on its next read instead of showing a stale state forever."""

from __future__ import annotations

import threading
from typing import Any

from engine_helpers import faulty_devices, make_scope, wait_until

import labkit as lk
from labkit.engine import EngineState


class _LossyHost:
    """The scope's real host, reporting that the engine dropped ``events_lost`` events."""

    def __init__(self, host: Any) -> None:
        self._host = host
        self.events_lost = 0
        self.status_calls = 0

    def call(self, method: str, params: dict | None = None, timeout_s: float | None = None) -> Any:
        self.status_calls += method == "status"
        return self._host.call(method, params, timeout_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)


def test_a_lost_state_event_is_recovered_on_the_next_read():
    with lk.Scope(shape=(32, 32)) as scope:
        scope.start()
        lossy = _LossyHost(scope._host)
        scope._host = lossy
        try:
            scope._generation += 1  # the engine's events for this scope go missing ...
            lossy.call("stop")  # ... among them "running -> stopped"
            scope._generation -= 1
            assert scope._state is EngineState.RUNNING  # what the events told it
            assert (
                scope.state is EngineState.RUNNING and lossy.status_calls == 0
            )  # no loss: trusted
            lossy.events_lost = 3  # the engine reports the drop with its next event
            assert scope.state is EngineState.STOPPED and lossy.status_calls == 1
            assert scope.state is EngineState.STOPPED and lossy.status_calls == 1  # asked once
        finally:
            scope._host = lossy._host


class _SlowReplies:
    """The scope's real host; the reply to ``start`` reaches the caller only after ``release``
    is set (the I/O thread has applied later events by then, as on a loaded machine)."""

    def __init__(self, host: Any, release: threading.Event) -> None:
        self._host = host
        self._release = release

    def call(self, method: str, params: dict | None = None, timeout_s: float | None = None) -> Any:
        reply = self._host.call(method, params, timeout_s)
        if method == "start":
            assert self._release.wait(30), "the engine never reported the failure"
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)


def test_a_start_reply_read_late_does_not_undo_a_failure_reported_after_it():
    """The engine replies "running" to start, then its camera fails at once and it says
    "failed": the state must end failed, whichever thread gets to its message first."""
    failed = threading.Event()
    with make_scope("thread", devices=faulty_devices) as scope:
        scope.subscribe(
            lambda e: e.topic == "state" and e.payload["state"] == "failed" and failed.set()
        )
        scope.camera.fail_after_frames = 1
        slow = _SlowReplies(scope._host, failed)
        scope._host = slow
        try:
            scope.start()  # returns once the failure was applied; its reply said "running"
            assert scope.state is EngineState.FAILED
        finally:
            scope._host = slow._host
        wait_until(lambda: scope.state is EngineState.FAILED, what="still failed")
