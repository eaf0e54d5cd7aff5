"""Who may connect: CURVE keys, the ZAP handler, connection tracking and rate-limited refusals.

Every server socket gets a ZAP domain, so libzmq consults :class:`ZapHandler` for every connection
(also on ``ipc://`` with the NULL mechanism) and refuses unversioned ZMTP/1.0 peers outright: a web
page POSTing to a TCP port can never frame a message. TCP sockets use CURVE; the handler admits only
the client keys of the server's connection file, and no more than ``max_connections`` at once.
:class:`ConnectionTracker` reads the socket's monitor to count live connections and to notice peers
that left before they ever sent an authenticated message; refusals are logged at WARNING, at most
``burst`` per ``period_s`` (:class:`RateLimitedLog`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import zmq
import zmq.utils.z85
from zmq.utils.monitor import parse_monitor_message

from labkit.rpc._runtime import ConnectionInfo

__all__ = [
    "ZAP_DOMAIN",
    "ConnectionTracker",
    "RateLimitedLog",
    "ZapHandler",
    "configure_client",
    "configure_server",
]

logger = logging.getLogger(__name__)

ZAP_DOMAIN = b"labkit"
_ZAP_ENDPOINT = "inproc://zeromq.zap.01"
_MONITORED = (
    zmq.EVENT_ACCEPTED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


def configure_server(
    sock: zmq.Socket, *, curve_secret: str = "", max_message_bytes: int, hwm: int = 64
) -> None:
    """Socket options of every labkit server socket (call before bind)."""
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a full peer raises Again (NOBLOCK), never drops
    sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting client takes its identity back
    sock.setsockopt(zmq.MAXMSGSIZE, int(max_message_bytes))  # a bigger frame disconnects the peer
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.HANDSHAKE_IVL, 5000)  # a connection that does not authenticate is cut
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
    if curve_secret:
        secret = curve_secret.encode("ascii")
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, zmq.curve_public(secret))


def configure_client(sock: zmq.Socket, info: ConnectionInfo | None) -> None:
    """Client keys for a TCP server (from its connection file); nothing for ``ipc://``."""
    sock.setsockopt(zmq.LINGER, 0)
    if info is not None and info.is_tcp:
        sock.setsockopt(zmq.CURVE_SERVERKEY, info.server_key.encode("ascii"))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, info.client_public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_SECRETKEY, info.client_secret.encode("ascii"))


class RateLimitedLog:
    """Log at most ``burst`` records per ``period_s``; the rest are counted and summarised.

    ``clock`` is injectable so the limit is tested without sleeping.
    """

    def __init__(
        self,
        log: logging.Logger,
        level: int = logging.WARNING,
        period_s: float = 60.0,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.level, self.period_s, self.burst, self.clock = (
            log,
            level,
            period_s,
            burst,
            clock,
        )
        self._window_start = clock()
        self._count = 0
        self.suppressed = 0

    def __call__(self, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless over the limit; returns True if it was logged."""
        now = self.clock()
        if now - self._window_start >= self.period_s:
            if self.suppressed:
                self.log.log(
                    self.level,
                    "%d more such messages were suppressed in the last %.0f s",
                    self.suppressed,
                    now - self._window_start,
                )
            self._window_start, self._count, self.suppressed = now, 0, 0
        if self._count < self.burst:
            self._count += 1
            self.log.log(self.level, msg, *args)
            return True
        self.suppressed += 1
        return False


class ConnectionTracker:
    """Live connections of a server socket, from its monitor; counts peers that were refused.

    A connection counts as authenticated once a message arrived from it (:meth:`note_message` with
    the frame's source fd); one that closes before that was refused (bad key, not ZMTP 3, too many
    connections, or a peer that gave up).
    """

    def __init__(self, sock: zmq.Socket, on_refused: Callable[[str], None]) -> None:
        self.monitor = sock.get_monitor_socket(_MONITORED)
        self._on_refused = on_refused
        self._live: set[int] = set()
        self._authenticated: set[int] = set()
        self._reason = ""
        self.refused = 0
        self.accepted = 0

    @property
    def live(self) -> int:
        return len(self._live)

    def is_live(self, fd: int) -> bool:
        return fd in self._live

    def note_refusal(self, reason: str) -> None:
        """Why the next connection to close was refused (the ZAP handler's verdict)."""
        self._reason = reason

    def note_message(self, fd: int) -> None:
        if fd in self._live:
            self._authenticated.add(fd)

    def handle(self) -> None:
        """Process every monitor event waiting (non-blocking)."""
        while True:
            try:
                parts = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            event = parse_monitor_message(parts)
            kind, value = event["event"], int(event["value"])
            if kind == zmq.EVENT_ACCEPTED:
                self.accepted += 1
                self._live.add(value)
                self._authenticated.discard(value)
            elif kind == zmq.EVENT_DISCONNECTED:
                self._live.discard(value)
                if value in self._authenticated:
                    self._authenticated.discard(value)
                else:
                    self.refused += 1
                    reason = self._reason or "closed before authenticating (not a labkit client?)"
                    self._reason = ""
                    self._on_refused(f"{event['endpoint'].decode(errors='replace')}: {reason}")
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._reason = self._reason or f"authentication refused (ZAP status {value})"
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                self._reason = f"protocol error during the handshake (code {value:#x})"
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                self._reason = f"handshake failed (errno {value})"

    def close(self, sock: zmq.Socket) -> None:
        try:
            sock.disable_monitor()
        except zmq.ZMQError:  # pragma: no cover - socket already closed
            pass
        self.monitor.close(0)


class ZapHandler:
    """The ZAP (RFC 27) handler of one server context, answered on the server's socket thread.

    Admits CURVE clients whose public key is in ``authorized`` (z85), NULL-mechanism clients when
    the server has no CURVE key (``ipc://``: file permissions already decided), and refuses
    everything once ``live_connections()`` exceeds ``max_connections``.
    """

    def __init__(
        self,
        ctx: zmq.Context,
        *,
        curve: bool,
        authorized: set[str],
        max_connections: int,
        tracker: ConnectionTracker,
    ) -> None:
        self.socket = ctx.socket(zmq.REP)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(_ZAP_ENDPOINT)
        self.curve = curve
        self.authorized = {zmq.utils.z85.decode(k.encode("ascii")) for k in authorized}
        self.max_connections = max_connections
        self._tracker = tracker

    def decide(self, mechanism: bytes, credentials: list[bytes]) -> tuple[bytes, str]:
        """``(status code, text)`` for one connection attempt."""
        if self._tracker.live > self.max_connections:
            return b"300", f"too many connections (limit {self.max_connections})"
        if self.curve:
            if mechanism != b"CURVE":
                return (
                    b"400",
                    f"mechanism {mechanism.decode(errors='replace')} refused; CURVE needed",
                )
            if not credentials or credentials[0] not in self.authorized:
                return b"400", "unknown client key (use the server's connection file)"
            return b"200", "OK"
        if mechanism != b"NULL":
            return b"400", f"mechanism {mechanism.decode(errors='replace')} not expected"
        return b"200", "OK"

    def handle(self) -> None:
        """Answer every ZAP request waiting (non-blocking)."""
        # libzmq reports a connection on the monitor before its handshake asks us: read those
        # first so the connection being decided is counted
        self._tracker.handle()
        while True:
            try:
                request = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(request) < 6:  # pragma: no cover - libzmq always sends a full request
                continue
            version, request_id, _domain, address, _identity, mechanism = request[:6]
            status, text = self.decide(mechanism, request[6:])
            if status != b"200":
                self._tracker.note_refusal(f"{address.decode(errors='replace')}: {text}")
            self.socket.send_multipart([version, request_id, status, text.encode(), b"", b""])

    def close(self) -> None:
        self.socket.close(0)
