"""Where an engine runs: :class:`ThreadHost` (in this process), :class:`ProcessHost` (a child process)
and :class:`RemoteHost` (a ``labkit engine`` server someone else started).

All three satisfy the small :class:`EngineHost` protocol the :class:`~labkit.engine.Scope` uses, so
errors, events and states behave the same whatever the mode.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from labkit.buffers import sweep_stale_segments
from labkit.engine._devices import DevicesSpec, build_devices, factory_kwargs, factory_path
from labkit.engine._engine import Engine
from labkit.engine._remote_client import RemoteStreams
from labkit.engine._scope_commands import function_path
from labkit.engine._server import ENGINE_DIR_PREFIX, LogForwardHandler
from labkit.engine._state import EngineDiedError, EngineError
from labkit.rpc import ConnectionInfo, RpcClient, resolve_connection
from labkit.wire import ErrorReply, Event
from labkit.wire._errors import registered_error, type_name

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope

log = logging.getLogger(__name__)

__all__ = ["EngineHost", "ProcessHost", "RemoteHost", "ThreadHost", "open_host", "relog"]

OnEvent = Callable[[Event], None]
OnDied = Callable[[str], None]

_SPAWN_TIMEOUT_S = 60.0
_NEVER_S = 365 * 86400.0


class EngineHost(Protocol):
    """What a Scope needs from wherever its engine runs."""

    mode: str
    engine_address: str | None
    engine_pid: int | None

    def call(
        self, method: str, params: dict | None = None, timeout_s: float | None = None
    ) -> Any: ...
    def close(self) -> None: ...


class ThreadHost:
    """The engine lives in this process; calls go directly into it, from any thread at once.

    Exceptions whose type is registered with :func:`labkit.wire.register_error` are raised as they are;
    others become :class:`labkit.wire.RemoteError`, exactly as they would across a process boundary.
    As in the other modes, a long command (a stage move with ``wait=True``) on one thread does not
    hold up commands from other threads.
    """

    mode = "thread"
    engine_address: str | None = None

    def __init__(
        self,
        devices: DevicesSpec,
        on_event: OnEvent,
        seed: int,
        shape: tuple[int, int],
        ring_slots: int,
        commands: list[Any] | tuple[Any, ...] = (),
    ) -> None:
        self.engine_pid = os.getpid()
        self._on_event = on_event
        self._emit_lock = threading.Lock()
        self._calls = threading.Condition()
        self._in_flight: dict[int, int] = {}  # thread ident -> nested calls in progress
        self._seq = 0
        self._closed = False
        self.engine = Engine(build_devices(devices, seed=seed, shape=shape), self._emit, ring_slots)
        self._log_handler = LogForwardHandler(self._emit)
        self._log_handler.addFilter(self._from_engine)
        logging.getLogger("labkit").addHandler(self._log_handler)
        try:
            for command in commands:
                if isinstance(command, str):
                    self.engine.commands.add(command)
                else:
                    self.engine.commands.add_function(command)
            self.engine.open()
        except BaseException:
            self.close()
            raise

    def _from_engine(self, record: logging.LogRecord) -> bool:
        return record.thread in self.engine.thread_idents() or record.thread in self._in_flight

    def _emit(self, topic: str, payload: Any) -> None:
        with self._emit_lock:
            self._seq += 1
            self._on_event(Event(topic=topic, payload=payload, seq=self._seq))

    def call(self, method: str, params: dict | None = None, timeout_s: float | None = None) -> Any:
        ident = threading.get_ident()
        with self._calls:
            if self._closed:
                raise EngineDiedError(
                    "this engine is closed; call scope.restart() or create a new Scope"
                )
            self._in_flight[ident] = self._in_flight.get(ident, 0) + 1
        try:
            return self.engine.dispatch(method, params or {})
        except Exception as exc:
            if registered_error(type_name(type(exc))) is type(exc):
                raise
            raise ErrorReply.from_exception(0, exc).to_exception() from None
        finally:
            with self._calls:
                left = self._in_flight[ident] - 1
                if left:
                    self._in_flight[ident] = left
                else:
                    del self._in_flight[ident]
                self._calls.notify_all()

    def close(self) -> None:
        with self._calls:
            if self._closed:
                return
            self._closed = True
            mine = self._in_flight.get(threading.get_ident(), 0)
            if not self._calls.wait_for(lambda: sum(self._in_flight.values()) <= mine, 10.0):
                log.warning("an engine call is still running after 10 s; closing the engine anyway")
        try:
            self.engine.close()
        finally:
            logging.getLogger("labkit").removeHandler(self._log_handler)


class RemoteHost:
    """A connection to an engine served by ``labkit engine`` (this side does not own the process)."""

    mode = "remote"

    def __init__(
        self,
        connection: str | os.PathLike | ConnectionInfo,
        on_event: OnEvent,
        on_died: OnDied,
        key: Any = None,
        pid: int | None = None,
        timeout_s: float = 10.0,
        explain_death: Callable[[str], str] | None = None,
        stream_options: dict[str, Any] | None = None,
    ) -> None:
        info = resolve_connection(connection, key)
        # a remote engine over TCP: its link state comes from the stream link's heartbeats, and
        # an outage is survived (libzmq reconnects), so silence never declares it dead
        networked = self.mode == "remote" and info.is_tcp
        self._conn = RpcClient(
            info,
            on_event=on_event,
            on_died=on_died,
            explain_death=explain_death,
            subscribe=True,
            name=f"scope in pid {os.getpid()}",
            pid=pid,
            unavailable_error=EngineDiedError,
            connect_timeout_s=timeout_s,
            label=f"engine-{self.mode}",
            liveness_s=_NEVER_S if networked else 5.0,
            heartbeat_s=0.5 if networked else None,
        )
        self.engine_address = self._conn.address
        self.streams: RemoteStreams | None = None
        try:
            hello = self._conn.call("hello", {"client": f"pid {os.getpid()}"}, timeout_s=timeout_s)
            if networked:
                self.streams = RemoteStreams(self._conn, on_event, **(stream_options or {}))
        except BaseException:
            self._conn.close()
            raise
        self.engine_pid: int | None = hello.get("pid", pid)
        self.hello = hello

    def call(self, method: str, params: dict | None = None, timeout_s: float | None = None) -> Any:
        if self.streams is not None:
            self.streams.check()  # LinkDownError at once rather than a call that waits
        return self._conn.call(method, params, timeout_s)

    @property
    def alive(self) -> bool:
        return self._conn.alive

    @property
    def events_lost(self) -> int:
        return self._conn.events_lost

    def close(self) -> None:
        if self.streams is not None:
            self.streams.close()
        self._conn.close()


class ProcessHost(RemoteHost):
    """The engine runs in a child process (``python -m labkit.engine._child``) on a private ipc path.

    The child watches this process and exits if it dies; this side notices the child dying within
    ~0.1 s (``proc.poll()`` on the receiver thread) and fails pending calls with EngineDiedError.
    """

    mode = "process"

    def __init__(
        self,
        devices: DevicesSpec,
        on_event: OnEvent,
        on_died: OnDied,
        seed: int,
        shape: tuple[int, int],
        ring_slots: int,
        commands: list[str] | tuple[str, ...] = (),
    ) -> None:
        self._tmpdir = tempfile.mkdtemp(prefix=ENGINE_DIR_PREFIX)
        address = f"ipc://{self._tmpdir}/engine.sock"
        level = min(logging.getLogger("labkit").getEffectiveLevel(), logging.INFO)
        cmd = [
            sys.executable, "-m", "labkit.engine._child",
            "--address", address,
            "--parent-pid", str(os.getpid()),
            "--ring-slots", str(int(ring_slots)),
            "--seed", str(int(seed)),
            "--shape", f"{int(shape[0])},{int(shape[1])}",
            "--log-level", str(level),
        ]  # fmt: skip
        path = factory_path(devices)
        if path is not None:
            cmd += ["--devices", path]
            if kwargs := factory_kwargs(devices):
                cmd += ["--devices-kwargs", json.dumps(kwargs)]
        for command in commands:  # the parent owns this engine: its code runs there
            cmd += ["--command", command]
        cmd += ["--allow-client-code"]
        env = dict(os.environ)  # the child imports what this process can (device factories)
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*paths, *extra]))
        # the child's stderr (crash tracebacks) goes to a file whose tail is quoted if it dies;
        # its log records reach this process as events
        self._stderr_path = os.path.join(self._tmpdir, "stderr.txt")
        with open(self._stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stderr=stderr, close_fds=True, env=env,
                start_new_session=True,  # Ctrl-C in a terminal goes to the parent only
            )  # fmt: skip
        try:
            super().__init__(
                address, on_event, on_died, pid=self.proc.pid, timeout_s=_SPAWN_TIMEOUT_S,
                explain_death=self._explain_death,
            )  # fmt: skip
        except BaseException as exc:
            self._kill()
            note = self._stderr_tail()
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            if isinstance(exc, EngineDiedError):
                raise EngineError(
                    f"the engine process failed to start (exit code {self.proc.returncode}){note}; "
                    "fix the cause, or try mode='thread' to see the error in this process"
                ) from None
            raise

    def _explain_death(self, reason: str) -> str:
        try:
            code = self.proc.wait(1.0)  # the pidfd said it exited: reap it
        except subprocess.TimeoutExpired:  # silent but alive: hung
            return f"{reason}; the engine process (pid {self.proc.pid}) seems hung"
        return (
            f"the engine process (pid {self.proc.pid}) exited with code {code}; call "
            f"scope.restart() (or scope.start()) to bring up a fresh engine{self._stderr_tail()}"
        )

    def _stderr_tail(self, max_chars: int = 2000) -> str:
        try:
            with open(self._stderr_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - max_chars))
                text = fh.read().decode(errors="replace").strip()
        except OSError:
            return ""
        return f"; its last output:\n{text}" if text else ""

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover
            log.error("engine process %d did not exit after SIGKILL", self.proc.pid)

    def close(self) -> None:
        try:
            if self.alive and self.proc.poll() is None:
                try:
                    self._conn.call("shutdown", timeout_s=10.0)
                except (EngineError, TimeoutError, OSError) as exc:  # OSError: RpcError kinds
                    log.warning("engine did not shut down cleanly (%s); killing it", exc)
                else:  # it closes its devices and unlinks its ring, then exits
                    try:
                        self.proc.wait(10.0)
                    except subprocess.TimeoutExpired:
                        log.warning(
                            "engine process %d did not exit in 10 s; killing it", self.proc.pid
                        )
        finally:
            self._conn.close()
            self._kill()
            shutil.rmtree(self._tmpdir, ignore_errors=True)


def open_host(scope: Scope, on_event: OnEvent, on_died: OnDied) -> tuple[Any, dict]:
    """Bring up the engine host of ``scope`` in its mode (thread, process or remote); returns
    it and the engine's ``hello`` (its status)."""
    devices, seed, shape, slots = scope._devices_spec, scope._seed, scope._shape, scope._ring_slots
    if scope.mode == "thread":
        host: Any = ThreadHost(devices, on_event, seed, shape, slots, commands=scope._commands)
        return host, host.call("hello")
    if scope.mode == "process":
        sweep_stale_segments()
        commands = [c if isinstance(c, str) else function_path(c) for c in scope._commands]
        host = ProcessHost(devices, on_event, on_died, seed, shape, slots, commands=commands)
        return host, host.hello
    assert scope._connection is not None
    host = RemoteHost(
        scope._connection,
        on_event,
        on_died,
        key=scope._key,
        timeout_s=scope._connect_timeout_s,
        stream_options=scope._stream_options,
    )
    return host, host.hello


def relog(payload: dict) -> bool:
    """Hand a log record forwarded from the engine process to this process's logging.

    Returns False when this process's logging does not want the record (logger level).
    """
    try:
        logger = logging.getLogger(str(payload.get("name", "labkit.engine")))
        levelno = int(payload.get("levelno", logging.INFO))
        if not logger.isEnabledFor(levelno):
            return False
        fields = dict(payload)
        fields["args"] = None
        fields["exc_info"] = None
        record = logging.makeLogRecord(fields)
        logger.handle(record)
    except Exception:  # pragma: no cover - a bad record must not break event delivery
        log.debug("could not re-log a forwarded record", exc_info=True)
    return True
