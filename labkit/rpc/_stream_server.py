"""Export streams over the network: frames and trace rows to remote clients, paced by credit.

One ROUTER socket (TCP: CURVE with the engine's keys and a ZAP handler, as every labkit server),
one thread. A client subscribes to a stream by name with a credit window; the server sends a
frame only while the subscription has credit and the client returns credit as frames arrive, so
at most ``credit`` frames are ever in flight on a link. Frames are newest-wins: frames that came
while a subscription had no credit (a slow link, a slow client) are skipped and counted as
``frames_dropped``; these are display frames only, the spooler reads the ring on the engine's
machine. Trace rows are never skipped: they wait in the engine-side trace reader (its capacity,
then counted as lost). Every send is non-blocking: a peer whose socket queue is full is skipped
(``send_blocked``), so one slow client never holds up the others. The server heartbeats every
peer (with its subscriptions' figures) so clients see a dead link within ``LinkWatch.timeout_s``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import zmq

from labkit.rpc._client import _drain
from labkit.rpc._link import TokenBucket
from labkit.rpc._runtime import ServerKeys, new_connection_info
from labkit.rpc._security import ConnectionTracker, RateLimitedLog, ZapHandler, configure_server
from labkit.rpc._stream_wire import CODECS, StreamWireError, compress, decode_header, encode_header

__all__ = ["ExportSource", "StreamServer"]

logger = logging.getLogger(__name__)

_POLL_S = 0.002  # how often subscriptions with credit look for a new frame
_MAX_CREDIT = 64
_MAX_SUBS = 32
_CONTROL_BYTES = 64 << 10  # clients send only small control messages


class ExportSource(Protocol):
    """One exported stream as the server reads it (made by ``open_source``)."""

    kind: str  # "frames" or "trace"
    channels: tuple[str, ...]

    # a Frame newer than index, or None; it may be a view of a ring slot (``is_intact()`` says
    # whether it still holds that frame after it was read)
    def latest_after(self, index: int | None) -> Any: ...
    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]: ...
    def describe(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


@dataclass(eq=False)
class _Sub:
    sid: int
    stream: str
    source: Any
    codec: str
    credit: int
    bucket: TokenBucket
    last_index: int | None = None
    frames_sent: int = 0
    frames_dropped: int = 0
    rows_sent: int = 0
    rows_lost: int = 0
    bytes_sent: int = 0
    send_blocked: int = 0

    def figures(self) -> dict[str, int]:
        return {
            "frames_sent": self.frames_sent,
            "frames_dropped": self.frames_dropped,
            "rows_sent": self.rows_sent,
            "rows_lost": self.rows_lost,
            "bytes_sent": self.bytes_sent,
            "send_blocked": self.send_blocked,
        }


@dataclass(eq=False)
class _Peer:
    ident: bytes
    name: str
    last_rx: float
    subs: dict[int, _Sub] = field(default_factory=dict)


class StreamServer:
    """Serve streams to remote clients until :meth:`stop`.

    Args:
        address: ``tcp://HOST:PORT`` (port 0: any free one; CURVE with ``keys``) or ``ipc://PATH``.
        open_source: ``open_source(stream, reader_name) -> ExportSource``; raises ``LookupError``
            (naming the streams) for an unknown stream.
        keys: the server's CURVE identity (the engine's, so one connection file serves both).
        public_host: host written in :attr:`address` for a wildcard bind.
        heartbeat_s: period of the heartbeats each peer gets.
        peer_timeout_s: a peer silent this long is forgotten (its readers closed).
        max_connections: ZAP refuses connections past this.
        clock: monotonic clock (injectable).

    Raises:
        zmq.ZMQError: the address cannot be bound.
    """

    def __init__(
        self,
        address: str,
        open_source: Callable[[str, str], ExportSource],
        *,
        keys: ServerKeys | None = None,
        public_host: str | None = None,
        heartbeat_s: float = 0.25,
        peer_timeout_s: float = 30.0,
        max_connections: int = 32,
        sndhwm: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_source = open_source
        self._clock = clock
        self.heartbeat_s, self.peer_timeout_s = heartbeat_s, peer_timeout_s
        self._peers: dict[bytes, _Peer] = {}
        self._figures: dict[str, dict[str, int]] = {}
        self._figures_lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[int, dict[str, Any], Any]] = {}
        self._stop = threading.Event()
        self._warn = RateLimitedLog(logger)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._tracker: ConnectionTracker | None = None
        self._zap: ZapHandler | None = None
        self._thread: threading.Thread | None = None
        try:
            is_tcp = address.startswith("tcp://")
            self._keys = (keys or ServerKeys.generate()) if is_tcp else None
            configure_server(
                self._sock,
                curve_secret=self._keys.server_secret if self._keys else "",
                max_message_bytes=_CONTROL_BYTES,
                hwm=sndhwm,
            )
            self._sock.setsockopt(zmq.RCVHWM, 1000)
            self._sock.setsockopt(zmq.HEARTBEAT_IVL, 500)  # drop dead connections, so a
            self._sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 2000)  # reconnecting peer takes over
            self._tracker = ConnectionTracker(self._sock, self._refused)
            self._zap = ZapHandler(
                self._ctx,
                curve=is_tcp,
                authorized={self._keys.client_public} if self._keys else set(),
                max_connections=max_connections,
                tracker=self._tracker,
            )
            self.address = self._bind(address, public_host)
        except BaseException:
            self._release()
            raise

    def _bind(self, address: str, public_host: str | None) -> str:
        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://") :].rpartition(":")
            self._sock.bind(f"tcp://{host}:{'*' if port in ('0', '') else port}")
            bound_host, _, port = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)[6:].rpartition(
                ":"
            )
            host = public_host or (host if host not in ("0.0.0.0", "*", "[::]") else bound_host)
            return f"tcp://{host}:{port}"
        if address.startswith("ipc://"):
            self._sock.bind(address)
            return address
        raise ValueError(
            f"stream export address must be tcp://HOST:PORT or ipc://PATH: {address!r}"
        )

    def connection_info(self) -> Any:
        """The :class:`ConnectionInfo` a client needs (keys included for TCP)."""
        keys = self._keys
        return new_connection_info(
            "streams",
            self.address,
            server_key=keys.server_public if keys else "",
            client_public=keys.client_public if keys else "",
            client_secret=keys.client_secret if keys else "",
        )

    def _refused(self, what: str) -> None:
        self._warn("stream export refused a connection: %s", what)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StreamServer:
        """Serve from a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="labkit-stream-export", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every reader and the socket (idempotent)."""
        self._stop.set()
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10.0)
        self._release()

    def stats(self) -> dict[str, int]:
        """Clients known now, connections live now, and connections refused so far (bad keys,
        not ZMTP 3, over the limit)."""
        tracker = self._tracker
        return {
            "clients": len(self._peers),
            "connections": 0 if tracker is None else tracker.live,
            "connections_refused": 0 if tracker is None else tracker.refused,
        }

    def figures(self) -> dict[str, dict[str, int]]:
        """``{"remote:<client>:<stream>": {frames_sent, frames_dropped, rows_sent, rows_lost,
        bytes_sent, send_blocked}}`` for every subscription (thread-safe; updated every
        heartbeat)."""
        with self._figures_lock:
            return {k: dict(v) for k, v in self._figures.items()}

    def _release(self) -> None:
        if self._sock.closed:
            return
        for peer in list(self._peers.values()):
            self._drop_peer(peer)
        if self._tracker is not None:
            self._tracker.close(self._sock)
        if self._zap is not None:
            self._zap.close()
        self._sock.close(0)
        self._ctx.term()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        assert self._zap is not None and self._tracker is not None
        poller = zmq.Poller()
        for s in (self._sock, self._zap.socket, self._tracker.monitor, self._wake_r):
            poller.register(s, zmq.POLLIN)
        next_hb = self._clock()
        try:
            while not self._stop.is_set():
                now = self._clock()
                wait = next_hb - now
                if any(s.credit > 0 for p in self._peers.values() for s in p.subs.values()):
                    wait = min(wait, _POLL_S)
                ready = dict(poller.poll(max(0, int(wait * 1000)) + 1))
                if self._zap.socket in ready:
                    self._zap.handle()
                if self._tracker.monitor in ready:
                    self._tracker.handle()
                if self._sock in ready:
                    self._receive()
                if self._wake_r in ready:
                    _drain(self._wake_r)
                now = self._clock()
                for peer in list(self._peers.values()):
                    for sub in list(peer.subs.values()):
                        self._pump(peer, sub, now)
                if now >= next_hb:
                    next_hb = now + self.heartbeat_s
                    self._heartbeat(now)
        except Exception:  # pragma: no cover - a bug here must show, not hang clients silently
            logger.exception("the stream export thread failed")

    def _receive(self) -> None:
        for _ in range(256):
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            ident = frames[0].bytes
            assert self._tracker is not None
            self._tracker.note_message(int(frames[-1].get(zmq.SRCFD)))
            try:
                if len(frames) != 2:
                    raise StreamWireError(f"a control message has 1 frame, got {len(frames) - 1}")
                self._handle(ident, decode_header(frames[1].buffer))
            except (StreamWireError, TypeError, ValueError, KeyError) as exc:
                self._warn("stream export: bad message from %r: %s", ident[:32], exc)

    def _handle(self, ident: bytes, msg: dict[str, Any]) -> None:
        op = msg["op"]
        now = self._clock()
        peer = self._peers.get(ident)
        if peer is None:
            peer = self._peers[ident] = _Peer(ident, str(msg.get("name", "client"))[:64], now)
        peer.last_rx = now
        if op == "sub":
            self._subscribe(peer, msg, now)
        elif op == "credit":
            sub = peer.subs.get(int(msg["sid"]))
            if sub is not None:
                sub.credit = min(_MAX_CREDIT, sub.credit + max(0, int(msg.get("n", 1))))
        elif op == "unsub":
            sub = peer.subs.pop(int(msg["sid"]), None)
            if sub is not None:
                sub.source.close()
        elif op == "bye":
            self._drop_peer(peer)
        elif op not in ("hello", "ping"):
            raise StreamWireError(f"unknown op {op!r}; known: hello, ping, sub, credit, unsub, bye")

    def _subscribe(self, peer: _Peer, msg: dict[str, Any], now: float) -> None:
        sid, stream = int(msg["sid"]), str(msg["stream"])
        codec = str(msg.get("codec", "none"))
        old = peer.subs.pop(sid, None)  # a re-subscription (after a reconnect) starts afresh
        if old is not None:
            old.source.close()
        try:
            if codec not in CODECS:
                raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
            if len(peer.subs) >= _MAX_SUBS:
                raise ValueError(f"at most {_MAX_SUBS} subscriptions per client")
            rate = msg.get("max_bytes_s")
            bucket = TokenBucket(None if rate is None else float(rate), now=now)
            source = self._open_source(stream, f"remote-{peer.name}-{stream}"[:80])
        except (LookupError, ValueError) as exc:
            self._send(peer, {"op": "error", "sid": sid, "message": str(exc)})
            return
        credit = max(1, min(_MAX_CREDIT, int(msg.get("credit", 2))))
        peer.subs[sid] = _Sub(sid, stream, source, codec, credit, bucket)
        self._send(peer, {"op": "subbed", "sid": sid, **source.describe()})

    def _drop_peer(self, peer: _Peer) -> None:
        self._peers.pop(peer.ident, None)
        for sub in peer.subs.values():
            try:
                sub.source.close()
            except Exception:  # noqa: BLE001 - close the others too
                logger.debug("closing an export source failed", exc_info=True)
        peer.subs.clear()

    def _send(self, peer: _Peer, header: dict[str, Any], payload: Any = None) -> bool:
        parts = [peer.ident, encode_header(header)]
        if payload is not None:
            parts.append(payload)
        try:
            self._sock.send_multipart(parts, zmq.NOBLOCK, copy=payload is None)
        except zmq.Again:  # the peer's queue is full (slow link) or it is gone: skip it
            return False
        except zmq.ZMQError as exc:  # EHOSTUNREACH: it disconnected
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            return False
        return True

    # -- sending data ----------------------------------------------------------------------------

    def _pump(self, peer: _Peer, sub: _Sub, now: float) -> None:
        if sub.credit <= 0:
            return
        try:
            if sub.source.kind == "frames":
                self._pump_frame(peer, sub, now)
            else:
                self._pump_rows(peer, sub, now)
        except Exception as exc:  # noqa: BLE001 - a stream that went away: tell the client
            peer.subs.pop(sub.sid, None)
            sub.source.close()
            self._send(
                peer, {"op": "error", "sid": sub.sid, "message": f"{type(exc).__name__}: {exc}"}
            )

    def _encoded(self, sub: _Sub, frame: Any) -> tuple[dict[str, Any], Any] | None:
        """Header and payload of ``frame`` (made once per stream and codec); None if the frame
        was a view of a ring slot that got overwritten while it was read."""
        key = (sub.stream, sub.codec)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == frame.index:
            return cached[1], cached[2]
        data = frame.data
        header = {
            "op": "frame",
            "index": int(frame.index),
            "t": float(frame.timestamp_s),
            "meta": {k: float(v) for k, v in frame.meta.items()},
            "shape": list(data.shape),
            "dtype": data.dtype.str,
            "codec": sub.codec,
        }
        # compressed: straight from the slot; raw: a copy (the socket sends it later, by reference)
        payload = compress(data, sub.codec) if sub.codec != "none" else np.array(data, order="C")
        if not frame.is_intact():
            return None  # torn: the next, newer frame goes instead
        self._cache[key] = (int(frame.index), header, payload)
        return header, payload

    def _pump_frame(self, peer: _Peer, sub: _Sub, now: float) -> None:
        frame = sub.source.latest_after(sub.last_index)
        if frame is None:
            return
        encoded = self._encoded(sub, frame)
        if encoded is None:
            return
        header, payload = encoded
        nbytes = memoryview(payload).nbytes
        if not sub.bucket.allow(nbytes, now):
            return  # the link's rate is spent: a newer frame goes later
        gap = 0 if sub.last_index is None else max(0, frame.index - sub.last_index - 1)
        if not self._send(
            peer, {**header, "sid": sub.sid, "dropped": sub.frames_dropped + gap}, payload
        ):
            sub.send_blocked += 1
            return
        sub.frames_dropped += gap
        sub.last_index = int(frame.index)
        sub.credit -= 1
        sub.frames_sent += 1
        sub.bytes_sent += nbytes

    def _pump_rows(self, peer: _Peer, sub: _Sub, now: float) -> None:
        wait = sub.bucket.wait_s(1 << 12, now)
        if wait > 0:
            return
        t, v, lost = sub.source.read_new()
        sub.rows_lost += int(lost)
        if not len(t) and not lost:
            return
        v = np.asarray(v, np.float64).reshape(len(t), -1)
        payload = np.concatenate([np.asarray(t, np.float64), v.reshape(-1)])
        header = {
            "op": "rows",
            "sid": sub.sid,
            "n": len(t),
            "channels": v.shape[1],
            "lost": sub.rows_lost,
        }
        sub.bucket.allow(payload.nbytes, now)
        if not self._send(peer, header, payload):
            sub.send_blocked += 1
            sub.rows_lost += len(t)  # already read from the buffer: counted, never silent
            return
        sub.credit -= 1
        sub.rows_sent += len(t)
        sub.bytes_sent += payload.nbytes

    def _heartbeat(self, now: float) -> None:
        figures: dict[str, dict[str, int]] = {}
        for peer in list(self._peers.values()):
            if now - peer.last_rx > self.peer_timeout_s:
                logger.info("stream export: client %s went silent; closing its readers", peer.name)
                self._drop_peer(peer)
                continue
            subs = {str(s.sid): s.figures() for s in peer.subs.values()}
            self._send(peer, {"op": "hb", "subs": subs})
            for s in peer.subs.values():
                figures[f"remote:{peer.name}:{s.stream}"] = s.figures()
        with self._figures_lock:
            self._figures = figures
