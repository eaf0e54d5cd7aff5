"""Engine states, the allowed transitions, status/health snapshots and the engine's errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from labkit.errors import LabkitError
from labkit.rpc import RpcUnavailableError

__all__ = [
    "ALLOWED_TRANSITIONS",
    "EngineDiedError",
    "EngineError",
    "EngineState",
    "EngineStateError",
    "EngineStatus",
    "ScopeHealth",
    "check_transition",
]


class EngineState(enum.StrEnum):
    """Lifecycle of an engine: ``created → ready → running → stopped → closed``, plus ``failed``.

    ``ready`` means devices and the frame ring exist and commands are answered; ``running`` means the
    acquisition loop writes frames into the ring; ``failed`` means the engine (thread or child process)
    died or its acquisition loop crashed — ``scope.restart()`` or ``scope.start()`` brings up a fresh one.
    """

    CREATED = "created"
    READY = "ready"
    RUNNING = "running"
    STOPPED = "stopped"
    CLOSED = "closed"
    FAILED = "failed"


S = EngineState

#: state -> states it may move to
ALLOWED_TRANSITIONS: dict[EngineState, frozenset[EngineState]] = {
    S.CREATED: frozenset({S.READY, S.FAILED, S.CLOSED}),
    S.READY: frozenset({S.RUNNING, S.FAILED, S.CLOSED}),
    S.RUNNING: frozenset({S.STOPPED, S.FAILED, S.CLOSED}),
    S.STOPPED: frozenset({S.RUNNING, S.FAILED, S.CLOSED}),
    S.FAILED: frozenset({S.READY, S.CLOSED}),
    S.CLOSED: frozenset(),
}

# user-facing verb that leads into a state (for error messages)
_VERBS = {S.READY: "restart()", S.RUNNING: "start()", S.STOPPED: "stop()", S.CLOSED: "close()"}


class EngineError(LabkitError, RuntimeError):
    """Base class of the engine's own errors."""


class EngineStateError(EngineError):
    """An operation is not allowed in the engine's current state (the message names both)."""

    def __init__(self, message: str, state: EngineState | str | None = None) -> None:
        super().__init__(message)
        self.state = None if state is None else EngineState(state)


class EngineDiedError(EngineError, RpcUnavailableError):
    """The engine process (or thread) died while a call was pending or before it was made.

    Call ``scope.restart()`` (or ``scope.start()``) to bring up a fresh engine.
    """


def check_transition(current: EngineState, target: EngineState, action: str = "") -> None:
    """Raise :class:`EngineStateError` unless ``current → target`` is allowed.

    The message names the current state, the operation tried and what is allowed from here.
    """
    allowed = ALLOWED_TRANSITIONS[current]
    if target in allowed:
        return
    what = action or _VERBS.get(target, f"moving to {target.value!r}")
    if allowed:
        options = ", ".join(
            f"{s.value!r} (via {_VERBS[s]})" if s in _VERBS else repr(s.value)
            for s in sorted(allowed, key=lambda s: s.value)
        )
        hint = f"allowed from {current.value!r}: {options}"
    else:
        hint = "nothing is allowed after close(); create a new Scope"
    raise EngineStateError(f"cannot {what} while the engine is {current.value!r}; {hint}", current)


@dataclass(frozen=True)
class EngineStatus:
    """A snapshot of an engine's identity and state (``scope.status()``)."""

    state: EngineState
    mode: str  # "thread" | "process" | "remote"
    ring_name: str | None
    trace_name: str | None
    engine_address: str | None
    engine_pid: int | None
    devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScopeHealth:
    """Acquisition health (``scope.health()``).

    ``fps`` is the frame rate measured over the last second (Hz); ``ring_fill`` is the largest reader lag
    as a fraction of the ring (0..1); ``readers`` maps reader names to ``{"lag", "frames_lost"}``;
    ``frames_late`` counts frame slots skipped because the loop fell more than one frame period behind
    (the camera or the machine could not keep up); smaller delays are caught up. The top-level
    figures are the first camera's; ``streams`` has them for every camera (by stream name) and
    ``nodes`` the figures of every processing node (lag, frames lost, time per frame, state).
    """

    state: EngineState
    frames_acquired: int
    fps: float
    ring_fill: float
    readers: dict[str, dict[str, int]] = field(default_factory=dict)
    uptime_s: float = 0.0
    frames_late: int = 0
    ring_name: str | None = None
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "frames_acquired": self.frames_acquired,
            "fps": self.fps,
            "ring_fill": self.ring_fill,
            "readers": {k: dict(v) for k, v in self.readers.items()},
            "uptime_s": self.uptime_s,
            "frames_late": self.frames_late,
            "ring_name": self.ring_name,
            "streams": {k: dict(v) for k, v in self.streams.items()},
            "nodes": {k: dict(v) for k, v in self.nodes.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScopeHealth:
        return cls(
            state=EngineState(data["state"]),
            frames_acquired=int(data["frames_acquired"]),
            fps=float(data["fps"]),
            ring_fill=float(data["ring_fill"]),
            readers={
                str(k): {kk: int(vv) for kk, vv in v.items()}
                for k, v in data.get("readers", {}).items()
            },
            uptime_s=float(data.get("uptime_s", 0.0)),
            frames_late=int(data.get("frames_late", 0)),
            ring_name=data.get("ring_name"),
            streams={str(k): dict(v) for k, v in data.get("streams", {}).items()},
            nodes={str(k): dict(v) for k, v in data.get("nodes", {}).items()},
        )
