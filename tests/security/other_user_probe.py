"""Run as another user (``setpriv --reuid=65534 ...``, Debian's /usr/bin/python3, stdlib only):
try every way into a labkit session and print what happened, one JSON object.

argv[1] is a JSON spec: ``{"unix": [paths], "files": [paths], "tcp_zmq": [[host, port]],
"http": [urls]}``. Results map each target to "ok" (it let us in) or the refusal seen.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request

_GREETING_NULL = (
    b"\xff" + b"\x00" * 8 + b"\x7f"  # signature
    + b"\x03\x00"  # version 3.0
    + b"NULL".ljust(20, b"\x00")  # mechanism
    + b"\x00"  # as-server
    + b"\x00" * 31  # filler
)  # fmt: skip


def _unix(path: str) -> str:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        return "ok"
    except OSError as exc:
        return type(exc).__name__
    finally:
        sock.close()


def _file(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return "ok"
    except OSError as exc:
        return type(exc).__name__


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _tcp_zmq(host: str, port: int) -> str:
    """A ZMTP 3.0 peer with the NULL mechanism (no keys): does the server take a READY from us?"""
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as exc:
        return type(exc).__name__
    try:
        sock.sendall(_GREETING_NULL)
        greeting = _recv_exact(sock, 64)
        if len(greeting) < 64:
            return "closed during the greeting"
        mechanism = greeting[12:32].rstrip(b"\x00").decode()
        ready = b"\x05READY" + b"\x0bSocket-Type\x00\x00\x00\x06DEALER"
        sock.sendall(b"\x04" + bytes([len(ready)]) + ready)
        reply = sock.recv(256)
        if not reply:
            return f"closed (server mechanism {mechanism})"
        return "ok" if b"READY" in reply else f"refused (server mechanism {mechanism})"
    except OSError as exc:
        return type(exc).__name__
    finally:
        sock.close()


def _http(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return "ok" if response.status == 200 else str(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return str(exc.code)
    except OSError as exc:
        return type(exc).__name__


def main() -> None:
    spec = json.loads(sys.argv[1])
    out = {"uid": os.getuid()}
    out.update({f"unix:{p}": _unix(p) for p in spec.get("unix", [])})
    out.update({f"file:{p}": _file(p) for p in spec.get("files", [])})
    out.update({f"tcp:{h}:{p}": _tcp_zmq(h, p) for h, p in spec.get("tcp_zmq", [])})
    out.update({f"http:{u}": _http(u) for u in spec.get("http", [])})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
