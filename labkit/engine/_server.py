"""The engine's server loop: a ZeroMQ ROUTER answering typed requests and streaming events.

Used by the child process of ``Scope(mode="process")`` and by ``labkit engine``. Replies and events
travel over the same connection (ROUTER → each client's DEALER), so events are reliable and ordered;
events emitted while a command runs are sent before that command's reply. Commands run one at a time
on the server thread. Garbage, unknown commands and bad parameters get an :class:`ErrorReply` and the
server keeps running.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

import zmq

from labkit.engine import _wire as w
from labkit.engine._engine import Engine

log = logging.getLogger(__name__)

__all__ = ["EngineServer", "LogForwardHandler"]

_POLL_MS = 200
_MAX_CLIENTS = 64
_MAX_REQUEST_BYTES = 64 * 2**20  # requests are small; replies (frames) are not limited


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
    exc_text = record.exc_text
    if record.exc_info and not exc_text:
        exc_text = "".join(traceback.format_exception(*record.exc_info))
    return {
        "name": record.name,
        "levelno": record.levelno,
        "levelname": record.levelname,
        "msg": record.getMessage(),
        "pathname": record.pathname,
        "lineno": record.lineno,
        "funcName": record.funcName,
        "created": record.created,
        "process": record.process,
        "processName": record.processName,
        "threadName": record.threadName,
        "exc_text": exc_text,
    }


class EngineServer:
    """Serve one :class:`Engine` on ``address`` until ``shutdown``, a signal, or the parent dies.

    Args:
        devices: the engine's devices (already built).
        address: ZeroMQ endpoint to bind (``ipc://...`` or ``tcp://127.0.0.1:PORT``).
        key: HMAC key; when set every message must be signed with it (required off loopback).
        parent_pid: exit when this process is gone (the child of a process-mode Scope).
        ring_slots: frame ring length.
    """

    def __init__(
        self,
        devices: dict[str, Any],
        address: str,
        key: str | bytes | None = None,
        parent_pid: int | None = None,
        ring_slots: int = 64,
    ) -> None:
        self.address = address
        self.key = key
        self.parent_pid = parent_pid
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._seq = 0
        self._clients: dict[bytes, int] = {}  # identity -> events dropped for it
        self._stop = threading.Event()
        self._server_ident: int | None = None
        self.garbage_received = 0
        self.engine = Engine(devices, emit=self._emit, ring_slots=ring_slots)

    # -- events from any thread ------------------------------------------------------------------

    def _emit(self, topic: str, payload: Any) -> None:
        self._events.put((topic, payload))
        if threading.get_ident() == self._server_ident:
            return  # the server thread flushes events itself before it replies or polls again
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):  # pipe full: a wake-up is pending anyway
            pass

    def request_stop(self) -> None:
        """Ask the loop to finish (thread-safe, also from signal handlers)."""
        self._stop.set()
        self._emit("noop", None)

    # -- loop ------------------------------------------------------------------------------------

    def serve(self, ready: Callable[[str], None] | None = None) -> int:
        """Bind, open the engine and answer requests until stopped; returns an exit code."""
        ctx = zmq.Context()
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.setsockopt(zmq.MAXMSGSIZE, _MAX_REQUEST_BYTES)  # a peer sending more is disconnected
        self._server_ident = threading.get_ident()
        try:
            sock.bind(self.address)
            self.address = sock.getsockopt_string(zmq.LAST_ENDPOINT)
            self.engine.open()
            log.info("engine serving on %s (pid %d)", self.address, os.getpid())
            if ready is not None:
                ready(self.address)
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            poller.register(self._wake_r, zmq.POLLIN)
            while not self._stop.is_set():
                ready_socks = dict(poller.poll(_POLL_MS))
                if self._wake_r in ready_socks:
                    self._drain_wake()
                self._flush_events(sock)
                if sock in ready_socks:
                    self._serve_requests(sock)
                if self.parent_pid is not None and not _parent_alive(self.parent_pid):
                    log.warning("parent process %d is gone; engine shutting down", self.parent_pid)
                    break
            return 0
        finally:
            try:
                self.engine.close()
                self._flush_events(sock)
            finally:
                sock.close(linger=0)
                ctx.term()
                os.close(self._wake_r)
                os.close(self._wake_w)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _serve_requests(self, sock: zmq.Socket) -> None:
        for _ in range(1000):  # bounded so events keep flowing under a request flood
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._handle(sock, frames)
            if self._stop.is_set():
                return

    def _handle(self, sock: zmq.Socket, frames: list) -> None:
        ident, body = frames[0].bytes, frames[1:]
        req_id = 0
        try:
            msg = w.decode_frames(body, self.key)
            if not isinstance(msg, w.Request):
                raise w.WireDecodeError(
                    f"the engine only accepts Request messages, got {type(msg).__name__}; "
                    "send labkit.wire.Request(id, method, params)"
                )
            req_id = msg.id
            if msg.method == "hello" and len(self._clients) < _MAX_CLIENTS:
                self._clients.setdefault(ident, 0)
            result = self.engine.dispatch(msg.method, msg.params)
            reply: Any = w.Reply(id=req_id, result=result)
        except Exception as exc:
            if isinstance(exc, w.WireDecodeError):
                self.garbage_received += 1
                log.debug("undecodable message from client: %s", exc)
            reply = w.ErrorReply.from_exception(req_id, exc)
        self._flush_events(sock)  # events caused by the command go before its reply
        try:
            out = w.encode_frames(reply, self.key)
        except Exception as exc:  # result not encodable: tell the caller why
            out = w.encode_frames(w.ErrorReply.from_exception(req_id, exc), self.key)
        self._send(sock, ident, out)
        if isinstance(reply, w.Reply) and msg.method == "shutdown":
            self._stop.set()

    def _flush_events(self, sock: zmq.Socket) -> None:
        while True:
            try:
                topic, payload = self._events.get_nowait()
            except queue.Empty:
                return
            if topic == "noop":
                continue
            self._seq += 1
            if not self._clients:
                continue
            try:
                frames = w.encode_frames(
                    w.Event(topic=topic, payload=payload, seq=self._seq), self.key
                )
            except Exception:
                log.exception("cannot encode %s event; dropped", topic)
                continue
            for ident in list(self._clients):
                self._send(sock, ident, frames)

    def _send(self, sock: zmq.Socket, ident: bytes, frames: list) -> None:
        try:
            sock.send_multipart([ident, *frames], zmq.NOBLOCK, copy=len(frames) == 1)
        except zmq.Again:
            if ident in self._clients:
                self._clients[ident] += 1  # client not reading: counted, never blocks the engine
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                self._clients.pop(ident, None)  # client went away
            else:  # pragma: no cover
                raise


def _parent_alive(pid: int) -> bool:
    return os.getppid() == pid
