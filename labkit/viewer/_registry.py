"""Registry of live managers: one JSON file in the user's private runtime dir, locked with fcntl.

Each entry: ``uid, pid, address, connection_file, url, started_s, heartbeat_s, version``.
Managers are addressed by 0-based index in start order. Entries whose process is dead or whose
heartbeat is older than :data:`STALE_AFTER_S` are removed whenever the file is read. The directory
is the runtime directory of :mod:`labkit.rpc` (``$LABKIT_RUNTIME_DIR`` or
``<jupyter runtime dir>/labkit``, mode 0700); it also holds the managers' sockets and connection
files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from labkit.rpc import ConnectionInfo, check_private_dir, read_connection_file, runtime_dir

__all__ = ["ManagerEntry", "Registry", "STALE_AFTER_S", "default_registry_dir"]

logger = logging.getLogger(__name__)

STALE_AFTER_S = 30.0  # heartbeats are written every HEARTBEAT_S
HEARTBEAT_S = 2.0


def default_registry_dir() -> Path:
    """The private runtime dir: ``$LABKIT_RUNTIME_DIR`` or ``jupyter_runtime_dir()/labkit``."""
    return runtime_dir(create=False)


@dataclass
class ManagerEntry:
    """One live manager as seen in the registry."""

    uid: str
    pid: int
    address: str  # ipc://... (this machine) or tcp://host:port (CURVE: needs connection_file)
    connection_file: str = ""
    url: str = ""  # the manager page, with its token
    started_s: float = 0.0
    heartbeat_s: float = 0.0
    version: str = ""

    def connection(self) -> ConnectionInfo | str:
        """What :class:`labkit.rpc.RpcClient` needs to reach this manager."""
        if self.connection_file:
            return read_connection_file(self.connection_file)
        return self.address

    def to_json(self) -> dict:
        return asdict(self)

    def is_alive(self, now: float | None = None) -> bool:
        """Process exists and the heartbeat is recent."""
        now = time.time() if now is None else now
        if now - self.heartbeat_s > STALE_AFTER_S:
            return False
        try:
            proc = psutil.Process(self.pid)
            return proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


class Registry:
    """The registry file ``managers.json`` in ``directory`` (created with mode 0700)."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_registry_dir()
        self.checked = False
        self.path = self.directory / "managers.json"
        self._lock_path = self.directory / "managers.lock"

    def ensure_directory(self) -> None:
        """Create the directory (mode 0700) if needed and check it is private.

        Raises:
            RuntimeDirError: it belongs to another user or others can enter it.
        """
        if not self.checked:
            if not self.directory.exists():
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.chmod(self.directory, 0o700)
            check_private_dir(self.directory)
            self.checked = True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[ManagerEntry]]:
        self.ensure_directory()
        with open(self._lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = self._read_unlocked()
                before = [e.to_json() for e in entries]
                yield entries
                if [e.to_json() for e in entries] != before:
                    self._write_unlocked(entries)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_unlocked(self) -> list[ManagerEntry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            entries = [ManagerEntry(**e) for e in raw.get("managers", [])]
        except FileNotFoundError:
            return []
        except (ValueError, TypeError) as exc:
            logger.warning("ignoring corrupt manager registry %s: %s", self.path, exc)
            return []
        return entries

    def _write_unlocked(self, entries: list[ManagerEntry]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"managers": [e.to_json() for e in entries]}, indent=1), "utf-8")
        os.replace(tmp, self.path)

    def entries(self) -> list[ManagerEntry]:
        """Live managers in start order (stale entries are removed from the file)."""
        now = time.time()
        with self._locked() as entries:
            live = [e for e in entries if e.is_alive(now)]
            if len(live) != len(entries):
                stale = [e.uid for e in entries if e not in live]
                logger.info("removing stale manager entries %s", stale)
                entries[:] = live
            return sorted(live, key=lambda e: (e.started_s, e.uid))

    def add(self, entry: ManagerEntry) -> None:
        with self._locked() as entries:
            entries[:] = [e for e in entries if e.uid != entry.uid]
            entries.append(entry)

    def heartbeat(self, uid: str, **changes) -> None:
        """Refresh ``heartbeat_s`` (and any other fields) of entry ``uid``."""
        with self._locked() as entries:
            for e in entries:
                if e.uid == uid:
                    e.heartbeat_s = time.time()
                    for k, v in changes.items():
                        setattr(e, k, v)

    def remove(self, uid: str) -> None:
        with self._locked() as entries:
            entries[:] = [e for e in entries if e.uid != uid]
