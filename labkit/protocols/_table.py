"""The protocol runs of one engine: MDA sequences and scripts, each in a thread of its own.

The engine holds one :class:`ProtocolTable`; its commands start runs (``run_mda``,
``run_script``), pause/resume/cancel them (``protocol_control``) and report them
(``protocols``). Every change of a run (state, step, frame) is a ``protocol`` event
``{id, kind, state, step, index, frames_done, frames_total, steps_done, steps_total, path,
error}``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from labkit.protocols._mda import MdaRunner
from labkit.protocols._mda_sink import MdaSink
from labkit.protocols._steps import (
    FINAL_STATES,
    ProtocolCancelled,
    ProtocolError,
    RunState,
    StepControl,
    StepRunner,
)

log = logging.getLogger(__name__)

__all__ = ["ProtocolHost", "ProtocolRun", "ProtocolTable", "UnknownProtocolError"]

_ids = itertools.count(1)
_KEEP_FINISHED = 32  # finished runs kept for status queries


class UnknownProtocolError(ProtocolError, LookupError):
    """No protocol run with that id (the message lists those there are)."""


class ProtocolHost(Protocol):
    """What runs need from the engine (``labkit.engine`` implements it)."""

    @property
    def devices(self) -> Mapping[str, Any]: ...
    @property
    def allow_client_code(self) -> bool: ...

    def emit(self, topic: str, payload: Any) -> None: ...
    def burst(
        self, camera: str, n: int, control: StepControl
    ) -> Iterator[tuple[np.ndarray, dict]]: ...
    def device_settings(self) -> dict: ...
    def load_function(self, path: str) -> Callable[..., Any]: ...
    def spool(self, frames: int, path: str, settings: dict, control: StepControl) -> dict: ...
    def add_node(self, node: str, name: str, input: str, params: dict) -> dict: ...
    def run_command(self, name: str, args: dict) -> Any: ...


class ProtocolRun:
    """One run: its control, state and figures (read by any thread)."""

    def __init__(self, kind: str, emit: Callable[[dict], None], devices: Mapping[str, Any]) -> None:
        self.id = f"{kind}{next(_ids)}"
        self.kind = kind
        self.state = RunState.PENDING
        self.control = StepControl()
        self.runner = StepRunner(devices, self.control, self._on_step, self._on_state)
        self.step = ""
        self.index: dict[str, int] = {}
        self.steps_done, self.steps_total = 0, 0
        self.frames_done, self.frames_total = 0, 0
        self.path = ""
        self.error: str | None = None
        self.error_type: str | None = None
        self.result: Any = None
        self.thread: threading.Thread | None = None
        self._emit = emit

    def status(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "state": self.state.value, "step": self.step,
            "index": dict(self.index), "steps_done": self.steps_done,
            "steps_total": self.steps_total, "frames_done": self.frames_done,
            "frames_total": self.frames_total, "path": self.path, "error": self.error,
            "error_type": self.error_type,
        }  # fmt: skip

    def publish(self) -> None:
        self._emit(self.status())

    def _on_step(self, index: int, step: Any) -> None:
        self.step, self.steps_done = step.label, index
        if self.kind != "mda":  # an MDA reports per frame instead (on_frame)
            self.publish()

    def _on_state(self, state: RunState) -> None:
        self.state = state
        self.publish()

    def on_frame(self, n: int, index: dict, label: str) -> None:
        self.frames_done, self.index, self.step = n, index, label
        self.publish()


class ProtocolTable:
    """Starts, controls and reports the protocol runs of one engine."""

    def __init__(self, host: ProtocolHost) -> None:
        self.host = host
        self._runs: dict[str, ProtocolRun] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _new(self, kind: str) -> ProtocolRun:
        def emit(payload: dict) -> None:
            self.host.emit("protocol", payload)

        with self._lock:
            if self._closed:
                raise ProtocolError("the engine is closing; no new protocol runs")
            finished = [r for r in self._runs.values() if r.state in FINAL_STATES]
            for old in finished[: max(0, len(finished) - _KEEP_FINISHED)]:
                del self._runs[old.id]
            run = ProtocolRun(kind, emit, self.host.devices)
            self._runs[run.id] = run
        return run

    def _forget(self, run: ProtocolRun) -> None:
        with self._lock:
            self._runs.pop(run.id, None)

    def _launch(
        self, run: ProtocolRun, body: Callable[[], Any], finish: Callable[[str], None]
    ) -> dict:
        def main() -> None:
            run.state = RunState.RUNNING
            run.publish()
            final = RunState.DONE
            try:
                run.result = body()
            except ProtocolCancelled:
                final = RunState.CANCELLED
            except Exception as exc:
                final = RunState.FAILED
                cause = exc.__cause__ if exc.__cause__ is not None else exc
                run.error, run.error_type = str(exc), type(cause).__name__
                log.warning("%s failed: %s", run.id, exc)
            try:
                finish(final.value)
            except Exception as exc:
                log.exception("finishing %s failed", run.id)
                if final is RunState.DONE:
                    final, run.error, run.error_type = RunState.FAILED, str(exc), type(exc).__name__
            if final is RunState.DONE:
                run.steps_done = run.steps_total
            run.state = final
            run.publish()

        run.thread = threading.Thread(target=main, name=f"labkit-{run.id}", daemon=True)
        run.thread.start()
        return run.status()

    # -- MDA -------------------------------------------------------------------------------------

    def start_mda(
        self,
        sequence: Any,
        path: str = "",
        *,
        autofocus: str | Callable[..., Any] | None = None,
        camera: str | None = None,
        backend: str = "auto",
        burst: bool = True,
    ) -> dict:
        """Check ``sequence`` against the devices and start it; returns the run's status.

        ``path``: the ``.ome.zarr`` directory to write ("" writes nothing).

        Raises:
            ProtocolError: the sequence needs what the devices lack (nothing ran).
            PermissionError: a served engine asked by a client to load code or write a path.
            FileExistsError: ``path`` exists.
        """
        import useq

        # a fresh copy: useq's autofocus plans keep state between iterations of one object
        raw = sequence.model_dump() if isinstance(sequence, useq.MDASequence) else sequence
        seq = useq.MDASequence.model_validate(raw)
        if isinstance(autofocus, str):
            autofocus = self.host.load_function(autofocus)
        if path and not self.host.allow_client_code:
            raise PermissionError(
                "this engine does not write paths its clients name; run the MDA where the engine "
                "runs (labkit engine --allow-client-code lets clients do it)"
            )
        sink = MdaSink(path, backend=backend) if path else None
        run = self._new("mda")
        try:
            mda = MdaRunner(
                seq, self.host.devices, sink, run.runner, on_frame=run.on_frame,
                autofocus=autofocus, burst=self.host.burst if burst else None, camera=camera,
            )  # fmt: skip
        except BaseException:
            self._forget(run)
            raise
        run.frames_total, run.path = mda.frames_total, path
        run.steps_total = sum(1 for _ in mda.units())
        z_plan = list(seq.z_plan) if seq.z_plan else []
        settings = _safe(self.host.device_settings)

        def finish(status: str) -> None:
            if sink is not None:
                sink.finish(
                    {"status": status, "name": str(path).rstrip("/").rsplit("/", 1)[-1],
                     "sequence": seq.model_dump(mode="json"), "z_positions_um": z_plan,
                     "t_s": mda.t_seconds(), "camera": mda.camera_name,
                     "pixel_size_um": float(getattr(mda.camera, "pixel_size_um", 1.0)),
                     "device_settings": settings, "error": run.error},
                )  # fmt: skip

        return self._launch(run, mda.run, finish)

    # -- scripts ---------------------------------------------------------------------------------

    def start_script(self, script: Any) -> dict:
        """Check ``script`` (a :class:`Script` or its dict) and start it; returns its status.

        Raises:
            ScriptError: a bad command or argument (named).
        """
        from labkit.protocols._scripts import Script, ScriptContext

        script = script if isinstance(script, Script) else Script.from_dict(script)
        run = self._new("script")  # the script was checked above: nothing can fail before launch
        run.steps_total = len(script.steps)
        context = ScriptContext(self, self.host, run)
        return self._launch(run, lambda: context.run(script), lambda status: None)

    # -- control ---------------------------------------------------------------------------------

    def get(self, run_id: str) -> ProtocolRun:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                raise UnknownProtocolError(
                    f"no protocol run {run_id!r}; runs: {', '.join(self._runs) or 'none'}"
                )
            return run

    def control(self, run_id: str, action: str) -> dict:
        """``pause``, ``resume`` or ``cancel`` run ``run_id``; returns its status.

        Raises:
            UnknownProtocolError: no such run.  ValueError: another action.
        """
        run = self.get(run_id)
        actions = {"pause": run.control.pause, "resume": run.control.resume,
                   "cancel": run.control.cancel}  # fmt: skip
        if action not in actions:
            raise ValueError(f"unknown action {action!r}; choose one of {', '.join(actions)}")
        actions[action]()
        return run.status()

    def status(self, run_id: str = "") -> dict:
        """The status of run ``run_id``, or of every run kept (``{id: status}``)."""
        if run_id:
            return self.get(run_id).status()
        with self._lock:
            return {rid: run.status() for rid, run in self._runs.items()}

    def idents(self) -> set[int]:
        with self._lock:
            return {r.thread.ident for r in self._runs.values() if r.thread and r.thread.ident}

    def close(self, timeout_s: float = 10.0) -> None:
        """Cancel every run and join its thread (the engine calls this before closing devices)."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
        for run in runs:
            run.control.cancel()
        for run in runs:
            if run.thread is not None:
                run.thread.join(timeout_s)
                if run.thread.is_alive():
                    log.error("%s did not stop within %s s", run.id, timeout_s)


def _safe(fn: Callable[[], dict]) -> dict:
    try:
        return fn()
    except Exception as exc:  # metadata must not stop a run
        return {"error": f"could not read device settings: {exc}"}
