"""Find threads, child processes, sockets and shared-memory segments a piece of code left behind.

Used by labkit's own test suite (an autouse fixture) and usable in yours::

    with LeakCheck() as check:
        run_my_acquisition()
    # raises ResourceLeakError naming what is still alive after a grace period
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field

import psutil

from labkit.errors import LabkitError

SHM_DIR = "/dev/shm"
SHM_PREFIX = "labkit"

# threads that libraries start once per process and keep on purpose
_IGNORED_THREAD_PREFIXES = ("asyncio_", "IPythonHistorySavingThread", "pydevd.", "Dummy-")
# jupyter_core's run_sync keeps one "<thread> - runner" loop thread per process when a loop is
# already running in the caller (as Playwright's sync API leaves one on the main thread)
_IGNORED_THREAD_SUFFIXES = (" - runner",)
_IGNORED_THREAD_CLASSES = ("GarbageCollectorThread",)  # pyzmq's process-wide zero-copy helper
_SHM_PID = re.compile(rf"^{SHM_PREFIX}[-_](\d+)[-_]")


class ResourceLeakError(LabkitError, AssertionError):
    """Raised when resources created inside a check are still alive after the grace period."""


def _helper_pids() -> set[int]:
    """Processes multiprocessing keeps for the whole interpreter (resource tracker, forkserver)."""
    pids: set[int] = set()
    try:
        from multiprocessing import resource_tracker

        pid = getattr(resource_tracker._resource_tracker, "_pid", None)
        if pid:
            pids.add(pid)
    except Exception:  # pragma: no cover - best effort
        pass
    try:
        from multiprocessing import forkserver

        pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
        if pid:
            pids.add(pid)
    except Exception:  # pragma: no cover
        pass
    return pids


def _ours_or_orphaned(name: str, pids: set[int]) -> bool:
    """A labkit segment owned by this process or its children, or by a process that is gone.

    Segments of other live processes (another test run, a user's engine) are not ours to count.
    """
    match = _SHM_PID.match(name)
    if match is None:
        return name.startswith(SHM_PREFIX)
    pid = int(match.group(1))
    return pid in pids or not psutil.pid_exists(pid)


@dataclass(frozen=True)
class ResourceSnapshot:
    threads: frozenset[int]
    thread_names: dict[int, str] = field(compare=False)
    children: frozenset[int]
    sockets: frozenset[tuple]
    shm: frozenset[str]

    @classmethod
    def take(cls) -> ResourceSnapshot:
        threads = {
            t.ident: t.name
            for t in threading.enumerate()
            if t.ident is not None
            and t.is_alive()
            and type(t).__name__ not in _IGNORED_THREAD_CLASSES
        }
        me = psutil.Process()
        helpers = _helper_pids()
        children = set()
        for c in me.children(recursive=False):  # grandchildren belong to our children
            try:
                if c.pid not in helpers and c.status() != psutil.STATUS_ZOMBIE:
                    children.add(c.pid)
            except psutil.NoSuchProcess:
                pass
        sockets = set()
        for conn in me.net_connections(kind="inet"):
            sockets.add((conn.fd, conn.type, conn.laddr, conn.status))
        for conn in me.net_connections(kind="unix"):  # ipc:// sockets of ZeroMQ
            if conn.laddr or conn.raddr:  # unnamed pairs belong to libraries' own plumbing
                sockets.add((conn.fd, conn.type, conn.laddr or conn.raddr, conn.status))
        try:
            shm = {n for n in os.listdir(SHM_DIR) if _ours_or_orphaned(n, {me.pid, *children})}
        except FileNotFoundError:  # pragma: no cover - not Linux
            shm = set()
        return cls(
            frozenset(threads), threads, frozenset(children), frozenset(sockets), frozenset(shm)
        )

    def new_since(self, before: ResourceSnapshot) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        threads = [
            f"{self.thread_names[i]!r}"
            for i in self.threads - before.threads
            if not self.thread_names[i].startswith(_IGNORED_THREAD_PREFIXES)
            and not self.thread_names[i].endswith(_IGNORED_THREAD_SUFFIXES)
        ]
        if threads:
            found["threads"] = sorted(threads)
        children = []
        for pid in self.children - before.children:
            try:
                children.append(f"pid {pid}: {' '.join(psutil.Process(pid).cmdline())[:120]}")
            except psutil.Error:
                continue
        if children:
            found["child processes"] = children
        sockets = [
            f"fd {s[0]} {s[2]} {s[3]}" for s in self.sockets - before.sockets if s[3] != "TIME_WAIT"
        ]
        if sockets:
            found["sockets"] = sorted(sockets)
        shm = sorted(self.shm - before.shm)
        if shm:
            found["shared-memory segments"] = shm
        return found


class LeakCheck:
    """Context manager: snapshot on enter, compare on exit, wait up to ``grace_s`` for stragglers."""

    def __init__(self, grace_s: float = 3.0) -> None:
        self.grace_s = grace_s
        self.before: ResourceSnapshot | None = None

    def __enter__(self) -> LeakCheck:
        self.before = ResourceSnapshot.take()
        return self

    def leaks(self) -> dict[str, list[str]]:
        assert self.before is not None, "LeakCheck used outside 'with'"
        deadline = time.monotonic() + self.grace_s
        while True:
            found = ResourceSnapshot.take().new_since(self.before)
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            return
        found = self.leaks()
        if found:
            detail = "; ".join(f"{kind}: {', '.join(items)}" for kind, items in found.items())
            raise ResourceLeakError(
                f"resources left behind: {detail}. Close scopes/views/managers (or use them as "
                "context managers) so every thread, process, socket and segment is released."
            )
