"""What protocol runs (``labkit.protocols``) get from the engine: its devices, events, a camera's
stream for bursts, the spooler, nodes and user commands — all inside the engine's process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.buffers import RingReader
from labkit.engine._commands import NoParams
from labkit.engine._state import EngineState
from labkit.engine._user_commands import load_function
from labkit.protocols import ProtocolCancelled, StepControl

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._engine import Engine

log = logging.getLogger(__name__)

__all__ = ["EngineProtocolHost"]

_POLL_S = 0.05


class EngineProtocolHost:
    """Implements ``labkit.protocols.ProtocolHost`` for one :class:`Engine`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.devices = engine.devices

    @property
    def allow_client_code(self) -> bool:
        return self._engine.commands.allow_client_code

    def emit(self, topic: str, payload: Any) -> None:
        self._engine.emit(topic, payload)

    def device_settings(self) -> dict:
        return self._engine.cmd_device_settings(NoParams())

    def load_function(self, path: str) -> Callable[..., Any]:
        if not self.allow_client_code:
            raise PermissionError(
                f"this engine does not run code its clients name ({path!r}); pass it where the "
                "engine runs (labkit engine --allow-client-code)"
            )
        return load_function(path)

    def burst(self, camera: str, n: int, control: StepControl) -> Iterator[tuple[np.ndarray, dict]]:
        """The next ``n`` frames of ``camera``'s stream (started for the burst if it is not)."""
        loop = self._engine._loops[camera]
        was_running = loop.running
        if not was_running:
            loop.set_running(True)
        assert loop.ring is not None
        reader = RingReader.attach(loop.ring.name, name="mda-burst")
        try:
            got = 0
            while got < n:
                if control.cancelled:
                    raise ProtocolCancelled("cancelled")
                try:
                    frame = reader.next(timeout=_POLL_S)
                except TimeoutError:
                    continue
                got += 1
                yield frame.data, {k: float(v) for k, v in frame.meta.items()}
        finally:
            if not was_running:
                loop.set_running(False)
            reader.close()

    def spool(self, frames: int, path: str, settings: dict, control: StepControl) -> dict:
        """Record ``frames`` frames of the first camera in the engine's process; waits for them."""
        from labkit.engine._spool_host import EngineSpoolHost
        from labkit.spool import SpoolController

        if path and not self.allow_client_code:
            raise PermissionError("this engine does not write paths its clients name")
        engine = self._engine
        started = engine.state is EngineState.READY or engine.state is EngineState.STOPPED
        if started:
            engine.cmd_start()
        controller = SpoolController(EngineSpoolHost(engine))
        try:
            handle = controller.start(path or None, max_frames=int(frames), **settings)
            while not handle.done:
                if control.cancelled:
                    handle.stop()
                    raise ProtocolCancelled("cancelled")
                control.sleep_until(control.clock() + _POLL_S)
            if handle.error is not None:
                raise handle.error
            return {"path": str(handle.path), **handle.progress.to_dict()}
        finally:
            controller.close()
            if started and engine.state is EngineState.RUNNING:
                engine.cmd_stop()

    def add_node(self, node: str, name: str, input: str, params: dict) -> dict:
        return self._engine.nodes.add(node, name, input, "thread", params, from_client=True)

    def run_command(self, name: str, args: dict) -> Any:
        return self._engine.commands.run(name, args)
