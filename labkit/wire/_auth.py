"""Message authentication (HMAC-SHA256 over all frames) and the loopback-only bind policy.

Like Jupyter's wire protocol, a signed message carries its signature as the first frame: the hex
HMAC-SHA256 of the frame count and every frame prefixed with its length (so frames cannot be split
or merged without breaking the signature). Keys are shared secrets, e.g. in a connection file
written with mode 0600. There is no replay protection: use ipc or loopback for untrusted hosts.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from typing import Any

from labkit.wire._errors import WireAuthError, WireSecurityError

_SIGNATURE_LEN = 64  # hex sha256


def new_key() -> str:
    """A new random key (64 hex characters, 256 bits) for :func:`sign_frames` / ``send(key=...)``."""
    return secrets.token_hex(32)


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes) or not key:
        raise ValueError(
            "key must be a non-empty str or bytes; make one with labkit.wire.new_key()"
        )
    return key


def _signature(frames: list[Any], key: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(len(frames).to_bytes(8, "little"))
    for frame in frames:
        data = memoryview(getattr(frame, "buffer", frame))
        mac.update(data.nbytes.to_bytes(8, "little"))
        mac.update(data)
    return mac.hexdigest().encode("ascii")


def sign_frames(frames: list[Any], key: str | bytes) -> list[Any]:
    """``[signature, *frames]``: prepend the HMAC-SHA256 signature of ``frames`` under ``key``.

    Raises:
        ValueError: ``key`` is empty.
    """
    return [_signature(frames, _key_bytes(key)), *frames]


def verify_frames(frames: list[Any], key: str | bytes) -> list[Any]:
    """Check and strip the signature frame added by :func:`sign_frames`; returns the other frames.

    Raises:
        WireAuthError: the signature frame is missing or does not match (wrong key, tampered or
            unsigned message). Compared in constant time.
    """
    key_b = _key_bytes(key)
    if len(frames) < 2:
        raise WireAuthError("message is not signed (expected a signature frame and a header)")
    try:
        received = bytes(memoryview(getattr(frames[0], "buffer", frames[0])))
    except TypeError:
        raise WireAuthError("signature frame is not bytes") from None
    rest = list(frames[1:])
    expected = _signature(rest, key_b)
    if len(received) != _SIGNATURE_LEN or not hmac.compare_digest(received, expected):
        raise WireAuthError(
            "message signature does not match: the sender uses a different key or none; "
            "pass the same key= on both ends (see the connection file)"
        )
    return rest


def _endpoint_host(rest: str) -> str:
    """Host part of ``host:port`` / ``[v6]:port`` / ``v6:port`` (libzmq: the port follows the last ':')."""
    if rest.startswith("["):
        return rest[1 : rest.find("]")] if "]" in rest else rest[1:]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


def is_loopback(address: str) -> bool:
    """True if a ZeroMQ endpoint is reachable from this machine only.

    ``ipc://`` and ``inproc://`` are local; ``tcp://`` is loopback for ``127.0.0.0/8``, ``::1``,
    ``localhost`` and the ``lo`` interface. Wildcards (``*``, ``0.0.0.0``) and other names are not
    (hostnames are not resolved). Without a scheme, ``tcp://`` is assumed.
    """
    address = address.strip()
    scheme, rest = address.split("://", 1) if "://" in address else ("tcp", address)
    if scheme.lower() in ("ipc", "inproc"):
        return True
    rest = rest.split("/", 1)[0].rsplit(";", 1)[-1]  # "src;dst" connect syntax
    host = _endpoint_host(rest).lower()
    if host in ("localhost", "lo", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind_address(address: str, key: str | bytes | None) -> None:
    """Refuse to expose ``address`` beyond this machine without an authentication key.

    Raises:
        WireSecurityError: ``address`` is not loopback (see :func:`is_loopback`) and ``key`` is
            empty; the message says how to fix it.
    """
    if is_loopback(address) or key:
        return
    raise WireSecurityError(
        f"refusing to bind {address!r} without a key: it is reachable from other machines and "
        "messages could be injected. Bind 'tcp://127.0.0.1:<port>' or 'ipc://...', or pass "
        "key=labkit.wire.new_key() and give the same key to clients (e.g. in a connection file)"
    )
