"""``connect()``: a :class:`Scope` on an engine served by ``labkit engine`` (this machine or
another), found by its connection file, its address, or as the one engine running here."""

from __future__ import annotations

import os
from pathlib import Path

from labkit.engine._scope import Scope
from labkit.rpc import ConnectionInfo, read_connection_file, runtime_dir

__all__ = ["connect"]


def connect(
    target: str | os.PathLike | ConnectionInfo | None = None,
    key: str | os.PathLike | ConnectionInfo | None = None,
    timeout_s: float = 10.0,
    *,
    streams: str = "auto",
    codec: str = "lz4",
    credit: int = 4,
) -> Scope:
    """Connect to an engine served by ``labkit engine`` (this side does not own it).

    ``target`` is the engine's connection file (printed by ``labkit engine``; copy it from the rig
    for a remote engine), its ``ipc://`` address, or its ``tcp://host:port`` address with ``key=``
    the connection file. With no target, the one engine running on this machine for this user is
    used. The returned Scope works like a local one; ``close()`` only disconnects.

    For a TCP engine, frames and traces come over the network (docs/remote.md): ``streams``
    ``"auto"`` reads shared memory when the engine runs on this machine and the network
    otherwise, ``"network"`` always the network, ``"shared"`` never. ``codec`` (``"lz4"``,
    ``"zstd"`` or ``"none"``) compresses each frame; ``credit`` is the number of frames in
    flight per view.

    Raises:
        EngineDiedError: nothing answered within ``timeout_s`` (not running there).
        RpcAuthError: the engine refused the keys (an old connection file).
        ConnectionFileError: the connection file is missing, readable by others or malformed.
        ValueError: a TCP address without its connection file, or no / several local engines;
            an unknown ``streams`` or ``codec``.
    """
    from labkit.engine._remote_client import check_stream_options

    options = check_stream_options(streams=streams, codec=codec, credit=credit)
    if target is None:
        target = _only_local_engine()
    return Scope(_connection=target, _key=key, _timeout_s=timeout_s, _stream_options=options)


def _only_local_engine() -> Path:
    from labkit.buffers._shm import pid_alive

    found = []
    for path in sorted(runtime_dir().glob("engine-*.json")):
        try:
            info = read_connection_file(path)
        except (OSError, ValueError):
            continue
        if info.pid and pid_alive(info.pid):
            found.append(path)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(
            f"no engine is running for you on this machine (no live connection file in "
            f"{runtime_dir()}); start one with 'labkit engine', or pass its connection file"
        )
    raise ValueError(
        f"{len(found)} engines are running: pass the connection file of the one you want: "
        + ", ".join(str(p) for p in found)
    )
