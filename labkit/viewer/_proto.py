"""The manager protocol on top of ``labkit.wire``: framing, optional HMAC, error mapping.

Request socket (ROUTER on the manager, DEALER in clients): a client sends
``[sig?, *encode(Request)]``; the manager replies ``[sig?, *encode(Reply | ErrorReply)]`` only
after the work is done, so manager-side errors reach the caller as exceptions.

Event socket (ROUTER on the manager, DEALER with identity = client id in clients): the client
sends ``Request(method="hello", params={"client_id", "last_seq"})`` and ``Request(method="ack",
params={"seq"})``; the manager sends ``Event(topic, payload, seq)`` and keeps each event until it
is acked, replaying the unacked ones on every hello. Delivery is at-least-once; clients drop
``seq`` they have already applied, so it is effectively exactly-once.

With a key (mandatory off loopback) every message starts with the HMAC-SHA256 frame of
``labkit.wire.sign_frames``; messages with a missing or wrong signature are dropped unanswered.
"""

from __future__ import annotations

import logging
from typing import Any

from labkit.viewer import _errors
from labkit.wire import (
    ErrorReply,
    Event,
    RemoteError,
    Reply,
    Request,
    WireAuthError,
    WireDecodeError,
    WireSecurityError,
    check_bind_address,
    decode,
    encode,
    is_loopback,
    new_key,
    register_error,
    sign_frames,
    verify_frames,
)

__all__ = [
    "ErrorReply",
    "Event",
    "RemoteError",
    "Reply",
    "Request",
    "WireAuthError",
    "WireDecodeError",
    "WireSecurityError",
    "check_bind_ip",
    "error_reply",
    "is_loopback_ip",
    "new_key",
    "pack",
    "raise_remote",
    "unpack",
]

logger = logging.getLogger(__name__)

# manager-side viewer errors are re-raised by class in the client (looked up by name, never imported)
for _cls in (
    _errors.ManagerError,
    _errors.ManagerNotFoundError,
    _errors.ManagerAmbiguousError,
    _errors.ManagerUnavailableError,
    _errors.WindowNotFoundError,
):
    register_error(_cls)
del _cls


def pack(msg: Any, key: str | bytes | None = None) -> list:
    """Encode ``msg`` to frames, signed when ``key`` is set."""
    frames = encode(msg)
    return sign_frames(frames, key) if key else frames


def unpack(frames: list, key: str | bytes | None = None) -> Any:
    """Decode frames from :func:`pack` (arrays are read-only views of the frames).

    Raises:
        WireAuthError: a key is set and the signature is missing or wrong.
        WireDecodeError: garbage, truncated, unknown type or version.
    """
    if key:
        frames = verify_frames(frames, key)
    return decode(frames)


def error_reply(request_id: int, exc: BaseException) -> Any:
    """An ErrorReply carrying the exception type, message and traceback."""
    return ErrorReply.from_exception(request_id, exc)


def raise_remote(reply: Any) -> None:
    """Raise the error an ErrorReply carries (registered classes by type, else RemoteError)."""
    reply.raise_()


def is_loopback_ip(ip: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost (hostnames are not resolved)."""
    return is_loopback(f"tcp://{ip}:0")


def check_bind_ip(ip: str, key: str | bytes | None) -> None:
    """Refuse to bind a non-loopback address without an auth key.

    Raises:
        WireSecurityError: ``ip`` is not loopback and no key was given; pass ``--key`` (or let
            ``labkit manager --ip`` generate one and share the connection file).
    """
    check_bind_address(f"tcp://{ip}:0", key)
