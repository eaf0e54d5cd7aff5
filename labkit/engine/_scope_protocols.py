"""``scope.run_mda`` / ``scope.run_script``: start a protocol run in the engine, get a handle."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.engine._scope_commands import function_path
from labkit.protocols import ProtocolError, Script
from labkit.wire import Event

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope

__all__ = ["ProtocolHandle", "run_mda", "run_script"]

_FINAL = ("done", "cancelled", "failed")
_POLL_S = 0.5  # wait() also asks the engine this often (events can be lost to a slow reader)


class ProtocolHandle:
    """A protocol run in the engine: ``pause()``, ``resume()``, ``cancel()``, ``wait()``.

    ``progress`` is the newest status ``{id, kind, state, step, index, frames_done,
    frames_total, steps_done, steps_total, path, error}`` (kept current from ``protocol``
    events); ``add_listener(fn)`` calls ``fn(status)`` on each, on the scope's event thread.
    """

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self.id = ""  # known once the engine replied; events before that wait in _early
        self.kind = ""
        self.path: Path | None = None
        self._status: dict = {}
        self._cond = threading.Condition()
        self._early: list[dict] = []
        self._listeners: list[Callable[[dict], None]] = []
        self.states: list[str] = []  # every state seen, in order

    def _bind(self, status: dict) -> None:
        """The engine's reply: take the id, then the events that came before it, in order."""
        with self._cond:
            self.id, self.kind = status["id"], status["kind"]
            self.path = Path(status["path"]) if status.get("path") else None
            self._status = status
            self.states.append(status["state"])
            early, self._early = self._early, []
            for payload in early:
                self._update(payload)

    def _update(self, payload: dict) -> None:
        with self._cond:
            if not self.id:
                self._early.append(payload)
                return
            if payload.get("id") != self.id or self._status.get("state") in _FINAL:
                return  # another run's, or late news of a run that has ended
            self._status = payload
            if payload["state"] != self.states[-1]:
                self.states.append(payload["state"])
            self._cond.notify_all()
        if payload["state"] in _FINAL:  # nothing more will come for this run
            self._scope.events.unsubscribe(self._on_event)
        for fn in list(self._listeners):
            fn(payload)

    def _on_event(self, event: Event) -> None:
        if event.topic == "protocol" and isinstance(event.payload, dict):
            self._update(event.payload)

    @property
    def progress(self) -> dict:
        with self._cond:
            return dict(self._status)

    @property
    def state(self) -> str:
        return self.progress["state"]

    @property
    def done(self) -> bool:
        return self.state in _FINAL

    def add_listener(self, fn: Callable[[dict], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[dict], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _control(self, action: str) -> dict:
        status = self._scope._call("protocol_control", id=self.id, action=action)
        return status

    def pause(self) -> None:
        """Hold before the next step (event) starts."""
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def cancel(self) -> None:
        """Stop at the next step boundary (or inside a wait); devices are left safe."""
        self._control("cancel")

    def wait(self, timeout: float | None = None) -> dict:
        """Block until the run ends (at most ``timeout`` s, like a spool handle's ``wait``);
        returns its final status. The run's events sent before it ended have been delivered to
        the scope's subscribers by then (the end may be learned by asking the engine first).

        Raises:
            ProtocolError: the run failed (its error in the message).
            TimeoutError: still running after ``timeout`` s.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                if self._status["state"] not in _FINAL:
                    left = (
                        _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
                    )
                    if left > 0:
                        self._cond.wait(left)
                final = self._status["state"] in _FINAL
            if not final:
                self._update(self._scope._call("protocols", id=self.id))
                final = self.done
            if final:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{self.id} still {self.state} after {timeout} s")
        self._scope.events.flush()  # they came before the engine's answer: deliver them all
        status = self.progress
        if status["state"] == "failed":
            raise ProtocolError(f"{self.id} failed at {status['step']!r}: {status['error']}")
        return status

    def __repr__(self) -> str:
        s = self.progress
        return (
            f"<ProtocolHandle {self.id} {s['state']} {s['frames_done']}/{s['frames_total']} frames>"
        )


def _start(scope: Scope, method: str, **params: Any) -> ProtocolHandle:
    handle = ProtocolHandle(scope)
    scope.events.subscribe(handle._on_event)  # before the call: its first events come first
    try:
        handle._bind(scope._call(method, **params))
    except BaseException:
        scope.events.unsubscribe(handle._on_event)
        raise
    return handle


def run_mda(
    scope: Scope,
    sequence: Any,
    path: str | os.PathLike | None | bool = None,
    *,
    autofocus: Callable[..., Any] | str | None = None,
    camera: str = "",
    burst: bool = True,
) -> ProtocolHandle:
    """See :meth:`labkit.engine.Scope.run_mda`."""
    if path is None or path is True:
        spool = scope.spool
        folder = Path(spool.dirname)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{spool.series_name}.ome.zarr"
    elif path is False:
        path = ""
    else:
        path = Path(path).expanduser().resolve()
        if not str(path).endswith(".zarr"):
            path = path.with_name(path.name + ".ome.zarr")
    thread = scope.mode == "thread"
    if not thread:
        if hasattr(sequence, "model_dump"):
            sequence = sequence.model_dump(mode="json")
        if callable(autofocus):
            autofocus = function_path(autofocus)
    return _start(scope, "run_mda", sequence=sequence, path=str(path), autofocus=autofocus,
                  camera=camera, burst=burst)  # fmt: skip


def run_script(scope: Scope, script: Script | dict | str | os.PathLike) -> ProtocolHandle:
    """See :meth:`labkit.engine.Scope.run_script`."""
    if isinstance(script, str | os.PathLike):
        script = Script.load(os.fspath(script))
    elif not isinstance(script, Script):
        script = Script.from_dict(script)  # checked here: the error names the bad key at once
    payload: Any = script if scope.mode == "thread" else script.to_dict()
    return _start(scope, "run_script", script=payload)
