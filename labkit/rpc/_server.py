"""The RPC server: one ROUTER socket, one socket thread, a worker pool, reliable events per client.

The socket thread only moves messages: it answers ZAP requests, control messages (``rpc.hello``,
``rpc.ping``, ``rpc.ack``, ``rpc.bye``) and the methods declared ``inline`` (quick reads such as
``status``), and hands every other request to a worker thread, so a command that waits for a stage
or loads a file never delays a ping, a property read on another thread or another client. Every
send is non-blocking: a client that stops reading gets its events kept in a bounded backlog (the
overflow counted and reported to it) and its replies queued, and the server moves on. Requests from
one calling thread are answered in order because a client thread waits for its reply before it
sends the next request.

Events emitted while a worker runs a request (from any thread) are sent to that client before the
request's reply, since both travel through the same ordered queue.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from labkit.rpc import _runtime
from labkit.rpc._bulk import MIN_BYTES as BULK_MIN_BYTES
from labkit.rpc._bulk import BulkReceiver
from labkit.rpc._clients import Client, ClientTable
from labkit.rpc._errors import ServerBusyError
from labkit.rpc._inline import InlinePolicy
from labkit.rpc._runtime import ServerKeys
from labkit.rpc._security import ConnectionTracker, RateLimitedLog, ZapHandler, configure_server
from labkit.rpc._workers import Workers
from labkit.wire import ErrorReply, Reply, Request, WireDecodeError, decode

__all__ = ["CallInfo", "RpcServer"]

logger = logging.getLogger(__name__)

Dispatch = Callable[[str, dict, "CallInfo"], Any]

_RETRY_S = 0.02  # a blocked client's queue is retried this often
_GC_S = 10.0
_MAX_FRAMES = 4096
_BATCH = 256  # messages read per wake-up, so replies and events keep flowing under a flood
_CONTROL = frozenset({"rpc.hello", "rpc.ping", "rpc.ack", "rpc.bye"})


@dataclass(frozen=True)
class CallInfo:
    """Who called: the client's id (its socket identity), the method and the request id."""

    client_id: str
    method: str
    request_id: int


class RpcServer:
    """Serve ``dispatch(method, params, call)`` on ``address`` with reliable events.

    Args:
        address: ``None`` for a private ``ipc://`` socket in the runtime directory; ``ipc://PATH``
            (its directory must be private); or ``tcp://HOST:PORT`` (port 0 = any free port), which
            always uses CURVE with ``keys`` (new ones by default).
        kind: what is served ("engine", "manager"): names the socket and the connection file.
        dispatch: runs a request; raise to answer with an error.
        inline: methods answered on the socket thread (must return in microseconds).
        learn_inline: methods (and keys) answered on the socket thread once they proved quick
            (:class:`~labkit.rpc.InlinePolicy`); the rest run on workers.
        stop_after: methods after whose successful reply the server stops ("shutdown").
        keys: the TCP server's CURVE identity (:class:`ServerKeys`, e.g. from a keys file).
        connection_file: where to write the connection file clients read: a path, True (the
            runtime dir), False (none); default: True for TCP, False for ipc.
        public_host: the host name written in the connection file (default: the bound address,
            or this machine's name for a wildcard bind).
        runtime: the private directory for the ipc socket and the connection file (default:
            :func:`labkit.rpc.runtime_dir`; it must be mode 0700 and yours).
        max_message_bytes: a bigger frame disconnects its sender (ZMQ_MAXMSGSIZE).
        shared_memory: on ``ipc://``, let clients lend request buffers of 1 MiB or more (up to
            ``max_message_bytes``) through shared-memory segments instead of the socket
            (``_bulk.py``); offered in the hello reply, never on TCP.
        max_clients: limit on client states kept.
        max_connections: limit on simultaneous connections.
        workers: threads running requests.
        backlog_events: per-client event backlog bound (events).
        backlog_bytes: per-client event backlog bound (bytes).
        client_ttl_s: a client silent this long is forgotten (its backlog dropped).
        clock: monotonic clock (injectable for the timing logic).

    Raises:
        RuntimeDirError: the runtime (or ipc) directory is not private.
        zmq.ZMQError: the address cannot be bound (e.g. the port is taken).
    """

    def __init__(
        self,
        address: str | None,
        *,
        kind: str,
        dispatch: Dispatch,
        inline: Collection[str] = (),
        learn_inline: InlinePolicy | None = None,
        stop_after: Collection[str] = (),
        keys: ServerKeys | None = None,
        connection_file: str | os.PathLike | bool | None = None,
        public_host: str | None = None,
        runtime: str | os.PathLike | None = None,
        max_message_bytes: int = 64 << 20,
        max_clients: int = 64,
        max_connections: int = 64,
        workers: int = 4,
        backlog_events: int = 1024,
        backlog_bytes: int = 64 << 20,
        client_ttl_s: float = 600.0,
        shared_memory: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self._dispatch = dispatch
        self._inline = frozenset(inline)
        self._learn = learn_inline
        self._stop_after = frozenset(stop_after)
        self._clock = clock
        self._runtime = Path(runtime) if runtime is not None else None
        self._out: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._wake_pending = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._timers: list[list[Any]] = []  # [period_s, next_due, fn]
        self._private_dir: Path | None = None
        self._ipc_file: Path | None = None
        self.connection_file: Path | None = None
        self.garbage_received = 0
        self._warn = RateLimitedLog(logger)
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._clients = ClientTable(
            self._sock,
            kind,
            max_clients=max_clients,
            backlog_bounds=(backlog_events, backlog_bytes),
            ttl_s=client_ttl_s,
            clock=clock,
            warn=self._warn,
        )
        self._zap: ZapHandler | None = None
        self._tracker: ConnectionTracker | None = None
        self._workers = Workers(workers, f"labkit-rpc-{kind}")
        try:
            self.connection = self._bind(address, keys, public_host, max_message_bytes)
            self._bulk = (
                BulkReceiver(max_message_bytes)
                if shared_memory and not self.connection.is_tcp
                else None
            )
            self._tracker = ConnectionTracker(self._sock, self._refused)
            self._zap = ZapHandler(
                self._ctx,
                curve=self.connection.is_tcp,
                authorized={self.connection.client_public} if self.connection.is_tcp else set(),
                max_connections=max_connections,
                tracker=self._tracker,
            )
            if connection_file is None:
                connection_file = self.connection.is_tcp
            if connection_file is True:
                name = f"{kind}-{os.getpid()}-{secrets.token_hex(3)}.json"
                connection_file = self._runtime_dir() / name
            if connection_file:
                self.connection_file = _runtime.write_connection_file(
                    Path(connection_file), self.connection
                )
        except BaseException:
            self._release()
            raise

    # -- binding ---------------------------------------------------------------------------------

    def _bind(
        self,
        address: str | None,
        keys: ServerKeys | None,
        public_host: str | None,
        max_message_bytes: int,
    ) -> _runtime.ConnectionInfo:
        if address is None:
            name = f"{self.kind}-{os.getpid()}-{secrets.token_hex(4)}"
            address, self._private_dir = _runtime.ipc_path(self._runtime_dir(), name)
        if address.startswith("ipc://"):
            path = Path(address[len("ipc://") :])
            _runtime.check_private_dir(path.parent)
            configure_server(self._sock, max_message_bytes=max_message_bytes)
            self._sock.bind(address)
            self._ipc_file = path
            return _runtime.new_connection_info(self.kind, address)
        if not address.startswith("tcp://"):
            raise ValueError(
                f"address {address!r} must be 'ipc://PATH' or 'tcp://HOST:PORT' (or None for a "
                "private ipc socket in the runtime directory)"
            )
        keys = keys or ServerKeys.generate()
        configure_server(
            self._sock, curve_secret=keys.server_secret, max_message_bytes=max_message_bytes
        )
        host, _, port = address[len("tcp://") :].rpartition(":")
        self._sock.bind(f"tcp://{host}:{'*' if port in ('0', '') else port}")
        host, _, port = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)[6:].rpartition(":")
        if public_host:
            host = public_host
        elif host in ("0.0.0.0", "[::]"):  # clients need a name they can reach
            host = socket.getfqdn()
        return _runtime.new_connection_info(
            self.kind,
            f"tcp://{host}:{port}",
            server_key=keys.server_public,
            client_public=keys.client_public,
            client_secret=keys.client_secret,
        )

    def _runtime_dir(self) -> Path:
        if self._runtime is None:
            return _runtime.runtime_dir()
        _runtime.check_private_dir(self._runtime)
        return self._runtime

    @property
    def address(self) -> str:
        """Where clients connect (the real port when 0 was asked for)."""
        return self.connection.address

    # -- thread-safe API ---------------------------------------------------------------------------

    def publish(self, topic: str, payload: Any) -> None:
        """Send an event to every subscribed client (thread-safe, never blocks)."""
        self._post(("pub", topic, payload))

    def send_event(self, client_id: str, topic: str, payload: Any, coalesce: Any = None) -> None:
        """Send an event to one client, kept until it acks (thread-safe, never blocks).

        Events with the same non-None ``coalesce`` key replace the unacked older ones.
        """
        self._post(("evt", client_id.encode(), topic, payload, coalesce))

    def forget_client(self, client_id: str) -> None:
        """Drop a client's state and unacked events (thread-safe)."""
        self._post(("forget", client_id.encode()))

    def add_timer(self, period_s: float, fn: Callable[[], None]) -> None:
        """Call ``fn()`` every ``period_s`` on the socket thread (keep it short). Before start."""
        self._timers.append([period_s, self._clock() + period_s, fn])

    def _post(self, item: tuple) -> None:
        self._out.put(item)
        self._wake()

    def _wake(self) -> None:
        if self._wake_pending.is_set():
            return
        self._wake_pending.set()
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):  # pipe full or closed: a wake-up is pending anyway
            pass

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, before_close: Callable[[], None] | None = None) -> RpcServer:
        """Serve from a background daemon thread; returns self (see :meth:`serve`)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve,
                kwargs={"before_close": before_close},
                name=f"labkit-rpc-{self.kind}",
                daemon=True,
            )
            self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the loop to finish (thread-safe, also from signal handlers)."""
        self._stop.set()
        self._wake_pending.clear()
        self._wake()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and release the socket, threads and files (idempotent)."""
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        if self._thread is None:
            self._release()

    close = stop

    def __enter__(self) -> RpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve(
        self,
        ready: Callable[[str], None] | None = None,
        before_close: Callable[[], None] | None = None,
    ) -> None:
        """Answer requests until :meth:`request_stop`; then release everything.

        ``ready(address)`` runs once the loop is about to start; ``before_close()`` after it ended,
        and the events it publishes are still sent before the socket closes.
        """
        assert self._tracker is not None and self._zap is not None
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        poller.register(self._zap.socket, zmq.POLLIN)
        poller.register(self._tracker.monitor, zmq.POLLIN)
        next_gc = self._clock() + _GC_S
        try:
            if ready is not None:
                ready(self.address)
            while not self._stop.is_set():
                now = self._clock()
                due = [next_gc, *(t[1] for t in self._timers)]
                if self._clients.any_blocked:
                    due.append(now + _RETRY_S)
                timeout_ms = int(max(0.0, min(due) - now) * 1000) + 1
                ready_socks = dict(poller.poll(timeout_ms))
                if self._wake_r in ready_socks:
                    self._drain_wake()
                if self._sock in ready_socks:
                    self._receive()
                if self._zap.socket in ready_socks:
                    self._zap.handle()
                if self._tracker.monitor in ready_socks:
                    self._tracker.handle()
                self._flush_out()
                self._clients.retry_blocked()
                now = self._clock()
                for timer in self._timers:
                    if now >= timer[1]:
                        timer[1] = now + timer[0]
                        try:
                            timer[2]()
                        except Exception:
                            logger.exception(
                                "timer %r of the %s server failed", timer[2], self.kind
                            )
                if now >= next_gc:
                    next_gc = now + _GC_S
                    self._clients.gc(now)
        finally:
            try:
                if before_close is not None:
                    before_close()
                self._flush_out()
            finally:
                self._release()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._workers.close()
        if self._tracker is not None:
            self._tracker.close(self._sock)
        if self._zap is not None:
            self._zap.close()
        self._sock.close(0)
        self._ctx.term()
        os.close(self._wake_r)
        os.close(self._wake_w)
        if self.connection_file is not None:
            self.connection_file.unlink(missing_ok=True)
        if self._ipc_file is not None:
            self._ipc_file.unlink(missing_ok=True)
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)

    def _drain_wake(self) -> None:
        # read the pipe first, then clear the flag: a post between the two finds the flag set and
        # writes nothing, but its item is in the queue, which is flushed after this
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        self._wake_pending.clear()

    # -- receiving -------------------------------------------------------------------------------

    def _receive(self) -> None:
        for _ in range(_BATCH):
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            if len(frames) < 2 or len(frames) > _MAX_FRAMES:
                self._garbage(frames[0].bytes, f"a message of {len(frames)} frames")
                continue
            assert self._tracker is not None
            fd = int(frames[1].get(zmq.SRCFD))
            self._tracker.note_message(fd)
            self._handle(frames[0].bytes, frames[1:], fd)

    def _garbage(self, ident: bytes, what: str) -> None:
        self.garbage_received += 1
        self._warn("%s server: dropped %s from client %r", self.kind, what, ident[:32])

    def _handle(self, ident: bytes, body: list, fd: int) -> None:
        try:
            msg = decode(body, resolve=self._bulk.adopt if self._bulk is not None else None)
            if not isinstance(msg, Request):
                raise WireDecodeError(
                    f"a {self.kind} server only accepts Request messages, got {type(msg).__name__}"
                )
        except WireDecodeError as exc:
            self._garbage(ident, f"an undecodable message ({exc})")
            self._clients.reply(ident, ErrorReply(id=0, type=_type_name(exc), message=str(exc)))
            return
        client = self._clients.get(ident)
        if client is None:
            busy = ServerBusyError(
                f"the {self.kind} server already serves {self._clients.max_clients} clients; close "
                "some (scope.close(), lv.shutdown()) or start the server with a higher limit"
            )
            self._clients.reply(ident, ErrorReply.from_exception(msg.id, busy))
            return
        client.last_seen = self._clock()
        self._clients.note_connection(client, fd)
        if not client.connected:  # it is back (reconnected): send what waited for it
            client.connected = True
            if msg.method != "rpc.hello":  # a hello says what it applied: resent from there
                self._clients.flush(client)
        if msg.method in _CONTROL:
            self._control(client, msg)
        elif msg.method in self._inline:
            self._clients.reply(ident, self._run(ident, msg))
        else:
            key = self._learn.key(msg.method, msg.params) if self._learn is not None else None
            if key is not None and self._learn is not None and self._learn.inline(key):
                self._clients.reply(ident, self._run(ident, msg, key))
            else:
                self._workers.submit(lambda: self._reply_later(ident, msg, key))

    def _reply_later(self, ident: bytes, msg: Request, key: Any = None) -> None:
        reply = self._run(ident, msg, key)
        msg.params.clear()  # before the reply: a client reuses the shared memory it lent once
        self._post(("reply", ident, reply))  # nothing but what the handler kept maps it
        if msg.method in self._stop_after and isinstance(reply, Reply):
            self._post(("stop",))  # after the reply: the queue keeps the order

    def _run(self, ident: bytes, msg: Request, key: Any = None) -> Any:
        call = CallInfo(ident.decode(errors="replace"), msg.method, msg.id)
        t0 = time.perf_counter()
        try:
            result = self._dispatch(msg.method, dict(msg.params or {}), call)
        except Exception as exc:
            return ErrorReply.from_exception(msg.id, exc)
        finally:
            if key is not None and self._learn is not None:
                self._learn.record(key, time.perf_counter() - t0)
        return Reply(id=msg.id, result=result)

    def _control(self, client: Client, msg: Request) -> None:
        params = msg.params or {}
        if msg.method == "rpc.ack":
            client.backlog.ack(_int(params.get("seq")))
            return
        if msg.method == "rpc.bye":
            self._clients.forget(client.ident)
            return
        if msg.method == "rpc.ping":
            self._clients.reply(client.ident, Reply(id=msg.id, result={"t": time.time()}))
            return
        # rpc.hello: (re)announce; replay what the client has not applied
        client.name = str(params.get("name", ""))[:200]
        client.subscribed = bool(params.get("subscribe", False))
        last_seq = _int(params.get("last_seq"))
        resumed = (
            _int(params.get("epoch")) == client.backlog.epoch
            and 0 < last_seq <= client.backlog.last_seq
        )
        # Resend every event held (not acked) after what the client applied: events handed to a
        # connection that died before the server saw it go were marked sent and never arrived. A
        # client that knows nothing of this epoch (a new process with the same id) applied none;
        # the client drops a seq it already has, so a resend is never applied twice.
        client.backlog.rewind(last_seq if resumed else 0)
        info = {
            "kind": self.kind,
            "pid": os.getpid(),
            "client_id": client.ident.decode(errors="replace"),
            "resumed": resumed,
        }
        if self._bulk is not None:  # [min, max] bytes of a buffer lent through shared memory
            info["shm"] = [BULK_MIN_BYTES, self._bulk.max_bytes]
        self._clients.reply(client.ident, Reply(id=msg.id, result=info))

    def _flush_out(self) -> None:
        """Hand what other threads posted to the clients (in the order it was posted)."""
        while True:
            try:
                item = self._out.get_nowait()
            except queue.Empty:
                return
            kind = item[0]
            if kind == "reply":
                self._clients.reply(item[1], item[2])
            elif kind == "pub":
                self._clients.publish(item[1], item[2])
            elif kind == "evt":
                target = self._clients.get(item[1])
                if target is None:
                    self._clients.events_dropped += 1
                    self._warn(
                        "%s server: no room for client %r; event dropped", self.kind, item[1]
                    )
                else:
                    self._clients.event(target, item[2], item[3], item[4])
            elif kind == "forget":
                self._clients.forget(item[1])
            elif kind == "stop":
                self._stop.set()

    def _refused(self, text: str) -> None:
        self._warn("%s server refused a connection: %s", self.kind, text)

    # -- introspection -----------------------------------------------------------------------------

    @property
    def events_dropped(self) -> int:
        """Events dropped, over all clients, because a client did not read them."""
        return self._clients.events_dropped

    def client_connected(self, client_id: str) -> bool:
        """True while ``client_id`` has a live connection to this server (thread-safe read)."""
        client = self._clients.find(client_id.encode())
        return client is not None and self._tracker is not None and self._tracker.is_live(client.fd)

    def stats(self) -> dict[str, Any]:
        """Counters: clients, live/refused connections, garbage, dropped events (not thread-safe:
        a snapshot of numbers read without a lock)."""
        tracker = self._tracker
        return {
            "clients": len(self._clients),
            "connections": tracker.live if tracker else 0,
            "connections_refused": tracker.refused if tracker else 0,
            "garbage_received": self.garbage_received,
            "events_dropped": self.events_dropped,
            "shm_buffers_received": self._bulk.buffers_received if self._bulk else 0,
            "shm_bytes_received": self._bulk.bytes_received if self._bulk else 0,
        }


def _int(value: Any) -> int:
    return value if type(value) is int else 0


def _type_name(exc: BaseException) -> str:
    from labkit.wire._errors import type_name

    return type_name(type(exc))
