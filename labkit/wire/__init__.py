"""The safe wire: typed messages and a zero-copy array/xarray codec. Never pickle.

::

    from labkit.wire import encode, decode, Request

    frames = encode(Request(id=1, method="snap", params={"exposure_ms": 10}))
    sock.send_multipart(frames, copy=False)          # arrays travel as their own frames
    request = decode(sock.recv_multipart(copy=False))

Transport, authentication and delivery are :mod:`labkit.rpc`'s job. See ``docs/internals.md``
(section wire) for the frame format and the contracts.
"""

from labkit.wire._codec import MAX_FRAME_BYTES, encode
from labkit.wire._decode import decode
from labkit.wire._errors import (
    RemoteError,
    WireDecodeError,
    WireEncodeError,
    WireError,
    register_error,
)
from labkit.wire._messages import ErrorReply, Event, Message, Reply, Request, register_message
from labkit.wire._xarray import MAX_ATTR_ARRAY_SIZE

__all__ = [
    # codec
    "encode",
    "decode",
    "MAX_FRAME_BYTES",
    "MAX_ATTR_ARRAY_SIZE",
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
    "RemoteError",
    "register_error",
]
