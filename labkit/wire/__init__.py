"""The safe wire: typed messages, a zero-copy array/xarray codec, HMAC auth. Never pickle.

::

    from labkit.wire import send, recv, Request, Reply

    send(sock, Request(id=1, method="snap", params={"exposure_ms": 10}))
    reply = recv(sock)            # Reply / ErrorReply; ErrorReply.raise_() re-raises locally

See ``docs/internals.md`` (section wire) for the frame format and the contracts.
"""

from labkit.wire._auth import check_bind_address, is_loopback, new_key, sign_frames, verify_frames
from labkit.wire._codec import MAX_FRAME_BYTES, encode
from labkit.wire._decode import decode
from labkit.wire._errors import (
    RemoteError,
    WireAuthError,
    WireDecodeError,
    WireEncodeError,
    WireError,
    WireSecurityError,
    register_error,
)
from labkit.wire._messages import ErrorReply, Event, Message, Reply, Request, register_message
from labkit.wire._socket import recv, recv_frames, send
from labkit.wire._xarray import MAX_ATTR_ARRAY_SIZE

__all__ = [
    # codec
    "encode",
    "decode",
    "MAX_FRAME_BYTES",
    "MAX_ATTR_ARRAY_SIZE",
    # sockets
    "send",
    "recv",
    "recv_frames",
    # messages
    "Message",
    "Request",
    "Reply",
    "ErrorReply",
    "Event",
    "register_message",
    # errors
    "WireError",
    "WireDecodeError",
    "WireEncodeError",
    "WireAuthError",
    "WireSecurityError",
    "RemoteError",
    "register_error",
    # auth and address policy
    "sign_frames",
    "verify_frames",
    "new_key",
    "is_loopback",
    "check_bind_address",
]
