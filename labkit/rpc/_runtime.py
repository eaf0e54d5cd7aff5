"""The runtime directory (0700) and connection files (0600): where servers put what clients need.

Every labkit server (engine, viewer manager) keeps its ``ipc://`` socket and its connection file in
the user's runtime directory: ``$LABKIT_RUNTIME_DIR`` if set, else ``<jupyter runtime dir>/labkit``.
The directory must belong to this user and be closed to everyone else (mode 0700); file permissions
are the gate for same-host sockets, so a directory others can enter is refused, not silently used.

A connection file is JSON, mode 0600, written atomically::

    {"labkit_connection": 1, "kind": "engine", "address": "tcp://10.0.0.5:45600",
     "server_key": "<z85 CURVE public key>", "client_public": "<z85>", "client_secret": "<z85>",
     "pid": 1234, "created_s": 1.7e9}

``client_*`` is the key pair the server accepts; whoever can read the file can connect (as with a
Jupyter kernel's connection file). An ``ipc://`` server's file has no keys.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from labkit.rpc._errors import ConnectionFileError, RuntimeDirError

__all__ = [
    "RUNTIME_ENV",
    "ConnectionInfo",
    "ServerKeys",
    "check_private_dir",
    "load_or_create_token",
    "ipc_path",
    "read_connection_file",
    "runtime_dir",
    "write_connection_file",
]

RUNTIME_ENV = "LABKIT_RUNTIME_DIR"
_IPC_PATH_MAX = 100  # sun_path holds 108 bytes; leave room for the terminating NUL and "ipc://"
_Z85_KEY_LEN = 40


class ConnectionInfo(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What a client needs to reach a server: the address and, for TCP, the CURVE keys."""

    labkit_connection: int = 1
    kind: str
    address: str
    server_key: str = ""
    client_public: str = ""
    client_secret: str = ""
    pid: int = 0
    created_s: float = 0.0
    url: str = ""

    @property
    def is_tcp(self) -> bool:
        return self.address.startswith("tcp://")


class ServerKeys(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A TCP server's identity: its CURVE secret and the client key pair it admits.

    Kept in memory, or in a 0600 keys file so clients' connection files stay valid across restarts.
    Never give this file to clients: it holds the server's secret.
    """

    labkit_server_keys: int = 1
    server_secret: str
    client_public: str
    client_secret: str

    @classmethod
    def generate(cls) -> ServerKeys:
        import zmq

        _, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        return cls(
            server_secret=server_secret.decode("ascii"),
            client_public=client_public.decode("ascii"),
            client_secret=client_secret.decode("ascii"),
        )

    @property
    def server_public(self) -> str:
        import zmq

        return zmq.curve_public(self.server_secret.encode("ascii")).decode("ascii")

    @classmethod
    def load_or_create(cls, path: str | os.PathLike) -> ServerKeys:
        """Read the keys file at ``path``, or make new keys and write it (mode 0600).

        Raises:
            ConnectionFileError: the file is readable by others, empty or malformed.
        """
        path = Path(path)
        if not path.exists():
            keys = cls.generate()
            _write_private(path, msgspec.json.encode(keys))
            return keys
        raw = _read_private(path, what="server keys file")
        try:
            keys = msgspec.json.decode(raw, type=cls)
        except msgspec.DecodeError as exc:
            raise ConnectionFileError(f"{path} is not a labkit server keys file: {exc}") from None
        for field in ("server_secret", "client_public", "client_secret"):
            _check_key(getattr(keys, field), field, path)
        return keys


def load_or_create_token(path: str | os.PathLike) -> str:
    """A page token kept in ``path`` (mode 0600): read it, or make a new one and write it.

    Raises:
        ConnectionFileError: the file is readable by others or empty.
    """
    path = Path(path)
    if not path.exists():
        import secrets

        token = secrets.token_urlsafe(32)
        _write_private(path, token.encode())
        return token
    return _read_private(path, what="token file").decode().strip()


def runtime_dir(create: bool = True) -> Path:
    """The private runtime directory (``$LABKIT_RUNTIME_DIR`` or ``<jupyter runtime>/labkit``).

    Created with mode 0700 when missing (``create=True``).

    Raises:
        RuntimeDirError: the directory belongs to another user or others can enter it; the message
            says which ``chmod`` fixes it.
    """
    env = os.environ.get(RUNTIME_ENV)
    if env:
        path = Path(env)
    else:
        from jupyter_core.paths import jupyter_runtime_dir

        path = Path(jupyter_runtime_dir()) / "labkit"
    if create and not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    if path.exists():
        check_private_dir(path)
    return path


def check_private_dir(path: Path) -> None:
    """Refuse a directory that is not ours or that group/others can read, write or enter.

    Raises:
        RuntimeDirError: with the ``chmod`` (or the other directory to use) that fixes it.
    """
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeDirError(f"{path} is not a directory; set ${RUNTIME_ENV} to a directory")
    if st.st_uid != os.getuid():
        raise RuntimeDirError(
            f"runtime directory {path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}); "
            f"set ${RUNTIME_ENV} to a directory of your own"
        )
    if st.st_mode & 0o077:
        raise RuntimeDirError(
            f"runtime directory {path} has mode {stat.S_IMODE(st.st_mode):04o}: other users could "
            f"reach labkit's sockets and keys there. Run 'chmod 700 {path}' (labkit refuses to use it "
            "until then)"
        )


def ipc_path(directory: Path, name: str) -> tuple[str, Path | None]:
    """``(ipc address, private dir made for it or None)`` for a socket called ``name``.

    A path too long for a unix socket falls back to a fresh 0700 directory under the system temp
    dir; the caller owns that directory and removes it when the socket closes.
    """
    path = directory / f"{name}.sock"
    if len(str(path)) <= _IPC_PATH_MAX:
        return f"ipc://{path}", None
    private = Path(tempfile.mkdtemp(prefix="labkit-"))  # mkdtemp makes it 0700
    return f"ipc://{private / name[:40]}.sock", private


def write_connection_file(path: str | os.PathLike, info: ConnectionInfo) -> Path:
    """Write ``info`` to ``path`` with mode 0600 (atomically: a reader never sees half a file)."""
    return _write_private(Path(path), msgspec.json.encode(info))


def _write_private(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def read_connection_file(path: str | os.PathLike) -> ConnectionInfo:
    """Read and check a connection file.

    Raises:
        ConnectionFileError: missing, readable by others, empty, not a labkit connection file, or
            with malformed keys; the message says how to fix it.
    """
    path = Path(path)
    raw = _read_private(path, what="connection file")
    try:
        info = msgspec.json.decode(raw, type=ConnectionInfo)
    except msgspec.DecodeError as exc:
        raise ConnectionFileError(f"{path} is not a labkit connection file: {exc}") from None
    _check_keys(info, path)
    return info


def _read_private(path: Path, what: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ConnectionFileError(
            f"{what} {path} does not exist; the server prints the path of its connection file "
            "when it starts ('labkit engine' / 'labkit manager')"
        ) from None
    except OSError as exc:
        raise ConnectionFileError(f"cannot open {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_mode & 0o077:
            raise ConnectionFileError(
                f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o}: it holds keys that let "
                f"anyone drive the server. Run 'chmod 600 {path}' and use it again"
            )
        raw = fh.read(1 << 16)
    if not raw.strip():
        raise ConnectionFileError(
            f"{what} {path} is empty; copy it again from the machine running the server"
        )
    return raw


def _check_keys(info: ConnectionInfo, path: Any) -> None:
    if info.is_tcp:
        for field in ("server_key", "client_public", "client_secret"):
            _check_key(getattr(info, field), field, path)


def _check_key(value: str, field: str, path: Any) -> None:
    if len(value) != _Z85_KEY_LEN:
        raise ConnectionFileError(
            f"{path}: {field} must be a {_Z85_KEY_LEN}-character CURVE key (z85), got "
            f"{len(value)} characters; copy the file again from the server"
        )


def new_connection_info(
    kind: str, address: str, server_key: str = "", client_public: str = "", client_secret: str = ""
) -> ConnectionInfo:
    """A ConnectionInfo stamped with this process's pid and the current time."""
    return ConnectionInfo(
        kind=kind,
        address=address,
        server_key=server_key,
        client_public=client_public,
        client_secret=client_secret,
        pid=os.getpid(),
        created_s=time.time(),
    )
