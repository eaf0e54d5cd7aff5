"""A server's clients: who is connected, what waits for each, and sends that never block.

Used only on the server's socket thread. Each client (keyed by its socket identity) has an event
backlog (:class:`~labkit.rpc.EventBacklog`) and a queue of replies. Everything goes out with
``NOBLOCK``: a client whose pipe is full is marked blocked and retried on a timer; one the socket
says is gone keeps its events (replayed when it says hello again) and loses its replies.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterator
from typing import Any

import zmq

from labkit.rpc._backlog import EventBacklog
from labkit.rpc._security import RateLimitedLog
from labkit.wire import ErrorReply, Event, encode

__all__ = ["Client", "ClientTable"]

logger = logging.getLogger(__name__)


class Client:
    __slots__ = (
        "backlog", "blocked", "connected", "fd", "ident", "last_seen", "name", "replies",
        "subscribed",
    )  # fmt: skip

    def __init__(self, ident: bytes, backlog: EventBacklog, now: float) -> None:
        self.ident = ident
        self.backlog = backlog
        self.replies: collections.deque[list[Any]] = collections.deque()
        self.blocked = False  # a send hit the high-water mark: retried on the timer
        self.connected = True  # False after the socket said the peer is gone
        self.last_seen = now
        self.name = ""
        self.subscribed = False  # publish() reaches it (hello(subscribe=True))
        self.fd = -1  # the connection its last message came through


class ClientTable:
    """The clients of one ROUTER socket (socket thread only)."""

    def __init__(
        self,
        sock: zmq.Socket,
        kind: str,
        *,
        max_clients: int,
        backlog_bounds: tuple[int, int],
        ttl_s: float,
        clock: Callable[[], float],
        warn: RateLimitedLog,
    ) -> None:
        self._sock, self.kind = sock, kind
        self.max_clients = max_clients
        self._backlog_bounds, self._ttl_s, self._clock, self._warn = (
            backlog_bounds,
            ttl_s,
            clock,
            warn,
        )
        self._clients: dict[bytes, Client] = {}
        self.events_dropped = 0

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[Client]:
        return iter(list(self._clients.values()))

    def find(self, ident: bytes) -> Client | None:
        return self._clients.get(ident)

    def get(self, ident: bytes) -> Client | None:
        """The client ``ident``, made on first sight; None when the table is full."""
        client = self._clients.get(ident)
        if client is not None:
            return client
        if len(self._clients) >= self.max_clients:
            self.gc(self._clock(), idle_s=0.0)
            if len(self._clients) >= self.max_clients:
                return None
        client = Client(ident, EventBacklog(*self._backlog_bounds), self._clock())
        self._clients[ident] = client
        return client

    def note_connection(self, client: Client, fd: int) -> None:
        """``client``'s message came through connection ``fd``. A closed connection's fd number is
        reused by the next one, so a client gone without a goodbye that still names this fd is
        not connected through it any more."""
        if client.fd != fd:
            for other in self._clients.values():
                if other.fd == fd and other is not client:
                    other.fd = -1
            client.fd = fd

    def forget(self, ident: bytes) -> None:
        self._clients.pop(ident, None)

    def gc(self, now: float, idle_s: float | None = None) -> None:
        """Forget clients silent for the TTL (or, when full, disconnected idle ones)."""
        idle = self._ttl_s if idle_s is None else idle_s
        for ident, client in list(self._clients.items()):
            if now - client.last_seen >= idle and (idle_s is None or not client.connected):
                del self._clients[ident]

    @property
    def any_blocked(self) -> bool:
        return any(c.blocked for c in self._clients.values())

    # -- what goes out -----------------------------------------------------------------------------

    def publish(self, topic: str, payload: Any) -> None:
        for client in [c for c in self._clients.values() if c.subscribed]:
            self.event(client, topic, payload, None)

    def event(self, client: Client, topic: str, payload: Any, coalesce: Any) -> None:
        epoch = client.backlog.epoch

        def frames(seq: int, lost: int) -> list[Any]:
            return encode(Event(topic=topic, payload=payload, seq=seq, lost=lost, epoch=epoch))

        try:
            nbytes = sum(memoryview(f).nbytes for f in frames(0, 0))
        except Exception:
            logger.exception("%s server: cannot encode a %r event; dropped", self.kind, topic)
            return
        lost_before = client.backlog.lost
        client.backlog.push(frames, nbytes, coalesce)
        if client.backlog.lost > lost_before:
            self.events_dropped += client.backlog.lost - lost_before
            self._warn(
                "%s server: client %r does not read its events; %d dropped so far",
                self.kind,
                client.name or client.ident[:32],
                client.backlog.lost,
            )
        if not client.blocked and client.connected:
            self.flush(client)

    def reply(self, ident: bytes, msg: Any) -> None:
        try:
            frames = encode(msg)
        except Exception as exc:  # a result the codec cannot encode: tell the caller why
            frames = encode(ErrorReply.from_exception(getattr(msg, "id", 0), exc))
        client = self._clients.get(ident)
        if client is None:
            self._send(ident, frames)
            return
        client.replies.append(frames)
        if not client.blocked:
            self.flush(client)

    def flush(self, client: Client) -> None:
        """Send what is waiting for ``client``: events first, then replies; stop at the HWM."""
        for entry in client.backlog.unsent():
            status = self._send(client.ident, entry.frames)
            if status != "sent":
                return self._blocked(client, status)
            entry.sent = True
        while client.replies:
            status = self._send(client.ident, client.replies[0])
            if status != "sent":
                return self._blocked(client, status)
            client.replies.popleft()
        client.blocked = False

    def retry_blocked(self) -> None:
        for client in list(self._clients.values()):
            if client.blocked:
                self.flush(client)

    def _blocked(self, client: Client, status: str) -> None:
        if status == "gone":
            client.connected = False
            client.blocked = False
            client.replies.clear()  # the caller timed out or will resend after reconnecting
        else:
            client.blocked = True

    def _send(self, ident: bytes, frames: list[Any]) -> str:
        try:
            self._sock.send_multipart([ident, *frames], zmq.NOBLOCK, copy=False)
            return "sent"
        except zmq.Again:
            return "full"
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                return "gone"
            raise
