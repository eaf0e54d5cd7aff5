"""The engine served over :mod:`labkit.rpc`: commands in, events out.

Used by the child process of ``Scope(mode="process")`` and by ``labkit engine``. Commands run on the
RPC server's worker threads, so a long one (a stage move with ``wait=True``, a long exposure) never
delays another client, a ping or a ``status``/``health`` read, which are answered on the socket
thread. Events (state, property, health, log, error) go to every client that said hello; events a
command emits reach its caller before the command's reply.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any

from labkit.engine import events
from labkit.engine._engine import Engine
from labkit.engine._user_commands import load_function
from labkit.rpc import CallInfo, InlinePolicy, RpcServer, ServerKeys

#: name prefix of the private temporary directory a process-mode Scope makes for its engine
#: child (its socket and the child's stderr file)
ENGINE_DIR_PREFIX = "labkit-engine-"
log = logging.getLogger(__name__)

__all__ = ["EngineServer", "LogForwardHandler", "record_to_json"]

_INLINE = ("ping", "status", "health")  # answered on the socket thread: quick reads only
# answered on the socket thread once they proved quick for that device property (a device whose
# property access is slow is seen after its first slow call and stays on the workers)
_LEARN_INLINE = (
    "get_property",
    "set_property",
    "get_attribute",
    "stage_position",
    "stage_is_moving",
)
_PARENT_CHECK_S = 0.2


class LogForwardHandler(logging.Handler):
    """Turns log records of this process into ``log`` events (payload: a LogRecord's JSON-able fields)."""

    def __init__(self, emit: Callable[[str, dict], None], level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._emit_event = emit
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            self._emit_event("log", record_to_json(record))
        except Exception:  # pragma: no cover - logging must never raise
            pass
        finally:
            self._busy.on = False


def record_to_json(record: logging.LogRecord) -> dict[str, Any]:
    """The payload of a ``log`` event (:class:`~labkit.engine.events.LogEvent`) for ``record``."""
    exc_text = record.exc_text
    if record.exc_info and not exc_text:
        exc_text = "".join(traceback.format_exception(*record.exc_info))
    event = events.LogEvent(
        name=record.name,
        levelno=record.levelno,
        levelname=record.levelname,
        msg=record.getMessage(),
        pathname=record.pathname,
        lineno=record.lineno,
        funcName=record.funcName,
        created=record.created,
        process=record.process,
        processName=record.processName,
        threadName=record.threadName,
        exc_text=exc_text,
    )
    return events.to_payload("log", event)


class EngineServer:
    """Serve one :class:`Engine` until ``shutdown``, a signal, or the parent process dies.

    Args:
        devices: the engine's devices (already built).
        address: ``None`` (a private ipc socket in the runtime directory), ``ipc://PATH`` or
            ``tcp://HOST:PORT`` (always CURVE; clients need the connection file).
        keys: the CURVE identity of a TCP server (default: new keys).
        connection_file: see :class:`labkit.rpc.RpcServer`.
        public_host: host name written in the connection file.
        parent_pid: exit when this process is gone (the child of a process-mode Scope).
        stream_port: TCP only: port of the stream export (``labkit.engine._remote``; 0: any).
        ring_slots: frame ring length.
        commands: user commands to serve (``package.module:function``).
        allow_client_code: let clients add commands by import path (the child of a process-mode
            Scope: its parent owns it; a shared ``labkit engine``: only if its operator asks).
    """

    def __init__(
        self,
        devices: dict[str, Any],
        address: str | None = None,
        *,
        keys: ServerKeys | None = None,
        connection_file: Any = None,
        public_host: str | None = None,
        parent_pid: int | None = None,
        stream_port: int = 0,
        ring_slots: int = 64,
        commands: list[str] | tuple[str, ...] = (),
        allow_client_code: bool = False,
    ) -> None:
        self.parent_pid = parent_pid
        self.parent_gone = False  # the parent died first: it cannot clean up after this engine
        self.remote: Any = None  # RemoteServices of a TCP engine (streams and spool for clients)
        if keys is None and str(address).startswith("tcp://"):
            keys = ServerKeys.generate()  # shared with the stream export
        self.rpc = RpcServer(
            address,
            kind="engine",
            dispatch=self._dispatch,
            inline=_INLINE,
            learn_inline=InlinePolicy(_LEARN_INLINE),
            stop_after=("shutdown",),
            keys=keys,
            connection_file=connection_file,
            public_host=public_host,
        )
        try:
            self.engine = Engine(
                devices,
                emit=self.rpc.publish,
                ring_slots=ring_slots,
                allow_client_code=allow_client_code,
            )
            for command in commands:
                self.engine.commands.add_function(load_function(command))
            if keys is not None:
                from labkit.engine._remote import RemoteServices

                host = self.rpc.address[len("tcp://") :].rpartition(":")[0]
                bind = address[len("tcp://") :].rpartition(":")[0]  # type: ignore[index]
                self.remote = RemoteServices(
                    self.engine, f"tcp://{bind}:{int(stream_port)}", keys, host
                )
        except BaseException:
            self.rpc.stop()
            raise
        if parent_pid is not None:
            self.rpc.add_timer(_PARENT_CHECK_S, self._check_parent)

    @property
    def address(self) -> str:
        return self.rpc.address

    def _dispatch(self, method: str, params: dict, call: CallInfo) -> Any:
        if self.remote is not None:
            if method.startswith(("remote.", "spool.")):
                return self.remote.dispatch(method, params)
            if method == "health":
                return self.remote.health(self.engine.dispatch(method, params))
        return self.engine.dispatch(method, params)

    def _check_parent(self) -> None:
        if os.getppid() != self.parent_pid:
            log.warning("parent process %d is gone; engine shutting down", self.parent_pid)
            self.parent_gone = True
            self.rpc.request_stop()

    def _emit(self, topic: str, payload: Any) -> None:
        self.rpc.publish(topic, payload)

    def request_stop(self) -> None:
        """Ask the server to finish (thread-safe, also from signal handlers)."""
        self.rpc.request_stop()

    def serve(self, ready: Callable[[str], None] | None = None) -> int:
        """Open the engine and answer requests until stopped; returns an exit code."""

        def opened(address: str) -> None:
            self.engine.open()
            log.info("engine serving on %s (pid %d)", address, os.getpid())
            if ready is not None:
                ready(address)

        def before_close() -> None:
            if self.remote is not None:
                self.remote.close()
            self.engine.close()

        try:
            self.rpc.serve(opened, before_close=before_close)
        finally:
            before_close()  # idempotent: also when opening failed
        return 0
