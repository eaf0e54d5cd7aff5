"""The step machinery every protocol runs on: MDA events, script commands and the spooler's
z-steps and timed tasks.

A :class:`Step` is one thing to do (move, set, snap, call) with a label. A :class:`StepRunner`
runs steps in order; between two steps it honours :class:`StepControl` (pause holds, cancel
raises :class:`ProtocolCancelled`), and waits inside a step (stage settling, time-plan delays)
are interruptible through the same control. When a step fails or a run is cancelled the runner
brings the devices to a safe state (:func:`safe_state`: stages stopped, shutters closed).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from labkit.errors import LabkitError

log = logging.getLogger(__name__)

__all__ = [
    "ProtocolCancelled",
    "ProtocolError",
    "RunState",
    "Step",
    "StepControl",
    "StepError",
    "StepRunner",
    "move_step",
    "safe_state",
    "wait_for_stage",
]

_POLL_S = 0.005  # stage polling while waiting for a move (interruptible), at most
_FIRST_POLL_S = 0.0001


class ProtocolError(LabkitError, RuntimeError):
    """A protocol (MDA, script) could not be planned or run; the message says what to change."""


class ProtocolCancelled(ProtocolError):
    """The run was cancelled (``cancel()``); devices were brought to a safe state."""


class StepError(ProtocolError):
    """A step failed; ``step`` is its label and ``index`` its position, ``__cause__`` the error."""

    def __init__(self, message: str, step: str = "", index: int = -1) -> None:
        super().__init__(message)
        self.step, self.index = step, index


class RunState(enum.StrEnum):
    """States of a protocol run."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


FINAL_STATES = frozenset({RunState.DONE, RunState.CANCELLED, RunState.FAILED})


class StepControl:
    """Pause / resume / cancel, shared by a runner and the waits inside its steps.

    ``clock`` is injectable (``time.monotonic`` by default): :meth:`sleep_until` deadlines and
    paused time are measured on it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._running = threading.Event()  # set: not paused
        self._running.set()
        self._cancelled = threading.Event()
        self._wake = threading.Condition()
        self.paused_s = 0.0  # total time spent paused (time plans shift by it)
        self._paused_at: float | None = None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def pause(self) -> None:
        """Hold before the next step (a step already running finishes)."""
        with self._wake:
            if self._running.is_set():
                self._paused_at = self.clock()
                self._running.clear()

    def resume(self) -> None:
        with self._wake:
            if not self._running.is_set():
                if self._paused_at is not None:
                    self.paused_s += self.clock() - self._paused_at
                self._paused_at = None
                self._running.set()
            self._wake.notify_all()

    def cancel(self) -> None:
        """Stop at the next step boundary or wait; a paused run stops at once."""
        with self._wake:
            self._cancelled.set()
            self._running.set()
            self._wake.notify_all()

    def checkpoint(self, on_pause: Callable[[bool], None] | None = None) -> None:
        """Return when neither paused nor cancelled; raise :class:`ProtocolCancelled` on cancel.

        ``on_pause(True)`` is called when this call starts holding, ``on_pause(False)`` when it
        goes on (so a runner reports ``paused`` only while it really holds).
        """
        if self._cancelled.is_set():
            raise ProtocolCancelled("cancelled")
        if not self._running.is_set():
            if on_pause is not None:
                on_pause(True)
            with self._wake:
                while not self._running.is_set():
                    self._wake.wait()
            if self._cancelled.is_set():
                raise ProtocolCancelled("cancelled")
            if on_pause is not None:
                on_pause(False)

    def sleep_until(self, deadline: float) -> None:
        """Sleep until ``clock() >= deadline``; cancel interrupts (raises)."""
        while True:
            left = deadline - self.clock()
            if left <= 0:
                return
            with self._wake:
                if self._cancelled.is_set():
                    raise ProtocolCancelled("cancelled")
                self._wake.wait(left)
            if self._cancelled.is_set():
                raise ProtocolCancelled("cancelled")

    def wait_while(self, busy: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll ``busy()`` until False; cancel interrupts, ``timeout_s`` raises TimeoutError."""
        deadline = time.monotonic() + timeout_s
        poll_s = _FIRST_POLL_S  # short moves end in microseconds: poll fast first, then back off
        while busy():
            if self._cancelled.is_set():
                raise ProtocolCancelled("cancelled")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} still busy after {timeout_s} s")
            with self._wake:
                self._wake.wait(poll_s)
            poll_s = min(poll_s * 2, _POLL_S)


@dataclass(frozen=True)
class Step:
    """One thing a protocol does: ``fn(control)`` with a label for progress and errors."""

    label: str
    fn: Callable[[StepControl], Any]
    kind: str = "call"


def move_step(
    stage: Any, *, x: float | None = None, y: float | None = None, z: float | None = None,
    wait: bool = True, timeout_s: float = 30.0,
) -> Step:  # fmt: skip
    """A step that moves ``stage`` (``move(x=, y=, z=)``) and, with ``wait``, waits for it
    interruptibly (a cancel leaves the stage stopped, through the runner's safe state)."""
    axes = {k: v for k, v in (("x", x), ("y", y), ("z", z)) if v is not None}
    label = "move " + ", ".join(f"{k}={v:g} µm" for k, v in axes.items())

    def run(control: StepControl) -> None:
        stage.move(**axes)
        if wait:
            wait_for_stage(stage, control, timeout_s)

    return Step(label, run, "move")


def wait_for_stage(stage: Any, control: StepControl, timeout_s: float = 30.0) -> None:
    """Wait until ``stage`` arrives; a cancel interrupts (then the runner stops the stage)."""
    is_moving = getattr(stage, "is_moving", None)
    if is_moving is not None:
        control.wait_while(is_moving, timeout_s, f"stage {getattr(stage, 'name', '')}")
    else:  # a stage without is_moving: its own (uninterruptible) wait
        stage.wait(timeout_s)


def safe_state(devices: Mapping[str, Any]) -> list[str]:
    """Stop every stage and close every shutter; returns what was done (never raises).

    A stage with ``stop()`` is stopped by it; one without is sent to where it is now (which
    ends a move of a stage that moves toward a target, like ``SimStage``).
    """
    done = []
    for name, dev in devices.items():
        kind = _kind(dev)
        try:
            if kind in ("stage", "xy_stage", "focus", "z_stage"):
                stop = getattr(dev, "stop", None)
                if stop is not None:
                    stop()
                elif getattr(dev, "is_moving", lambda: False)():
                    x, y, z = dev.position()
                    dev.move(x=x, y=y, z=z)
                    dev.wait(1.0)  # what it still travels: the distance covered meanwhile
                done.append(f"stopped {name}")
            elif kind == "shutter":
                dev.set("is_open", False)
                done.append(f"closed {name}")
        except Exception:
            log.exception("bringing %r to a safe state failed", name)
    return done


def _kind(dev: Any) -> str:
    kind = getattr(dev, "kind", "")
    return kind if isinstance(kind, str) else ""


class StepRunner:
    """Runs steps in order under a :class:`StepControl`.

    Args:
        devices: brought to a safe state when a step fails or the run is cancelled (None: the
            caller owns safety, e.g. the spooler whose moves go through the engine).
        control: pause/resume/cancel (a new one if None).
        on_step: ``on_step(index, step)`` before each step runs.
        on_state: ``on_state(RunState)`` when the run pauses or goes on.
    """

    def __init__(
        self,
        devices: Mapping[str, Any] | None = None,
        control: StepControl | None = None,
        on_step: Callable[[int, Step], None] | None = None,
        on_state: Callable[[RunState], None] | None = None,
    ) -> None:
        self.devices = devices
        self.control = control or StepControl()
        self.on_step = on_step
        self.on_state = on_state
        self.index = 0  # steps started so far

    def _paused(self, holding: bool) -> None:
        if self.on_state is not None:
            self.on_state(RunState.PAUSED if holding else RunState.RUNNING)

    def run_one(self, step: Step) -> Any:
        """Run ``step`` after the control lets it; returns its result.

        Raises:
            ProtocolCancelled: cancelled before or during the step (devices made safe).
            StepError: the step raised (devices made safe; the cause is chained).
        """
        try:
            self.control.checkpoint(self._paused)
            index = self.index
            self.index += 1
            if self.on_step is not None:
                self.on_step(index, step)
            return step.fn(self.control)
        except ProtocolCancelled:
            self._make_safe()
            raise
        except Exception as exc:
            self._make_safe()
            raise StepError(
                f"step {self.index} ({step.label}) failed: {type(exc).__name__}: {exc}",
                step.label,
                self.index - 1,
            ) from exc

    def run(self, steps: Iterable[Step]) -> list[Any]:
        """Run every step; returns their results (see :meth:`run_one` for errors)."""
        return [self.run_one(step) for step in steps]

    def _make_safe(self) -> None:
        if self.devices is not None:
            done = safe_state(self.devices)
            if done:
                log.info("safe state: %s", ", ".join(done))
