"""The engine's view of :mod:`labkit.wire`: frames in and out, signed when a key is set."""

from __future__ import annotations

from typing import Any

from labkit.wire import ErrorReply, Event, Reply, Request, WireDecodeError, decode, encode

__all__ = [
    "ErrorReply",
    "Event",
    "Reply",
    "Request",
    "WireDecodeError",
    "decode_frames",
    "encode_frames",
]


def encode_frames(msg: Any, key: str | bytes | None) -> list:
    """Encode ``msg`` into ZeroMQ frames; with ``key`` an HMAC signature frame is added."""
    frames = encode(msg)
    if key is not None:
        from labkit.wire import sign_frames

        frames = sign_frames(frames, key)
    return frames


def decode_frames(frames: list, key: str | bytes | None) -> Any:
    """Decode received frames (zmq.Frame or bytes); with ``key`` the signature is checked first.

    Raises:
        WireDecodeError: garbage, truncated or unknown messages, or (``WireAuthError``) a bad signature.
    """
    if key is not None:
        from labkit.wire import verify_frames

        frames = verify_frames(frames, key)
    return decode(frames)
