"""``Scope``: the notebook's handle on an engine (thread, child process, or remote).

A Scope mirrors the engine's state, turns attribute access on device proxies into RPCs, re-sequences
events from the engine into one ordered stream for subscribers (across restarts), and owns the
engine's host (thread or process) unless it was made by :func:`~labkit.engine.connect`.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import threading
from typing import Any

from labkit.buffers import TraceReader, sweep_stale_segments
from labkit.engine import events
from labkit.engine._devices import DevicesSpec
from labkit.engine._events import EventBus
from labkit.engine._hosts import open_host, relog
from labkit.engine._proxy import DeviceProxy
from labkit.engine._proxy_types import CameraProxy, SignalProxy, StageProxy
from labkit.engine._scope_commands import ScopeCommands
from labkit.engine._scope_exit import close_at_exit
from labkit.engine._scope_nodes import ScopeNodes
from labkit.engine._scope_settings import ScopeSettings
from labkit.engine._scope_streams import StreamAccess, Traces
from labkit.engine._scope_tracking import ScopeTracking
from labkit.engine._settings_file import read_settings
from labkit.engine._spool_host import spool_for
from labkit.engine._state import (
    EngineDiedError,
    EngineState,
    EngineStateError,
    EngineStatus,
    ScopeHealth,
    check_transition,
)
from labkit.engine._streams import StreamInfo
from labkit.rpc import ConnectionInfo
from labkit.wire import Event

log = logging.getLogger(__name__)

__all__ = ["Scope"]

_MODES = ("thread", "process")
_labels = itertools.count(1)


class Scope:
    """A microscope: devices owned by a background engine, frames in a shared-memory ring.

    Args:
        devices: None for the simulated camera + stage + signal; a ``"package.module:factory"`` path or
            a factory callable ``f(seed=, shape=) -> {name: Device}``; or (thread mode only) a dict of
            ready-made devices.
        mode: ``"thread"`` (engine in a background thread of this process) or ``"process"`` (engine in
            a child process: survives crashes of vendor code, reached over ZeroMQ); default thread.
        ring_slots: frames the ring holds (default 64).
        seed: passed to the device factory (simulated camera noise seed; default 0).
        shape: passed to the device factory (frame shape in px; default (2048, 2048)).
        commands: user commands to add to the engine (functions in thread mode, else
            ``"package.module:function"`` paths); see :attr:`commands`.
        config: a settings file (docs/settings.md): its ``engine`` and ``devices`` sections build
            the scope (arguments given here win), the rest is applied once the engine is up.

    The engine is up (``state == "ready"``) when the constructor returns: properties and ``snap()``
    work at once; ``start()`` streams frames into the ring. Use as a context manager or call ``close()``;
    a scope still open when the interpreter exits (a notebook's kernel shutting down) is closed then.

    Raises:
        ValueError: unknown mode, or device objects passed with ``mode="process"``.
        SettingsError: a settings file that names an unknown key or a value a device refuses.
        EngineError: the engine process could not start.
    """

    def __init__(
        self,
        devices: DevicesSpec = None,
        mode: str | None = None,
        ring_slots: int | None = None,
        seed: int | None = None,
        shape: tuple[int, int] | None = None,
        *,
        commands: list[Any] | tuple[Any, ...] = (),
        config: str | os.PathLike | None = None,
        _connection: str | os.PathLike | ConnectionInfo | None = None,
        _key: Any = None,
        _timeout_s: float = 10.0,
        _stream_options: dict[str, Any] | None = None,
    ) -> None:
        rig = read_settings(config) if config is not None else None
        built = rig.engine if rig is not None else {}
        if devices is None and rig is not None:
            devices = rig.devices
        mode = mode or built.get("mode", "thread")
        ring_slots = ring_slots or built.get("ring_slots", 64)
        seed = built.get("seed", 0) if seed is None else seed
        shape = shape or built.get("shape", (2048, 2048))
        if _connection is None and mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.mode = "remote" if _connection is not None else mode
        self._devices_spec = devices
        self._ring_slots, self._seed = int(ring_slots), int(seed)
        self._shape = (int(shape[0]), int(shape[1]))
        self._connection, self._key, self._connect_timeout_s = _connection, _key, _timeout_s
        self._stream_options = dict(_stream_options or {})
        self._label = f"scope{next(_labels)}"
        self._lock = threading.RLock()  # lifecycle (start/stop/restart/close)
        self._event_lock = threading.RLock()  # state events and replies apply under it, in order
        self._seq = 0
        self._events_lost_before = 0  # by engines this scope already left behind
        self._lost_synced = 0  # the host's events_lost when the state was last asked for
        self._state_events = 0  # state events received (a reply's state older than one is stale)
        self._generation = 0
        self._state = EngineState.CREATED
        self._host: Any = None
        self._streams = StreamAccess(self)
        self._commands = list(commands)
        self._proxies: dict[str, DeviceProxy] = {}
        self._spool: Any = None
        self._bus = EventBus(self._label)
        self._bus.start()
        try:
            self._open_host()
        except BaseException:
            self._bus.close()
            raise
        close_at_exit(self)
        if rig is not None:
            try:
                self.settings.apply(rig)
            except BaseException:
                self.close()
                raise

    # -- engine host -----------------------------------------------------------------------------

    def _open_host(self) -> None:
        self._generation += 1
        gen = self._generation

        def on_event(event: Event) -> None:
            self._on_engine_event(gen, event)

        def on_died(reason: str) -> None:
            self._on_engine_died(gen, reason)

        host, info = open_host(self, on_event, on_died)
        self._host = host
        try:
            self._apply_status(info)
            described = host.call("describe")
        except BaseException:
            self._host = None
            host.close()
            raise
        for name, desc in described.items():
            proxy = self._proxies.get(name)
            if proxy is None:
                self._proxies[name] = DeviceProxy(self, name, desc)
            else:
                proxy._refresh(desc)  # same object, refreshed specs (after restart)

    def _apply_status(self, info: dict, seen: tuple[int, int] | None = None) -> None:
        """Apply a status the engine replied with. ``seen``: (:attr:`_state_events`, stream
        events) when the call was sent; if a state event came since, it is newer than this
        reply's state (the engine sends the reply, then the event of a change right after it —
        a camera failing at once after ``start`` — and the I/O thread applies the event before
        the caller's thread gets to the reply), so the reply's state is not applied; the same
        for its streams (:meth:`StreamAccess.replace`)."""
        if "streams" in info:
            self._streams.replace(info["streams"], None if seen is None else seen[1])
        if "state" in info:
            with self._event_lock:
                if seen is None or seen[0] == self._state_events:
                    self._set_state(EngineState(info["state"]))

    def _set_state(self, state: EngineState, **extra: Any) -> None:
        with self._event_lock:
            previous = self._state
            if previous is state:
                return
            self._state = state
            event = events.StateEvent(state=state, previous=previous, **extra)
            self._publish_locked("state", events.to_payload("state", event))

    def _publish_locked(self, topic: str, payload: Any) -> None:
        self._seq += 1
        self._bus.publish(Event(topic=topic, payload=payload, seq=self._seq))

    def _publish(self, topic: str, payload: Any) -> None:
        with self._event_lock:
            self._publish_locked(topic, payload)

    def _on_engine_event(self, gen: int, event: Event) -> None:
        if gen != self._generation:
            return  # an engine this scope already left behind
        topic, payload = event.topic, event.payload
        if topic == "state":
            extra = {k: v for k, v in payload.items() if k not in ("state", "previous")}
            with self._event_lock:
                self._state_events += 1
                self._set_state(EngineState(payload["state"]), **extra)
            return
        if topic == "ring":
            self._streams.ring_changed(payload)
        elif topic == "streams":
            self._streams.replace(payload["streams"])
        elif topic == "log" and self.mode != "thread" and not relog(payload):
            return  # not enabled in this process's logging: no event either (as in thread mode)
        self._publish(topic, payload)

    def _on_engine_died(self, gen: int, reason: str) -> None:
        if gen != self._generation:
            return
        log.error("engine of %s died: %s", self._label, reason)
        swept = sweep_stale_segments()
        if swept:
            log.info("removed shared-memory segments of the dead engine: %s", ", ".join(swept))
        died = events.ErrorEvent(type="EngineDiedError", message=reason, where="engine")
        self._publish("error", events.to_payload("error", died))
        self._set_state(EngineState.FAILED, reason=reason)

    def _call(self, method: str, **params: Any) -> Any:
        host = self._host
        if host is None:
            if self._state is EngineState.CLOSED:
                raise EngineStateError(
                    f"this scope is closed; {method!r} was not run. Create a new Scope", self._state
                )
            raise EngineDiedError(
                "the engine is not running; call scope.restart() to bring up a fresh one"
            )
        return host.call(method, params)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def events_lost(self) -> int:
        """Events the engine had to drop for this scope because it read them too slowly."""
        return self._events_lost_before + getattr(self._host, "events_lost", 0)

    @property
    def state(self) -> EngineState:
        """The engine's state (``EngineState``).

        It follows the engine's state events; when the engine had to drop events for this scope
        (it read them too slowly: :attr:`events_lost`), one of them may have been a state change,
        so the next read asks the engine once instead of showing a stale state forever."""
        self._resync_after_loss()
        return self._state

    def _resync_after_loss(self) -> None:
        host = self._host
        lost = int(getattr(host, "events_lost", 0))
        if host is None or lost <= self._lost_synced:
            return
        try:
            self._command("status")
        except Exception:  # noqa: BLE001 - on the I/O thread (an event handler), or a dead engine
            log.debug("state of %s not re-read after lost events", self._label, exc_info=True)
            return  # a later read asks again; a dead engine reports itself through its own path
        self._lost_synced = lost

    def _command(self, method: str) -> None:
        """Run an engine command that replies with its status, and apply that status."""
        seen = (self._state_events, self._streams.events)
        self._apply_status(self._call(method), seen)

    def status(self) -> EngineStatus:
        """A snapshot of state, mode, ring/trace names, engine address and pid."""
        host = self._host
        return EngineStatus(
            state=self._state,
            mode=self.mode,
            ring_name=self.ring_name,
            trace_name=self.trace_name,
            engine_address=None if host is None else host.engine_address,
            engine_pid=None if host is None else host.engine_pid,
            devices=tuple(self._proxies),
        )

    def start(self) -> None:
        """Start streaming frames into the ring (``ready``/``stopped`` → ``running``).

        From ``failed`` a fresh engine is brought up first (like :meth:`restart`).

        Raises:
            EngineStateError: already running, or closed (the message lists what is allowed).
        """
        with self._lock:
            if self._state is EngineState.FAILED:
                self.restart()
            check_transition(self._state, EngineState.RUNNING)
            self._command("start")

    def stop(self) -> None:
        """Stop streaming (``running`` → ``stopped``); the ring keeps its last frames.

        Raises:
            EngineStateError: not running.
        """
        with self._lock:
            check_transition(self._state, EngineState.STOPPED)
            self._command("stop")

    def restart(self) -> None:
        """Tear down the engine (dead or alive) and bring up a fresh one in ``ready``.

        Device settings return to the factory's defaults. Readers of the old ring see no new frames:
        open new ones (``scope.ring_name`` names the new ring).

        Raises:
            EngineStateError: the scope is closed.
        """
        with self._lock:
            if self._state is EngineState.CLOSED:
                raise EngineStateError(
                    "cannot restart() a closed scope; create a new Scope", self._state
                )
            old, self._host = self._host, None
            self._generation += 1  # ignore whatever the old engine still says
            self._events_lost_before += getattr(old, "events_lost", 0)
            self._lost_synced = 0  # the new engine's connection counts from 0
            if old is not None:
                try:
                    old.close()
                except Exception:
                    log.exception("closing the old engine failed")
            sweep_stale_segments()
            self._open_host()

    def close(self) -> None:
        """Stop acquisition and release the engine, ring, sockets and threads (idempotent).

        A scope made by :func:`connect` only disconnects; the remote engine keeps running.
        """
        with self._lock:
            if self._state is EngineState.CLOSED:
                return
            spool, self._spool = self._spool, None
            if spool is not None and hasattr(spool, "close"):
                try:
                    spool.close()
                except Exception:
                    log.exception("closing the spool controller failed")
            host, self._host = self._host, None
            self._generation += 1
            try:
                if host is not None:
                    host.close()
            finally:
                self._set_state(EngineState.CLOSED)
                self._bus.close()

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort for forgotten scopes
        try:
            if self._state is not EngineState.CLOSED and self._host is not None:
                log.warning(
                    "%s was not closed; closing it now (use 'with lk.Scope() as scope:')",
                    self._label,
                )
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (
            f"<Scope {self._label} {self.mode} engine {self._state.value}, ring {self.ring_name}, "
            f"devices {', '.join(self._proxies)}>"
        )

    # -- devices ---------------------------------------------------------------------------------

    @property
    def devices(self) -> dict[str, DeviceProxy]:
        """``{name: DeviceProxy}`` of every device the engine owns."""
        return dict(self._proxies)

    def _device_of(self, name: str) -> DeviceProxy:
        if name in self._proxies:
            return self._proxies[name]
        for proxy in self._proxies.values():
            if proxy.kind == name:
                return proxy
        raise AttributeError(f"this scope has no {name}; devices: {', '.join(self._proxies)}")

    @property
    def camera(self) -> CameraProxy:
        """The camera proxy (``scope.camera.exposure_ms = 10``, ``scope.camera.snap()``).

        A :class:`DeviceProxy`, typed for checkers by :class:`~labkit.engine.CameraProxy`; a
        driver's own properties are reached through ``scope.devices[name]``.
        """
        return self._device_of("camera")

    @property
    def stage(self) -> StageProxy:
        """The stage proxy (``scope.stage.move(z=5)``, ``scope.stage.position()``)."""
        return self._device_of("stage")

    @property
    def signal(self) -> SignalProxy:
        """The signal proxy (samples go to the trace buffer; see :meth:`open_trace_reader`)."""
        return self._device_of("signal")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._proxies})

    # -- data ------------------------------------------------------------------------------------

    @property
    def ring_name(self) -> str | None:
        """Name of the first camera's frame ring (changes when its shape changes or on restart)."""
        return self._streams.first("frames") if self._host is not None else None

    @property
    def trace_name(self) -> str | None:
        """Name of the first signal's trace buffer."""
        return self._streams.first("trace") if self._host is not None else None

    @property
    def engine_address(self) -> str | None:
        """ZeroMQ address of the engine (None in thread mode, where calls are direct)."""
        host = self._host
        return None if host is None else host.engine_address

    @property
    def streams(self) -> dict[str, StreamInfo]:
        """Every stream of the engine by name: cameras' frames, signals' traces, node outputs."""
        return self._streams.all()

    def open_reader(self, stream: str | None = None, *, name: str = "") -> Any:
        """A reader of ``stream`` in this process (default: the first camera); close it.

        Frames streams give a :class:`~labkit.buffers.RingReader` (own cursor at the next frame;
        ``name`` shows in ``health()``), trace streams a :class:`~labkit.buffers.TraceReader`.

        Raises:
            LookupError: no such stream (the message lists them).
            EngineStateError: the engine is closed or failed.
        """
        return self._streams.open_reader(stream, name)

    def open_trace_reader(self, stream: str | None = None) -> TraceReader:
        """A reader of a trace stream (default: the first signal's) in this process; close it.

        Raises:
            LookupError: no such trace stream.  EngineStateError: the engine is closed or failed.
        """
        return self._streams.open_trace_reader(stream)

    @property
    def traces(self) -> Traces:
        """``scope.traces[name]``: the buffered rows of a trace stream as ``xr.DataArray
        (time, channel)`` (signals and nodes' outputs)."""
        return Traces(self._streams)

    @property
    def nodes(self) -> ScopeNodes:
        """Processing nodes of the engine: ``scope.nodes.add("roi_stats", rois=[...])``."""
        return ScopeNodes(self)

    @property
    def settings(self) -> ScopeSettings:
        """Save and load the scope's settings as YAML: ``scope.settings.save("rig.yaml")``,
        ``scope.settings.load("rig.yaml")`` (docs/settings.md)."""
        return ScopeSettings(self)

    @property
    def tracking(self) -> ScopeTracking:
        """Bead tracking: bead ROIs, the tracker node, z table scans and the bead lock."""
        return ScopeTracking(self)

    @property
    def commands(self) -> ScopeCommands:
        """User commands of the engine: ``scope.commands.add(fn)``, ``scope.commands.name(**kw)``."""
        return ScopeCommands(self)

    def run_mda(
        self,
        sequence: Any,
        path: str | os.PathLike | bool | None = None,
        *,
        autofocus: Any = None,
        camera: str = "",
        burst: bool = True,
    ) -> Any:
        """Run a ``useq.MDASequence`` in the engine; returns a handle at once.

        ``path``: the ``.ome.zarr`` series to write (None: the next free name in
        ``scope.spool.dirname``; False: write nothing). ``autofocus(devices, event) -> z_um``
        runs for autofocus events (process mode: ``"package.module:function"``). Channels select
        a preset of a config group or a label of a state device named like the group. Events
        that differ only in ``t`` with ``interval=0`` run as a burst from the camera's stream
        (``burst=False``: one snap each). The handle has ``pause()``, ``resume()``, ``cancel()``,
        ``wait()`` and ``progress``; ``protocol`` events report each frame.
        ``lk.open_series(handle.path)`` reads the series as ``(t, p, c, z, y, x)``.

        Raises:
            ProtocolError: the sequence needs what the devices lack (nothing ran).
            FileExistsError: ``path`` exists.
        """
        from labkit.engine._scope_protocols import run_mda

        return run_mda(self, sequence, path, autofocus=autofocus, camera=camera, burst=burst)

    def run_script(self, script: Any) -> Any:
        """Run a :class:`labkit.protocols.Script` (or its dict, or a YAML path) in the engine.

        Returns a handle like :meth:`run_mda`'s; pause and cancel act at step boundaries, a
        failed step stops the script with its error and leaves stages stopped, shutters closed.

        Raises:
            ScriptError: an unknown command, argument or key (named).
        """
        from labkit.engine._scope_protocols import run_script

        return run_script(self, script)

    def health(self) -> ScopeHealth:
        """Acquisition health: frames acquired, fps, ring fill, per-reader lag and losses.

        A failed or closed engine gives a snapshot with that state and zero figures (no exception).
        """
        if self._host is None or self._state in (EngineState.FAILED, EngineState.CLOSED):
            return ScopeHealth(state=self._state, frames_acquired=0, fps=0.0, ring_fill=0.0)
        try:
            return ScopeHealth.from_json(self._call("health"))
        except EngineDiedError:
            return ScopeHealth(state=EngineState.FAILED, frames_acquired=0, fps=0.0, ring_fill=0.0)

    # -- events ----------------------------------------------------------------------------------

    @property
    def events(self) -> EventBus:
        """The scope's event bus (``subscribe``/``unsubscribe``)."""
        return self._bus

    def subscribe(self, fn: Any) -> None:
        """Call ``fn(event)`` for each later ``labkit.wire.Event``, in order, on the scope's event
        thread. ``labkit.engine.events.parse(event)`` gives its typed payload; the topics are
        ``events.topics()`` (state, health, property, ring, streams, progress, log, error, spool,
        link)."""
        self._bus.subscribe(fn)

    def unsubscribe(self, fn: Any) -> None:
        """Stop calling ``fn``."""
        self._bus.unsubscribe(fn)

    # -- upper layers (imported lazily) ----------------------------------------------------------

    @property
    def link(self) -> dict[str, Any] | None:
        """A remote TCP engine's network link: ``{"state": "up"|"down"|"connecting",
        "downs", "reconnects", "address"}`` (None for local engines, whose streams are in
        shared memory). A ``link`` event announces every change."""
        streams = getattr(self._host, "streams", None)
        return None if streams is None else streams.link_info()

    @property
    def spool(self) -> Any:
        """The scope's :class:`labkit.spool.SpoolController` (created on first use); for a
        remote TCP engine a :class:`~labkit.engine.RemoteSpool`, which records on the engine's
        machine."""
        with self._lock:
            if self._spool is None:
                self._spool = spool_for(self)
            return self._spool

    def live(self, **kw: Any) -> Any:
        """A :class:`labkit.widgets.LiveView` of this scope's frames."""
        return importlib.import_module("labkit.widgets").LiveView(self, **kw)

    def dashboard(self, **kw: Any) -> Any:
        """A :class:`labkit.widgets.Dashboard`: live view, device panel, traces and spool panel."""
        return importlib.import_module("labkit.widgets").Dashboard(self, **kw)
