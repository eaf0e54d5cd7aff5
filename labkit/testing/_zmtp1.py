"""An HTTP body that frames as ZeroMQ messages: the attack a web page can make on a loopback port.

libzmq takes a peer whose first byte is not 0xFF as an unversioned ZMTP/1.0 peer when the socket
has no security mechanism (no ZAP domain, no CURVE). A frame there is ``length, flags, body``
(``length`` counts the flags byte; bit 0 of ``flags`` is "more"). A browser POST starts with
``POST / HTTP/1.1`` and headers the page cannot fully control, so the body must land the parser on
a frame boundary wherever the headers left it:

- the headers are ASCII, so every frame that starts there is 10 to 126 bytes long: the one that
  straddles into the body ends within its first 127 bytes;
- the body starts with a sled of ``0x01`` bytes: a frame starting anywhere in it is
  ``len 1, flags 1`` (empty, "more"), so the parser walks it two bytes at a time;
- a short trailer brings both parities to the same boundary with no message in progress;
- then the real frames follow.

Used by the security tests to prove that labkit's sockets refuse such peers while a socket without
a security mechanism takes the same bytes as messages.
"""

from __future__ import annotations

__all__ = ["SLED_BYTES", "frame_messages", "parse_zmtp1", "smuggled_body"]

SLED_BYTES = 512
_TRAILER = b"\x03\x02\x00\x00"  # from either parity: one garbage message, then a boundary


def frame_messages(messages: list[list[bytes]]) -> bytes:
    """ZMTP/1.0 framing of ``messages`` (each a list of frames)."""
    out = bytearray()
    for frames in messages:
        for k, frame in enumerate(frames):
            n = len(frame) + 1
            out += bytes([n]) if n < 255 else b"\xff" + n.to_bytes(8, "big")
            out.append(1 if k < len(frames) - 1 else 0)
            out += frame
    return bytes(out)


def smuggled_body(messages: list[list[bytes]]) -> bytes:
    """The POST body that makes any ZMTP/1.0 reader see ``messages`` after the HTTP headers."""
    return b"\x01" * SLED_BYTES + _TRAILER + frame_messages(messages)


def parse_zmtp1(data: bytes) -> list[list[bytes]]:
    """What a ZMTP/1.0 reader makes of ``data`` from its first byte (as libzmq's v1 decoder):
    the messages, the first one being the peer's identity. Stops at the first protocol error."""
    i, messages, current = 0, [], []
    while i < len(data):
        n = data[i]
        i += 1
        if n == 0xFF:
            n = int.from_bytes(data[i : i + 8], "big")
            i += 8
        if n == 0 or i + n > len(data):
            break
        flags, body = data[i], data[i + 1 : i + n]
        i += n
        current.append(bytes(body))
        if not flags & 1:
            messages.append(current)
            current = []
    return messages
