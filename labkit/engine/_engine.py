"""The engine core: owns the devices and their streams, runs acquisition, answers commands.

The same :class:`Engine` runs inside the notebook's process (thread mode, called directly) or inside
a child process / ``labkit engine`` server (called from RPC worker threads). It knows nothing about
transports: it reports events through the ``emit(topic, payload)`` callable it is given, from any
thread. Commands may run concurrently (from several clients or threads): devices are thread-safe,
lifecycle changes take the state lock, a camera's shape changes take its ring lock.

Every camera streams into its own frame ring, paced by its own frame rate (``_acquisition``);
every signal into its own trace buffer. Each is a named stream (``_streams``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from labkit.buffers import FrameRing, TraceBuffer
from labkit.engine import _commands as cmds
from labkit.engine import events
from labkit.engine._acquisition import CameraLoop, SignalPump
from labkit.engine._frames import frame_to_dataarray, jsonable
from labkit.engine._node_table import NodeTable
from labkit.engine._protocol_host import EngineProtocolHost
from labkit.engine._state import (
    EngineError,
    EngineState,
    EngineStateError,
    ScopeHealth,
    check_transition,
)
from labkit.engine._streams import StreamInfo, StreamTable
from labkit.engine._tracking import EngineTracking
from labkit.engine._user_commands import UserCommands
from labkit.protocols import ProtocolTable

log = logging.getLogger(__name__)

__all__ = ["Engine", "UnknownDeviceError"]

Emit = Callable[[str, Any], None]

_HEALTH_PERIOD_S = 1.0
_SHAPE_PROPERTIES = frozenset({"roi", "binning", "bit_depth"})  # camera settings that change frames
_ATTRIBUTES = frozenset({"shape", "dtype", "pixel_size_um", "channels", "kind", "name"})


class UnknownDeviceError(EngineError, LookupError):
    """A command named a device the engine does not own (the message lists those it owns)."""


class Engine:
    """Owns devices and streams; validates and runs commands; paces every camera.

    Args:
        devices: ``{name: device}``; cameras (kind ``camera``) stream, signals (kind ``signal``)
            are sampled, every device is reachable by name.
        emit: ``emit(topic, payload)``, thread-safe and non-blocking.
        ring_slots: frames each camera's ring holds.
        allow_client_code: let clients add commands by import path (``add_command``); the owner of
            the engine (thread or process mode) may, a shared ``labkit engine`` only if asked.
    """

    def __init__(
        self,
        devices: dict[str, Any],
        emit: Emit,
        ring_slots: int = 64,
        allow_client_code: bool = True,
    ) -> None:
        if not devices:
            raise ValueError(
                "an engine needs at least one device; pass devices=None for the simulated set"
            )
        self.devices = dict(devices)
        self._emit = events.checked(emit)  # every event checked against its topic's Struct
        self.ring_slots = int(ring_slots)
        self.state = EngineState.CREATED
        self.cameras = self._of_kind("camera")
        self.signals = self._of_kind("signal")
        self.camera = next(iter(self.cameras.values()), None)
        self.stage = self._find("stage")
        self.signal = next(iter(self.signals.values()), None)
        self.streams = StreamTable()
        self.commands = UserCommands(self, allow_client_code=allow_client_code)
        self.nodes = NodeTable(self)
        self.protocols = ProtocolTable(EngineProtocolHost(self))
        self.tracking = EngineTracking(self)
        self._loops: dict[str, CameraLoop] = {}
        self._traces: dict[str, TraceBuffer] = {}
        self._pump: SignalPump | None = None
        self._state_lock = threading.RLock()
        self._closing = False
        self._t_open = time.monotonic()
        self._listeners: list[tuple[Any, Callable]] = []

    def _of_kind(self, kind: str) -> dict[str, Any]:
        """Devices of ``kind``; the one named like the kind first (it is "the" camera)."""
        found = {n: d for n, d in self.devices.items() if _kind_of(d) == kind}
        if kind in found:
            found = {kind: found[kind], **{n: d for n, d in found.items() if n != kind}}
        return found

    def _find(self, kind: str) -> Any:
        if kind in self.devices:
            return self.devices[kind]
        return next((d for d in self.devices.values() if _kind_of(d) == kind), None)

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        """Create rings and trace buffers, hook device listeners, start the loops: ``ready``."""
        with self._state_lock:
            check_transition(self.state, EngineState.READY, "open the engine")
            for name, camera in self.cameras.items():
                loop = CameraLoop(name, camera, self.ring_slots, self._ring_changed, self._crashed)
                self._loops[name] = loop
                loop.open()
                self._publish_stream(name)
            for name, signal in self.signals.items():
                self._traces[name] = TraceBuffer.create(tuple(signal.channels))
                self._publish_stream(name)
            self._pump = SignalPump(self.signals, self._traces, self._tick, self._crashed)
            self._pump.open()
            for name, dev in self.devices.items():
                fn = self._make_listener(name)
                dev.add_listener(fn)
                self._listeners.append((dev, fn))
            self._t_open = time.monotonic()
            self._set_state(EngineState.READY)

    def close(self) -> None:
        """Stop acquisition, release rings, trace buffers and devices (idempotent)."""
        with self._state_lock:
            if self.state is EngineState.CLOSED or self._closing:
                return
            self._closing = True
        self.protocols.close()  # runs end (devices made safe) before anything else goes
        self.tracking.close()  # the bead lock reads a node's trace
        self.nodes.close()  # before the rings they read
        # join outside the state lock: a crashing loop takes it to report the failure
        for loop in self._loops.values():
            loop.close()
        if self._pump is not None:
            self._pump.close()
        with self._state_lock:
            for dev, fn in self._listeners:
                try:
                    dev.remove_listener(fn)
                except Exception:  # pragma: no cover - device already gone
                    pass
            self._listeners.clear()
            for dev in self.devices.values():
                try:
                    dev.close()
                except Exception:
                    log.exception("closing device %r failed", getattr(dev, "name", dev))
            for trace in self._traces.values():
                trace.close()
            self._traces.clear()
            self._set_state(EngineState.CLOSED)

    def thread_idents(self) -> set[int]:
        """The engine's own threads (their log records are the engine's)."""
        loops: list[Any] = [*self._loops.values(), self._pump]
        idents = {loop.ident for loop in loops if loop is not None and loop.ident is not None}
        return idents | self.nodes.idents() | self.protocols.idents() | self.tracking.idents()

    def _set_state(self, state: EngineState, reason: str = "") -> None:
        previous, self.state = self.state, state
        if previous is not state:
            log.info("engine %s -> %s", previous.value, state.value)
            self._emit("state", events.StateEvent(state=state, previous=previous, reason=reason))

    def _crashed(self, where: str, exc: BaseException) -> None:
        with self._state_lock:
            for loop in self._loops.values():
                loop.set_running(False)
            if self._pump is not None:
                self._pump.set_running(False)
            self._emit(
                "error",
                events.ErrorEvent(
                    type=type(exc).__name__, message=str(exc), where=f"acquisition:{where}"
                ),
            )
            if self.state not in (EngineState.CLOSED, EngineState.FAILED) and not self._closing:
                self._set_state(
                    EngineState.FAILED,
                    f"acquisition of {where} failed: {type(exc).__name__}: {exc}",
                )

    # -- streams ---------------------------------------------------------------------------------

    @property
    def ring(self) -> FrameRing | None:
        """The first camera's ring (the one ``scope.ring_name`` names)."""
        loop = next(iter(self._loops.values()), None)
        return None if loop is None else loop.ring

    @property
    def trace(self) -> TraceBuffer | None:
        return next(iter(self._traces.values()), None)

    def _stream_info(self, name: str) -> StreamInfo:
        if name in self._loops:
            loop = self._loops[name]
            ring = loop.ring
            assert ring is not None
            return StreamInfo(
                name=name, kind="frames", owner=name, buffer=ring.name,
                shape=tuple(ring.shape), dtype=ring.dtype.str, units="counts",
                rate_hz=float(loop.camera.frame_rate_hz),
            )  # fmt: skip
        trace, signal = self._traces[name], self.signals[name]
        return StreamInfo(
            name=name, kind="trace", owner=name, buffer=trace.name,
            channels=tuple(trace.channels), rate_hz=float(getattr(signal, "sample_rate_hz", 0.0)),
            units=str(getattr(signal, "units", "")),
        )  # fmt: skip

    def _publish_stream(self, name: str) -> None:
        self._put_stream(self._stream_info(name))

    def _put_stream(self, info: StreamInfo) -> None:
        """Add or update a stream (cameras, signals, node outputs) and tell every client."""
        old = self.streams.all().get(info.name)
        if self.streams.put(info):
            self._emit("streams", events.StreamsEvent(streams=self.streams.all()))
            if old is not None and old.buffer != info.buffer:
                self.nodes.stream_changed(info)

    def _drop_stream(self, name: str) -> None:
        if self.streams.remove(name):
            self._emit("streams", events.StreamsEvent(streams=self.streams.all()))

    def _ring_changed(self, name: str, ring: FrameRing) -> None:
        self._emit("ring", events.RingEvent(stream=name, ring_name=ring.name,
                                            shape=tuple(ring.shape), dtype=ring.dtype.str))  # fmt: skip
        self._publish_stream(name)

    # -- dispatch --------------------------------------------------------------------------------

    def dispatch(self, method: Any, params: Any) -> Any:
        """Validate ``params`` for ``method`` and run the command; returns a wire-encodable result.

        Raises:
            UnknownCommandError, CommandError: the request itself is wrong.
            EngineStateError: the command is not allowed in the current state.
            PropertyError and subclasses: a property value was rejected by the device.
        """
        checked = cmds.validate_params(method, params)
        if self.state is EngineState.CLOSED:
            raise EngineStateError(
                f"the engine is closed; command {method!r} was not run", self.state
            )
        return getattr(self, f"cmd_{method}")(checked)

    def device(self, name: str) -> Any:
        """The device called ``name``.

        Raises:
            UnknownDeviceError: listing the devices there are.
        """
        try:
            return self.devices[name]
        except KeyError:
            raise UnknownDeviceError(
                f"no device named {name!r} in this engine; devices: {', '.join(self.devices)}"
            ) from None

    def emit(self, topic: str, payload: Any) -> None:
        """Send an event to every client (for commands and nodes)."""
        self._emit(topic, payload)

    # -- commands: engine ------------------------------------------------------------------------

    def cmd_hello(self, p: cmds.Hello) -> dict:
        return {**self.cmd_status(p), "pid": os.getpid()}

    def cmd_ping(self, p: cmds.NoParams) -> str:
        return "pong"

    def cmd_status(self, p: Any) -> dict:
        ring, trace = self.ring, self.trace
        return {
            "state": self.state.value,
            "ring_name": None if ring is None else ring.name,
            "trace_name": None if trace is None else trace.name,
            "devices": {name: _kind_of(dev) for name, dev in self.devices.items()},
            "streams": {n: s.to_json() for n, s in self.streams.all().items()},
        }

    def cmd_streams(self, p: cmds.NoParams) -> dict:
        return {n: s.to_json() for n, s in self.streams.all().items()}

    def cmd_start(self, p: Any = None) -> dict:
        with self._state_lock:
            check_transition(self.state, EngineState.RUNNING)
            started: list[CameraLoop] = []
            try:
                for loop in self._loops.values():
                    loop.set_running(True)  # a camera may refuse to start streaming
                    started.append(loop)
            except BaseException:
                for loop in started:
                    loop.set_running(False)
                raise
            if self._pump is not None:
                self._pump.set_running(True)
            self._set_state(EngineState.RUNNING)
            return self.cmd_status(p)

    def cmd_stop(self, p: Any = None) -> dict:
        with self._state_lock:
            check_transition(self.state, EngineState.STOPPED)
            for loop in self._loops.values():
                loop.set_running(False)
            if self._pump is not None:
                self._pump.set_running(False)
            self._set_state(EngineState.STOPPED)
            return self.cmd_status(p)

    def cmd_health(self, p: Any = None) -> dict:
        return self.health().to_json()

    def cmd_shutdown(self, p: Any) -> str:
        return "bye"  # the server loop closes the engine after replying

    def cmd_add_node(self, p: cmds.AddNode) -> dict:
        return self.nodes.add(p.node, p.name, p.input, p.mode, p.params, from_client=True)

    def cmd_tracking(self, p: cmds.Tracking) -> Any:
        return self.tracking.call(p.op, p.args, p.call_id)

    def cmd_remove_node(self, p: cmds.RemoveNode) -> None:
        self.nodes.remove(p.name)

    def cmd_nodes(self, p: cmds.NoParams) -> dict:
        return self.nodes.describe()

    def cmd_commands(self, p: cmds.NoParams) -> dict:
        return self.commands.describe()

    def cmd_add_command(self, p: cmds.AddCommand) -> dict:
        return self.commands.add(p.path, p.name)

    def cmd_run_command(self, p: cmds.RunCommand) -> Any:
        return jsonable_result(self.commands.run(p.name, p.args))

    def cmd_run_mda(self, p: cmds.RunMda) -> dict:
        return self.protocols.start_mda(
            p.sequence, p.path, autofocus=p.autofocus, camera=p.camera or None, burst=p.burst
        )

    def cmd_run_script(self, p: cmds.RunScript) -> dict:
        return self.protocols.start_script(p.script)

    def cmd_protocol_control(self, p: cmds.ProtocolControl) -> dict:
        return self.protocols.control(p.id, p.action)

    def cmd_protocols(self, p: cmds.ProtocolStatus) -> dict:
        return self.protocols.status(p.id)

    # -- commands: devices -----------------------------------------------------------------------

    def cmd_describe(self, p: cmds.Describe) -> dict:
        if p.device is not None:
            return jsonable(self.device(p.device).describe())
        return {name: jsonable(dev.describe()) for name, dev in self.devices.items()}

    def cmd_device_settings(self, p: cmds.NoParams) -> dict:
        return {
            name: jsonable(dev.describe().get("values", {})) for name, dev in self.devices.items()
        }

    def cmd_get_property(self, p: cmds.GetProperty) -> Any:
        return jsonable(self.device(p.device).get(p.name))

    def cmd_set_property(self, p: cmds.SetProperty) -> Any:
        dev = self.device(p.device)
        loop = self._loops.get(p.device)
        if loop is not None and p.name in _SHAPE_PROPERTIES:
            with loop.ring_lock:  # no frame is rendered with one shape into a ring of another
                dev.set(p.name, p.value)
                if loop.running:
                    loop.ensure_ring(announce=True)
        else:
            dev.set(p.name, p.value)
        if loop is not None and p.name == "frame_rate_hz":
            self._publish_stream(p.device)
        return jsonable(dev.get(p.name))

    def cmd_get_attribute(self, p: cmds.GetAttribute) -> Any:
        dev = self.device(p.device)
        if p.name not in _ATTRIBUTES:
            raise cmds.CommandError(
                f"attribute {p.name!r} is not readable remotely; readable: {', '.join(sorted(_ATTRIBUTES))}"
            )
        if p.name == "kind":
            return _kind_of(dev)
        value = getattr(dev, p.name)
        if p.name == "dtype":
            import numpy as np

            return np.dtype(value).str
        return jsonable(value)

    def cmd_call_action(self, p: cmds.CallAction) -> Any:
        dev = self.device(p.device)
        if not hasattr(dev, "call_action"):
            raise cmds.CommandError(f"device {p.device!r} ({type(dev).__name__}) has no actions")

        def progress(fraction: float, message: str = "") -> None:
            self._emit("progress", events.ProgressEvent(device=p.device, action=p.action,
                       call_id=p.call_id, fraction=float(fraction), message=str(message)))  # fmt: skip

        return jsonable_result(dev.call_action(p.action, p.args, progress=progress))

    def cmd_snap(self, p: cmds.Snap) -> Any:
        dev = self.device(p.device)
        data, meta = dev.snap()
        return frame_to_dataarray(dev, data, meta)

    def cmd_move_stage(self, p: cmds.MoveStage) -> list[float]:
        dev = self.device(p.device)
        dev.move(x=p.x_um, y=p.y_um, z=p.z_um)
        if p.wait:
            dev.wait(p.timeout_s)
        return [float(v) for v in dev.position()]

    def cmd_stage_position(self, p: cmds.StageCall) -> list[float]:
        return [float(v) for v in self.device(p.device).position()]

    def cmd_stage_wait(self, p: cmds.StageCall) -> list[float]:
        dev = self.device(p.device)
        dev.wait(p.timeout_s)
        return [float(v) for v in dev.position()]

    def cmd_stage_is_moving(self, p: cmds.StageCall) -> bool:
        return bool(self.device(p.device).is_moving())

    # -- health ----------------------------------------------------------------------------------

    def health(self) -> ScopeHealth:
        streams = {name: loop.health() for name, loop in self._loops.items()}
        first = next(iter(streams.values()), None) or {
            "frames_acquired": 0, "fps": 0.0, "frames_late": 0, "ring_fill": 0.0,
            "readers": {}, "ring_name": None,
        }  # fmt: skip
        return ScopeHealth(
            state=self.state,
            frames_acquired=first["frames_acquired"],
            fps=first["fps"],
            ring_fill=first["ring_fill"],
            readers=first["readers"],
            uptime_s=time.monotonic() - self._t_open,
            frames_late=first["frames_late"],
            ring_name=first["ring_name"],
            streams=streams,
            nodes=self.nodes.health(),
        )

    def _tick(self) -> None:
        self._emit("health", self.health().to_json())

    def _make_listener(self, device_name: str) -> Callable[..., None]:
        def on_change(dev_name: str, prop_name: str, value: Any) -> None:
            self._emit(
                "property",
                events.PropertyEvent(device=device_name, name=prop_name, value=jsonable(value)),
            )

        return on_change


def jsonable_result(value: Any) -> Any:
    """What an action or command returned, ready for the wire (arrays and xarray stay as they are)."""
    import numpy as np

    if isinstance(value, np.ndarray) or type(value).__module__.startswith("xarray"):
        return value
    return jsonable(value)


def _kind_of(dev: Any) -> str:
    kind = getattr(dev, "kind", None)
    if isinstance(kind, str):
        return kind
    try:
        return str(dev.describe().get("kind", "device"))
    except Exception:  # pragma: no cover
        return "device"
