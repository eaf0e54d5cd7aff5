"""Client side of the manager protocol: requests (DEALER) and reliable events (DEALER + acks)."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import zmq

from labkit.viewer._errors import ManagerUnavailableError
from labkit.viewer._proto import (
    ErrorReply,
    Event,
    Reply,
    Request,
    WireDecodeError,
    pack,
    raise_remote,
    unpack,
)
from labkit.viewer._registry import ManagerEntry

__all__ = ["EventListener", "ManagerClient", "new_client_id"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0

_context_lock = threading.Lock()
_context: zmq.Context | None = None


def _ctx() -> zmq.Context:
    global _context
    with _context_lock:
        if _context is None or _context.closed:
            _context = zmq.Context()
        return _context


def new_client_id() -> str:
    """A process-unique client id: host, pid and a random token."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class ManagerClient:
    """Sends requests to one manager and waits for the reply (thread-safe).

    Raises (from :meth:`request`):
        ManagerUnavailableError: no reply within the timeout (manager dead or hung).
        WindowNotFoundError, TypeError, ValueError, ...: re-raised from the manager;
            other manager-side errors arrive as ``RemoteError``.
    """

    def __init__(
        self, entry: ManagerEntry, key: bytes | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.entry, self.key, self.timeout_s = entry, key, timeout_s
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sock: zmq.Socket | None = None

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            s = _ctx().socket(zmq.DEALER)
            s.linger = 0
            s.connect(self.entry.request_address)
            self._sock = s
        return self._sock

    def request(self, method: str, timeout_s: float | None = None, **params: Any) -> Any:
        """Call ``method`` on the manager and return its result (after the manager did the work)."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            sock = self._socket()
            rid = next(self._ids)
            sock.send_multipart(
                pack(Request(id=rid, method=method, params=params), self.key), copy=False
            )
            deadline_ms = int(timeout_s * 1000)
            while True:
                if not sock.poll(deadline_ms, zmq.POLLIN):
                    self._reset()  # a late reply must not be read as the next one
                    raise ManagerUnavailableError(
                        f"viewer manager at {self.entry.request_address} (pid {self.entry.pid}) did not "
                        f"answer {method!r} within {timeout_s:g} s; it may have died: start one with "
                        "'labkit manager' or pick another with use_manager(i)"
                    )
                try:
                    reply = unpack(sock.recv_multipart(copy=False), self.key)
                except WireDecodeError as exc:
                    logger.warning("undecodable reply from the manager dropped: %s", exc)
                    continue
                if getattr(reply, "id", None) != rid:
                    continue  # a stale reply to an earlier, timed-out request
                break
        if isinstance(reply, ErrorReply):
            raise_remote(reply)
        if not isinstance(reply, Reply):
            raise WireDecodeError(f"expected a Reply, got {type(reply).__name__}")
        return reply.result

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._reset()


class EventListener:
    """A thread receiving reliable events for ``client_id``; calls ``handler(topic, payload)``.

    Each event is acked after the handler returned; events already applied (replays after a
    reconnect) are skipped by sequence number.
    """

    def __init__(
        self,
        entry: ManagerEntry,
        client_id: str,
        handler: Callable[[str, Any], None],
        key: bytes | None = None,
        hello_interval_s: float = 2.0,
    ) -> None:
        self.entry, self.client_id, self.handler, self.key = entry, client_id, handler, key
        self.hello_interval_s = hello_interval_s
        self.last_seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"labkit-viewer-events-{client_id[-8:]}", daemon=True
        )
        self._thread.start()

    def _send(self, sock: zmq.Socket, method: str, **params: Any) -> None:
        sock.send_multipart(pack(Request(id=0, method=method, params=params), self.key), copy=False)

    def _run(self) -> None:
        sock = _ctx().socket(zmq.DEALER)
        sock.linger = 0
        sock.setsockopt(zmq.IDENTITY, self.client_id.encode())
        sock.connect(self.entry.event_address)
        try:
            next_hello = 0.0
            while not self._stop.is_set():
                if time.monotonic() >= next_hello:
                    # periodic hello: the manager replays anything it could not deliver
                    self._send(sock, "hello", client_id=self.client_id, last_seq=self.last_seq)
                    next_hello = time.monotonic() + self.hello_interval_s
                if not sock.poll(100, zmq.POLLIN):
                    continue
                try:
                    msg = unpack(sock.recv_multipart(copy=False), self.key)
                except WireDecodeError as exc:
                    logger.warning("undecodable event dropped: %s", exc)
                    continue
                if not isinstance(msg, Event):
                    continue
                if msg.seq > self.last_seq:
                    try:
                        self.handler(msg.topic, msg.payload)
                    except Exception:
                        logger.exception("viewer event handler failed on %s", msg.topic)
                    self.last_seq = msg.seq
                self._send(sock, "ack", seq=msg.seq)
        finally:
            sock.close(0)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
