"""The RPC client: calls from any thread, events in order, liveness from pings.

One I/O thread owns the DEALER socket. Callers queue their request and wait for the reply (several
threads may call at once; each waits for its own reply). Events are delivered to ``on_event`` on the
I/O thread in sequence order, duplicates (replays after a reconnect) skipped and acked in batches;
``events_lost`` is the server's count of events it had to drop for this client. When nothing has
arrived for ``ping_s`` the client pings; a server silent for ``liveness_s`` is declared dead (a busy
server still answers pings on its socket thread, so a long command never looks like death). When
``pid`` is given (a child engine) its exit is seen at once through a pidfd.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import secrets
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from labkit.rpc._bulk import BulkSender
from labkit.rpc._errors import RpcAuthError, RpcTimeoutError, RpcUnavailableError
from labkit.rpc._liveness import Liveness
from labkit.rpc._runtime import ConnectionInfo, read_connection_file
from labkit.rpc._security import configure_client
from labkit.wire import ErrorReply, Event, Reply, Request, WireDecodeError, decode, encode

__all__ = ["RpcClient", "resolve_connection"]

logger = logging.getLogger(__name__)

OnEvent = Callable[[Event], None]

_MONITORED = (
    zmq.EVENT_CONNECTED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
)


def resolve_connection(
    target: str | os.PathLike | ConnectionInfo, key: Any = None
) -> ConnectionInfo:
    """A ConnectionInfo from an address, a connection file path, or one given.

    ``key`` is the connection file of a TCP server (path or ConnectionInfo) when ``target`` is its
    address.

    Raises:
        ValueError: a TCP address without its connection file.
        ConnectionFileError: the file is missing, loose or malformed.
    """
    if isinstance(target, ConnectionInfo):
        return target
    text = os.fspath(target)
    if "://" not in text:
        return read_connection_file(Path(text))
    info = None
    if key is not None:
        info = key if isinstance(key, ConnectionInfo) else read_connection_file(Path(key))
    if text.startswith("tcp://"):
        if info is None:
            raise ValueError(
                f"{text} is a TCP address: labkit's TCP servers use CURVE keys, so pass the "
                "server's connection file (key='engine-….json', printed by the server)"
            )
        return ConnectionInfo(
            kind=info.kind,
            address=text,
            server_key=info.server_key,
            client_public=info.client_public,
            client_secret=info.client_secret,
        )
    if not text.startswith("ipc://"):
        raise ValueError(f"address {text!r} must start with ipc:// or tcp://")
    return ConnectionInfo(kind="", address=text)


class _Pending:
    __slots__ = ("answered", "done", "error", "method", "result")

    def __init__(self, method: str) -> None:
        self.method = method
        self.answered = False  # a Reply or ErrorReply came (the server decoded the request)
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class RpcClient:
    """A connection to an :class:`~labkit.rpc.RpcServer`.

    Args:
        target: ``ipc://`` address, connection file path, or :class:`ConnectionInfo`.
        key: the connection file when ``target`` is a ``tcp://`` address.
        on_event: called with each :class:`~labkit.wire.Event` in order, on the I/O thread.
        on_died: called once with the reason when the server is found dead.
        explain_death: turns the bare reason into the message users see (e.g. with the exit
            code and the last output of a child process).
        subscribe: receive the server's ``publish`` events.
        name: shown in the server's logs.
        client_id: stable id (socket identity); events addressed to it survive reconnects.
        pid: a process whose exit means the server died (a child engine).
        unavailable_error: the exception class raised once the server is dead.
        connect_timeout_s: how long the first hello may take.
        ping_s: idle ping period.
        liveness_s: silence that means the server is dead.
        shared_memory: over ``ipc://``, lend large request buffers to a server that offers it
            through shared memory (``_bulk.py``) instead of sending the bytes.
        heartbeat_s: libzmq heartbeats on the connection: one silent for 3 × this is dropped
            and made again (a network link that died and came back; pending calls fail).

    Raises:
        RpcUnavailableError (or ``unavailable_error``): no answer within ``connect_timeout_s``.
        RpcAuthError: the server refused this client's keys.
    """

    def __init__(
        self,
        target: str | os.PathLike | ConnectionInfo,
        key: Any = None,
        *,
        on_event: OnEvent | None = None,
        on_died: Callable[[str], None] | None = None,
        explain_death: Callable[[str], str] | None = None,
        subscribe: bool = False,
        name: str = "",
        client_id: str | None = None,
        pid: int | None = None,
        unavailable_error: type[RpcUnavailableError] = RpcUnavailableError,
        connect_timeout_s: float = 10.0,
        ping_s: float = 1.0,
        liveness_s: float = 5.0,
        label: str = "rpc",
        shared_memory: bool = True,
        heartbeat_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.info = resolve_connection(target, key)
        self._bulk: BulkSender | None = None
        self.address = self.info.address
        self.client_id = client_id or f"{label}-{os.getpid()}-{secrets.token_hex(6)}"
        self._on_event = on_event
        self._on_died = on_died
        self._explain_death = explain_death
        self._subscribe = subscribe
        self._name = name or label
        self._unavailable = unavailable_error
        self._clock = clock
        self._liveness = Liveness(ping_s, liveness_s)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._sendq: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._closing = False
        self._closed = False
        self.dead_reason: str | None = None
        self.last_seq = 0
        self.events_lost = 0
        self._epoch = 0
        self._lost_base = 0
        self.garbage_received = 0
        self._connects = 0
        self._pidfd = os.pidfd_open(pid) if pid is not None else None
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        configure_client(self._sock, self.info)
        self._sock.setsockopt(zmq.IDENTITY, self.client_id.encode())
        self._sock.setsockopt(zmq.SNDHWM, 1000)
        self._sock.setsockopt(zmq.RCVHWM, 1000)
        if heartbeat_s is not None:
            self._sock.setsockopt(zmq.HEARTBEAT_IVL, int(heartbeat_s * 1000))
            self._sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(3 * heartbeat_s * 1000))
            self._sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        self._monitor = self._sock.get_monitor_socket(_MONITORED)
        self._auth_refused = False  # the server refused the keys: later calls say so, not "dead"
        self._sock.connect(self.address)
        self._thread = threading.Thread(target=self._run, name=f"labkit-{label}-io", daemon=True)
        self._thread.start()
        try:
            self.hello: dict = self.call("rpc.hello", self._hello_params(), connect_timeout_s)
        except RpcTimeoutError:
            self.close()
            raise self._unavailable(
                f"nothing answered at {self.address} within {connect_timeout_s:g} s; check that "
                "the server is running there (and, for TCP, that the connection file is its "
                "current one)"
            ) from None
        except BaseException:
            self.close()
            raise
        shm = self.hello.get("shm") if isinstance(self.hello, dict) else None
        if shared_memory and self.address.startswith("ipc://") and isinstance(shm, list):
            self._bulk = BulkSender(min_bytes=int(shm[0]), max_bytes=int(shm[1]))

    def _hello_params(self) -> dict:
        return {
            "subscribe": self._subscribe,
            "epoch": self._epoch,
            "last_seq": self.last_seq,
            "name": self._name,
        }

    def shm_stats(self) -> dict[str, int]:
        """Buffers and bytes this client lent through shared memory, and its segments."""
        return self._bulk.stats() if self._bulk is not None else {}

    @property
    def alive(self) -> bool:
        return self.dead_reason is None and not self._closing

    # -- calls -----------------------------------------------------------------------------------

    def call(self, method: str, params: dict | None = None, timeout_s: float | None = None) -> Any:
        """Send a request and wait for its reply (from any thread).

        Raises:
            ``unavailable_error``: the server is (or was found) dead, or this client is closed.
            RpcAuthError: the server refused this client's keys.
            RpcTimeoutError: no reply within ``timeout_s`` (the server still answers pings).
            Exception: the remote exception (registered types as themselves, else RemoteError).
        """
        if self.dead_reason is not None:
            if self._auth_refused:  # refused before this call was made (the hello, often)
                raise RpcAuthError(self.dead_reason)
            raise self._unavailable(self.dead_reason)
        if self._closing:
            raise self._unavailable(f"the connection to {self.address} is closed")
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "an event handler cannot make calls on its own connection (it runs on the I/O "
                "thread that would deliver the reply); hand the work to another thread"
            )
        req_id = next(self._ids)
        pending = _Pending(method)
        self._pending[req_id] = pending
        lent = self._bulk.batch() if self._bulk is not None else None
        try:
            request = Request(id=req_id, method=method, params=params or {})
            self._send(encode(request, offload=lent.offload if lent is not None else None))
            if not pending.done.wait(timeout_s):
                raise RpcTimeoutError(
                    f"{method!r} got no reply from {self.address} within {timeout_s:g} s; "
                    + self._heard_from()
                )
        finally:
            self._pending.pop(req_id, None)
            if lent is not None:
                lent.done(answered=pending.answered)
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _heard_from(self) -> str:
        last = self._liveness.last_rx
        if last is None:
            return "the server has not answered anything yet (is it running there?)"
        quiet_s = self._clock() - last
        if quiet_s < 2 * self._liveness.ping_s:
            return "the server still answers pings, so it is busy (a long command on it?)"
        return f"nothing has come from the server for {quiet_s:.1f} s"

    def notify(self, method: str, params: dict | None = None) -> None:
        """Send a request without waiting for (or getting) a reply (id 0)."""
        if self.alive:
            self._send(encode(Request(id=0, method=method, params=params or {})))

    def _send(self, frames: list[Any]) -> None:
        self._sendq.put(frames)
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):  # pipe full: the I/O thread is awake anyway
            pass

    # -- the I/O thread --------------------------------------------------------------------------

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        if self._pidfd is not None:
            poller.register(self._pidfd, zmq.POLLIN)
        waiting: list[Any] | None = None  # a request the socket could not take yet
        try:
            while not self._closing:
                timeout_s = self._liveness.next_check(self._clock())
                ready = dict(poller.poll(None if timeout_s is None else int(timeout_s * 1000) + 1))
                if self._pidfd is not None and self._pidfd in ready:
                    return self._die("the server process exited")
                if self._sock in ready:
                    self._receive()
                if self._monitor in ready:  # after the messages: a reply sent just before a
                    self._on_monitor()  # server stopped is read before its disconnect
                if self._wake_r in ready:
                    _drain(self._wake_r)
                waiting = self._flush_sends(waiting)
                now = self._clock()
                verdict = self._liveness.check(now)
                if verdict == "ping":
                    self._sock.send_multipart(
                        encode(Request(id=0, method="rpc.ping", params={})), zmq.NOBLOCK
                    )
                elif verdict == "dead":
                    return self._die(
                        f"no answer from the server at {self.address} for "
                        f"{self._liveness.liveness_s:g} s (not even to pings)"
                    )
            self._flush_sends(waiting)  # the goodbye, if the socket takes it
        except Exception as exc:  # pragma: no cover - a bug here must not hang callers
            logger.exception("RPC client I/O thread failed")
            self._die(f"the client's I/O thread failed: {exc!r}")

    def _flush_sends(self, waiting: list[Any] | None) -> list[Any] | None:
        while True:
            frames = waiting
            if frames is None:
                try:
                    frames = self._sendq.get_nowait()
                except queue.Empty:
                    return None
            try:
                self._sock.send_multipart(frames, zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return frames  # retried on the next wake-up (the peer is slow to read)
            waiting = None

    def _receive(self) -> None:
        acked = self.last_seq
        while True:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            self._liveness.received(self._clock())
            try:
                msg = decode(frames)
            except WireDecodeError as exc:
                self.garbage_received += 1
                logger.warning("dropped an undecodable message from %s: %s", self.address, exc)
                continue
            if isinstance(msg, Event):
                self._event(msg)
            elif isinstance(msg, Reply | ErrorReply):
                pending = self._pending.get(msg.id)
                if pending is None:
                    if isinstance(msg, ErrorReply) and msg.id:
                        logger.warning("error for no pending call: %s: %s", msg.type, msg.message)
                    continue
                if isinstance(msg, ErrorReply):
                    pending.error = msg.to_exception()
                else:
                    pending.result = msg.result
                pending.answered = True
                pending.done.set()
        if self.last_seq > acked:
            self._sock.send_multipart(
                encode(Request(id=0, method="rpc.ack", params={"seq": self.last_seq})), zmq.NOBLOCK
            )

    def _event(self, event: Event) -> None:
        if event.epoch != self._epoch:  # the server numbers our events afresh
            if self._epoch and self.last_seq:
                logger.warning(
                    "the server at %s restarted or forgot this client: events sent in between "
                    "may be lost",
                    self.address,
                )
            self._epoch, self.last_seq, self._lost_base = event.epoch, 0, self.events_lost
        elif event.seq and event.seq <= self.last_seq:
            return  # a replay of an event already applied
        lost = self._lost_base + event.lost
        if lost > self.events_lost:
            logger.warning(
                "%d events from %s were dropped because this client read too slowly",
                lost - self.events_lost,
                self.address,
            )
            self.events_lost = lost
        self.last_seq = max(self.last_seq, event.seq)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                logger.exception("event handler failed on %r", event.topic)

    def _on_monitor(self) -> None:
        while True:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            kind = event["event"]
            if kind in (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL):
                reason = (
                    f"the server at {self.address} refused this client's keys: use the "
                    "server's current connection file (it changes when the server restarts "
                    "without a keys file)"
                )
                self._auth_refused = True
                self._fail_pending(RpcAuthError(reason))
                self._die(reason)
            elif kind == zmq.EVENT_DISCONNECTED:
                self._receive()  # what arrived before the connection closed
                if self._pidfd is not None and select.select([self._pidfd], [], [], 0.5)[0]:
                    return self._die("the server process exited")  # its exit closed the socket
                # what was in flight on that connection is lost; libzmq reconnects by itself
                for pending in list(self._pending.values()):
                    if not pending.done.is_set():
                        pending.error = RpcUnavailableError(
                            f"the connection to {self.address} broke while {pending.method!r} "
                            "was pending (a message over the server's size limit, or a network "
                            "fault); it may or may not have run: check, then call again"
                        )
                        pending.done.set()
            elif kind == zmq.EVENT_CONNECTED:
                self._connects += 1
                if self._connects > 1:  # reconnected: ask for what we missed
                    self._send(
                        encode(Request(id=0, method="rpc.hello", params=self._hello_params()))
                    )

    # -- death and closing -----------------------------------------------------------------------

    def _fail_pending(self, error: BaseException) -> None:
        for pending in list(self._pending.values()):
            if not pending.done.is_set():
                pending.error = error
                pending.done.set()

    def _die(self, reason: str) -> None:
        if self.dead_reason is not None or self._closing:
            return
        if self._explain_death is not None:
            try:
                reason = self._explain_death(reason)
            except Exception:  # pragma: no cover - keep the bare reason
                logger.exception("explaining the server's death failed")
        self.dead_reason = reason
        self._fail_pending(self._unavailable(reason))
        if self._on_died is not None:
            try:
                self._on_died(reason)
            except Exception:  # pragma: no cover
                logger.exception("on_died handler failed")

    def close(self, goodbye: bool = True) -> None:
        """Say goodbye (the server then forgets this client and its unacked events), stop the
        I/O thread, close the socket (pending calls fail). Idempotent.

        ``goodbye=False`` leaves without telling the server, as a broken link would: events sent
        meanwhile wait for a client with the same id.
        """
        if self._closed:
            return
        if self.alive and goodbye:
            self.notify("rpc.bye")
        self._closing = True
        try:
            os.write(self._wake_w, b"\0")
        except OSError:  # pragma: no cover
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self._closed = True
        self._fail_pending(self._unavailable(f"the connection to {self.address} was closed"))
        self._sock.disable_monitor()
        self._monitor.close(0)
        self._sock.close(0)
        self._ctx.term()
        os.close(self._wake_r)
        os.close(self._wake_w)
        if self._pidfd is not None:
            os.close(self._pidfd)
        if self._bulk is not None:
            self._bulk.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
