"""Receive exported streams: subscriptions that keep the newest frame (or the rows that came),
credit returned as frames arrive, and the link's state from the server's heartbeats.

One I/O thread owns the DEALER socket. libzmq heartbeats the connection (a ping every 0.25 s; no
byte back within 1.25 s drops it), so a dead link is seen within 1.5 s even while an 8 MB frame
is on its way (any arriving byte counts); the link is then ``down`` until a new connection is
made. libzmq reconnects by itself, and on every new connection the client subscribes again with
fresh credit, so views resume without anything being restarted. A server that answers pings but
sends no message (not even its 0.25 s heartbeats) for ``timeout_s`` also counts as down, and the
client then dials again on a new socket with a new identity (``redials``): a connection that
stands but gets nothing is what a ROUTER shows a client whose identity it lost while taking over
a reconnection (libzmq's ROUTER_HANDOVER under load), and waiting on it would never end.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq
from zmq.utils.monitor import parse_monitor_message

from labkit.buffers import Frame
from labkit.rpc._client import _drain
from labkit.rpc._errors import RpcAuthError, RpcUnavailableError
from labkit.rpc._link import LinkWatch
from labkit.rpc._runtime import ConnectionInfo
from labkit.rpc._security import configure_client
from labkit.rpc._stream_wire import (
    CODECS,
    StreamWireError,
    decode_frame,
    decode_header,
    decode_rows,
    encode_header,
)

__all__ = ["StreamClient", "StreamLinkError", "Subscription"]

logger = logging.getLogger(__name__)

_MAX_ROWS = 1_000_000  # rows a trace subscription keeps for its reader before dropping the oldest


class StreamLinkError(RpcUnavailableError):
    """The link to a stream server is down (no heartbeat within the timeout) or was refused."""


class Subscription:
    """One stream received from a :class:`StreamClient` (thread-safe).

    Frames: :meth:`latest` is the newest frame that arrived, :meth:`wait` blocks for a newer one.
    Traces: :meth:`read_new` returns the rows that arrived since the last call.
    ``frames_dropped`` is the server's count of display frames it skipped for this subscription
    (no credit: a slow link or a slow reader); ``frames_received`` counts what arrived.
    """

    def __init__(self, client: StreamClient, sid: int, request: dict[str, Any]) -> None:
        self._client, self.sid, self.request = client, sid, request
        self.stream: str = request["stream"]
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._rows: list[tuple[np.ndarray, np.ndarray]] = []
        self._n_rows = 0
        self._rows_lost_local = 0
        self.described = threading.Event()
        self.info: dict[str, Any] = {}
        self.error: str | None = None
        self.refused = False  # the server refused this client's keys
        self.frames_received = 0
        self.frames_dropped = 0
        self.rows_lost = 0
        self.bytes_received = 0
        self.closed = False

    # -- fed by the I/O thread -------------------------------------------------------------------

    def _described(self, info: dict[str, Any]) -> None:
        self.info, self.error = info, None
        self.described.set()

    def _failed(self, message: str, refused: bool = False) -> None:
        with self._cond:
            self.error, self.refused = message, refused
            self._cond.notify_all()
        self.described.set()

    def _got_frame(self, frame: Frame, dropped: int, nbytes: int) -> None:
        with self._cond:
            self._frame = frame
            self.frames_received += 1
            self.frames_dropped = dropped
            self.bytes_received += nbytes
            self._cond.notify_all()

    def _got_rows(self, t: np.ndarray, v: np.ndarray, lost: int) -> None:
        with self._cond:
            self.rows_lost = lost
            self._rows.append((t, v))
            self._n_rows += len(t)
            while self._n_rows > _MAX_ROWS and len(self._rows) > 1:
                old_t, _ = self._rows.pop(0)
                self._n_rows -= len(old_t)
                self._rows_lost_local += len(old_t)
            self._cond.notify_all()

    # -- the reader's side -----------------------------------------------------------------------

    def latest(self) -> Frame | None:
        """The newest frame that arrived (None before the first)."""
        with self._cond:
            return self._frame

    def wait(self, timeout: float | None, after_index: int | None) -> bool:
        """Block until a frame newer than ``after_index`` arrived; False on timeout."""
        with self._cond:
            return (
                self._cond.wait_for(
                    lambda: (
                        self.closed
                        or self.error is not None
                        or (
                            self._frame is not None
                            and (after_index is None or self._frame.index > after_index)
                        )
                    ),
                    timeout,
                )
                and self._frame is not None
            )

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Rows that arrived since the last call: ``(t (n,), v (n, c), rows_lost_since)``."""
        with self._cond:
            rows, self._rows, self._n_rows = self._rows, [], 0
            lost = self.rows_lost + self._rows_lost_local
        c = len(self.info.get("channels", ())) or (rows[0][1].shape[1] if rows else 1)
        if not rows:
            return np.empty(0), np.empty((0, c)), lost
        return np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows]), lost

    def close(self) -> None:
        """Stop receiving this stream (idempotent)."""
        if self.closed:
            return
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self._client._unsubscribe(self)


class StreamClient:
    """A connection to a :class:`~labkit.rpc.StreamServer` (from its ``ConnectionInfo``).

    Args:
        info: address and keys (the engine's connection file gives them for TCP).
        name: shown in the server's figures (``remote:<name>:<stream>``).
        on_link: ``on_link(state)`` with ``"up"``/``"down"`` on every change (I/O thread).
        ping_s: seconds between pings while nothing is sent.
        timeout_s: seconds without a whole message after which the link is ``down``.
        clock: monotonic clock.
    """

    def __init__(
        self,
        info: ConnectionInfo,
        *,
        name: str = "",
        on_link: Callable[[str], None] | None = None,
        ping_s: float = 0.25,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.info, self.address = info, info.address
        self.name = name or f"pid{os.getpid()}"
        self._on_link = on_link
        self._clock = clock
        self.link = LinkWatch(ping_s, timeout_s)
        self._sids = itertools.count(1)
        self._subs: dict[int, Subscription] = {}
        self._lock = threading.Lock()
        self._sendq: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._closing = False
        self.connects = 0
        self.redials = 0  # new sockets dialled because the link went silent (module docstring)
        self.garbage_received = 0
        self.refused: str | None = None  # why the server refused this client's keys
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._ctx = zmq.Context()
        self._sock, self._monitor = self._dial()
        self._thread = threading.Thread(target=self._run, name="labkit-stream-client", daemon=True)
        self._thread.start()

    @property
    def link_state(self) -> str:
        """``"connecting"``, ``"up"`` or ``"down"``."""
        return self.link.state

    def subscribe(
        self,
        stream: str,
        *,
        codec: str = "none",
        credit: int = 4,
        max_bytes_s: float | None = None,
        timeout_s: float = 10.0,
    ) -> Subscription:
        """Receive ``stream``; waits until the server described it.

        ``codec``: ``none``, ``lz4`` or ``zstd`` (blosc2, per frame). ``credit``: frames in flight
        at most. ``max_bytes_s``: the server paces this stream to that rate (a slow link).

        Raises:
            ValueError: an unknown codec.  LookupError: the server has no such stream.
            RpcAuthError: the server refused this client's keys.
            StreamLinkError: no answer within ``timeout_s``.
        """
        if codec not in CODECS:
            raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
        request = {"op": "sub", "stream": stream, "codec": codec, "credit": int(credit)}
        if max_bytes_s is not None:
            request["max_bytes_s"] = float(max_bytes_s)
        sub = Subscription(self, next(self._sids), request)
        with self._lock:
            if self.refused is not None:
                raise RpcAuthError(self.refused)
            self._subs[sub.sid] = sub
        self._post({**request, "sid": sub.sid})
        if not sub.described.wait(timeout_s):
            sub.close()
            raise StreamLinkError(
                f"the stream server at {self.address} did not answer within {timeout_s:g} s "
                f"(link {self.link.state})"
            )
        if sub.error is not None:
            sub.close()
            if sub.refused:
                raise RpcAuthError(sub.error)
            raise LookupError(sub.error)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.pop(sub.sid, None)
        if not self._closing:
            self._post({"op": "unsub", "sid": sub.sid})

    def _post(self, msg: dict[str, Any]) -> None:
        self._sendq.put(msg)
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass

    def _dial(self) -> tuple[zmq.Socket, zmq.Socket]:
        """A DEALER socket with a new identity, connecting to the server, and its monitor."""
        sock = self._ctx.socket(zmq.DEALER)
        configure_client(sock, self.info)
        sock.setsockopt(zmq.IDENTITY, f"{self.name}-{secrets.token_hex(4)}".encode())
        sock.setsockopt(zmq.IMMEDIATE, 1)  # nothing queued for a link that is not there
        sock.setsockopt(zmq.RCVHWM, 16)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 250)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 1250)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        monitor = sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_DISCONNECTED
        )
        sock.connect(self.address)
        return sock, monitor

    def _close_socket(self) -> None:
        self._sock.disable_monitor()
        self._monitor.close(0)
        self._sock.close(linger=200)  # a goodbye still leaves (the engine closes our readers)

    def _redial(self, poller: zmq.Poller) -> None:
        """Replace a socket whose link went silent by a new one (new identity); its handshake
        subscribes again. The old identity says bye, if the server still hears it."""
        for s in (self._sock, self._monitor):
            poller.unregister(s)
        self._send({"op": "bye"})
        self._close_socket()
        self._sock, self._monitor = self._dial()
        for s in (self._sock, self._monitor):
            poller.register(s, zmq.POLLIN)
        self.redials += 1

    # -- the I/O thread --------------------------------------------------------------------------

    def _run(self) -> None:
        poller = zmq.Poller()
        for s in (self._sock, self._monitor, self._wake_r):
            poller.register(s, zmq.POLLIN)
        try:
            while not self._closing:
                timeout = self.link.next_due(self._clock())
                ready = dict(poller.poll(int(timeout * 1000) + 1))
                if self._wake_r in ready:
                    _drain(self._wake_r)
                if self._monitor in ready:
                    self._on_monitor()
                if self._sock in ready:
                    self._receive()
                self._flush()
                now = self._clock()
                if self.link.should_ping(now):
                    self._send({"op": "ping", "name": self.name})
                if self.link.check(now):
                    logger.warning(
                        "link to %s is down: no message for %.1f s; dialling again",
                        self.address,
                        self.link.timeout_s,
                    )
                    self._notify("down")
                    self._redial(poller)
            self._flush()  # the goodbye
        except Exception:  # pragma: no cover - a bug here must show
            logger.exception("stream client I/O thread failed")

    def _send(self, msg: dict[str, Any]) -> bool:
        try:
            self._sock.send(encode_header(msg), zmq.NOBLOCK)
        except zmq.Again:
            return False  # no live connection: subscriptions are sent again on reconnect
        self.link.sent(self._clock())
        return True

    def _flush(self) -> None:
        while True:
            try:
                msg = self._sendq.get_nowait()
            except queue.Empty:
                return
            self._send(msg)

    def _on_monitor(self) -> None:
        while True:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connects += 1
                self._send({"op": "hello", "name": self.name})
                with self._lock:
                    subs = list(self._subs.values())
                for sub in subs:  # fresh credit on the new connection
                    self._send({**sub.request, "sid": sub.sid})
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                if self.link.disconnected(self._clock()):
                    logger.warning("link to %s is down: the connection dropped", self.address)
                    self._notify("down")
            elif event["event"] in (
                zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
            ):
                message = (
                    f"the stream server at {self.address} refused this client's keys: use the "
                    "engine's current connection file"
                )
                with self._lock:
                    self.refused = message
                    subs = list(self._subs.values())
                for sub in subs:
                    sub._failed(message, refused=True)

    def _notify(self, state: str) -> None:
        if self._on_link is not None:
            try:
                self._on_link(state)
            except Exception:  # noqa: BLE001
                logger.exception("link callback failed")

    def _receive(self) -> None:
        for _ in range(64):
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            if self.link.received(self._clock()):
                logger.info("link to %s is up", self.address)
                self._notify("up")
            try:
                self._handle(frames)
            except (StreamWireError, KeyError, TypeError, ValueError) as exc:
                self.garbage_received += 1
                logger.warning("dropped a bad stream message from %s: %s", self.address, exc)

    def _handle(self, frames: list[Any]) -> None:
        header = decode_header(frames[0].buffer)
        op = header["op"]
        if op == "hb":
            return
        with self._lock:
            sub = self._subs.get(int(header["sid"]))
        if sub is None:
            return  # closed meanwhile
        if op == "frame":
            if len(frames) != 2:
                raise StreamWireError("a frame message has a header and one payload")
            data = decode_frame(header, frames[1].buffer)
            meta = {str(k): float(v) for k, v in dict(header.get("meta", {})).items()}
            frame = Frame(data, int(header["index"]), float(header["t"]), meta)
            sub._got_frame(frame, int(header.get("dropped", 0)), len(frames[1].buffer))
            self._send({"op": "credit", "sid": sub.sid, "n": 1})
        elif op == "rows":
            if len(frames) != 2:
                raise StreamWireError("a rows message has a header and one payload")
            t, v = decode_rows(header, frames[1].buffer)
            sub._got_rows(t, v, int(header.get("lost", 0)))
            self._send({"op": "credit", "sid": sub.sid, "n": 1})
        elif op == "subbed":
            sub._described({k: v for k, v in header.items() if k not in ("op", "sid")})
        elif op == "error":
            sub._failed(str(header.get("message", "stream error")))

    # -- closing ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Say bye, stop the I/O thread, close the socket (idempotent)."""
        if self._closing:
            return
        self._post({"op": "bye"})  # sent by the I/O thread's last flush
        self._closing = True
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)
        with self._lock:
            subs = list(self._subs.values())
            self._subs.clear()
        for sub in subs:
            with sub._cond:
                sub.closed = True
                sub._cond.notify_all()
        self._close_socket()
        self._ctx.term()
        os.close(self._wake_r)
        os.close(self._wake_w)
