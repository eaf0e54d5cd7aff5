"""pyzmq helpers: send and receive encoded (optionally signed) multipart messages.

Receiving is split in two so a server can answer garbage with an error instead of dying::

    frames = recv_frames(sock, key=key)        # WireAuthError if the signature is bad
    try:
        request = decode(frames)
    except WireDecodeError as exc:
        send(sock, ErrorReply.from_exception(0, exc), key=key)
"""

from __future__ import annotations

from typing import Any

from labkit.wire._auth import sign_frames, verify_frames
from labkit.wire._codec import encode
from labkit.wire._decode import decode


def send(
    socket: Any,
    obj: Any,
    copy: bool = False,
    key: str | bytes | None = None,
    *,
    flags: int = 0,
    track: bool = False,
) -> Any:
    """Encode ``obj`` and send it as one multipart message on a pyzmq socket.

    With ``copy=False`` (default) arrays over pyzmq's copy threshold (64 KiB) are handed to ZeroMQ
    without copying: do not modify them until ZeroMQ is done with them. Pass ``track=True`` to get
    a ``zmq.MessageTracker`` (``tracker.wait(timeout)`` / ``tracker.done``) that says when that is
    (otherwise the return value of ``send_multipart`` carries no guarantee). With ``key`` the frames are signed (HMAC-SHA256, signature frame first).

    Raises:
        WireEncodeError: ``obj`` cannot be encoded (see :func:`encode`).
        zmq.ZMQError: the socket refused the message (e.g. ``zmq.Again`` with ``zmq.NOBLOCK``).
    """
    frames = encode(obj)
    if key:
        frames = sign_frames(frames, key)
    return socket.send_multipart(frames, flags=flags, copy=copy, track=track)


def recv_frames(socket: Any, key: str | bytes | None = None, *, flags: int = 0) -> list[Any]:
    """Receive one multipart message (zero-copy ``zmq.Frame`` objects) and check its signature.

    Raises:
        WireAuthError: ``key`` was given and the signature is missing or wrong.
        zmq.ZMQError: from the socket (e.g. ``zmq.Again`` with ``zmq.NOBLOCK``, or a timeout).
    """
    frames = socket.recv_multipart(flags=flags, copy=False)
    if key:
        frames = verify_frames(frames, key)
    return frames


def recv(
    socket: Any, key: str | bytes | None = None, *, flags: int = 0, copy_arrays: bool = False
) -> Any:
    """Receive and decode one message; arrays are read-only views of the received frames.

    Raises:
        WireAuthError: bad or missing signature when ``key`` is given.
        WireDecodeError: the message is not a valid labkit message.
    """
    return decode(recv_frames(socket, key, flags=flags), copy_arrays=copy_arrays)
