"""The manager protocol on top of ``labkit.wire``: framing, optional HMAC, error mapping.

Request socket (ROUTER on the manager, DEALER in clients): a client sends
``[sig?, *encode(Request)]``; the manager replies ``[sig?, *encode(Reply | ErrorReply)]`` only
after the work is done, so manager-side errors reach the caller as exceptions.

Event socket (ROUTER on the manager, DEALER with identity = client id in clients): the client
sends ``Request(method="hello", params={"client_id", "last_seq"})`` and ``Request(method="ack",
params={"seq"})``; the manager sends ``Event(topic, payload, seq)`` and keeps each event until it
is acked, replaying the unacked ones on every hello. Delivery is at-least-once; clients drop
``seq`` they have already applied, so it is effectively exactly-once.

With a key (mandatory off loopback) every message starts with an HMAC-SHA256 frame over all the
following frames; messages with a missing or wrong signature are dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
from typing import Any

try:  # labkit.wire is written concurrently; the stand-in has the same names
    from labkit.wire import (  # type: ignore[attr-defined]
        ErrorReply,
        Event,
        RemoteError,
        Reply,
        Request,
        WireDecodeError,
        decode,
        encode,
        new_key,
    )
except ImportError:  # pragma: no cover - until labkit.wire lands
    from labkit.viewer._wirecompat import (
        ErrorReply,
        Event,
        RemoteError,
        Reply,
        Request,
        WireDecodeError,
        decode,
        encode,
        new_key,
    )

from labkit.viewer import _errors

__all__ = [
    "ErrorReply",
    "Event",
    "RemoteError",
    "Reply",
    "Request",
    "WireDecodeError",
    "check_bind_ip",
    "error_reply",
    "new_key",
    "pack",
    "raise_remote",
    "unpack",
]

logger = logging.getLogger(__name__)


def _signature(frames: list, key: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for f in frames:
        mac.update(memoryview(f.buffer if hasattr(f, "buffer") else f))
    return mac.digest()


def pack(msg: Any, key: bytes | None = None) -> list:
    """Encode ``msg`` to frames, prefixed with its HMAC when ``key`` is set."""
    frames = list(encode(msg))
    if key:
        frames.insert(0, _signature(frames, key))
    return frames


def unpack(frames: list, key: bytes | None = None) -> Any:
    """Decode frames from :func:`pack`.

    Raises:
        WireDecodeError: garbage, truncated, unknown type, or (with a key) a bad signature.
    """
    if key:
        if len(frames) < 2:
            raise WireDecodeError("signed message is missing its frames")
        sig = frames[0].bytes if hasattr(frames[0], "bytes") else bytes(frames[0])
        if not hmac.compare_digest(sig, _signature(frames[1:], key)):
            raise WireDecodeError("bad HMAC signature: the client uses a different key")
        frames = frames[1:]
    return decode(frames)


def error_reply(request_id: int, exc: BaseException) -> Any:
    """An ErrorReply carrying the exception type, message and traceback."""
    import traceback

    return ErrorReply(
        id=request_id,
        type=type(exc).__name__,
        message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
    )


# remote exception type name -> local exception class raised by the client
_LOCAL_ERRORS: dict[str, type[Exception]] = {
    "WindowNotFoundError": _errors.WindowNotFoundError,
    "TypeError": TypeError,
    "ValueError": ValueError,
    "KeyError": KeyError,
    "FileNotFoundError": FileNotFoundError,
}


def raise_remote(reply: Any) -> None:
    """Raise the error an ErrorReply carries: known types locally, others as RemoteError."""
    local = _LOCAL_ERRORS.get(reply.type)
    if local is not None:
        exc = local(f"{reply.message} (raised in the viewer manager)")
        exc.remote_traceback = reply.traceback  # type: ignore[attr-defined]
        raise exc
    try:
        reply.raise_()
    except AttributeError:
        pass
    raise RemoteError(f"{reply.type}: {reply.message}")  # pragma: no cover - fallback


def is_loopback(ip: str) -> bool:
    if ip in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(ip)).is_loopback
        except OSError:
            return False


def check_bind_ip(ip: str, key: bytes | None) -> None:
    """Refuse to bind a non-loopback address without an auth key.

    Raises:
        ValueError: ``ip`` is not loopback and no key was given; pass ``--key`` (or let
            ``labkit manager --ip`` generate one and share the connection file).
    """
    if not is_loopback(ip) and not key:
        raise ValueError(
            f"binding the manager to {ip!r} exposes it beyond this machine; give an auth key "
            "(labkit manager --ip ... generates one and prints the connection file to share)"
        )
