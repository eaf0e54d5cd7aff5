"""Watch notebook variables and push every change to a manager window; apply edits coming back.

One :class:`Watcher` per (namespace, manager). In IPython kernels it checks after every cell
(``post_run_cell``); in marimo and plain Python a polling thread checks every ``poll_interval_s``.
Checks hash everything (xxh3_128), so no change is missed; a change that arrives while a push is
running is pushed right after it (deferred, never dropped). Edits made in a viewer arrive as
reliable events and are assigned to the variable on the kernel's event loop, without echo.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from labkit.viewer._client import ManagerClient, new_client_id
from labkit.viewer._errors import ManagerUnavailableError
from labkit.viewer._hash import as_dataarray, content_hash
from labkit.viewer._target import ManagerHandle
from labkit.widgets._frontends import running_in_marimo

__all__ = ["Watcher", "WatchedVariable"]

logger = logging.getLogger(__name__)

_MISSING = object()
UNWATCH_TIMEOUT_S = 2.0  # a dead manager must not make shutdown() wait the full request timeout
UNAVAILABLE_BACKOFF_S = 30.0  # automatic checks pause this long after the manager did not answer


@dataclass
class WatchedVariable:
    """Push state of one watched name."""

    name: str
    source_label: str | None = None
    last_hash: bytes | None = None
    uid: str | None = None
    index: int | None = None
    pushes: int = 0
    edits_applied: int = 0
    last_push_s: float = 0.0
    pending: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def _source_name(namespace: dict, shell: Any) -> str:
    """Where the data comes from: notebook path if the kernel tells it, else marimo/script name."""
    for key in ("__session__", "__vsc_ipynb_file__", "__file__"):
        value = namespace.get(key)
        if isinstance(value, str) and value:
            return value
    if shell is None and running_in_marimo():
        return "marimo"
    return sys.argv[0] or "python"


class Watcher:
    """Watches names of one namespace for one manager."""

    def __init__(
        self,
        namespace: dict,
        handle: ManagerHandle,
        shell: Any = None,
        poll_interval_s: float | None = 0.25,
    ) -> None:
        self.namespace, self.handle, self.shell = namespace, handle, shell
        self.client_id = new_client_id()
        # its own connection: the manager sends the edits of its windows to this client id
        self.client = ManagerClient(handle.entry, client_id=self.client_id, on_event=self._on_event)
        self.source = _source_name(namespace, shell)
        self.variables: dict[str, WatchedVariable] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._hooked = False
        self._backoff_until = 0.0
        self.poll_interval_s = poll_interval_s
        if shell is not None and hasattr(shell, "events"):
            shell.events.register("post_run_cell", self._post_run_cell)
            self._hooked = True
        elif poll_interval_s:
            self._poller = threading.Thread(
                target=self._poll, name="labkit-watch-poll", daemon=True
            )
            self._poller.start()

    # ---- watching
    def add(self, names: tuple[str, ...], source_label: str | None = None) -> None:
        """Start watching ``names`` and push them now. A watched window of the same name that no
        live notebook is bound to (``source_label`` picks among several) is taken over.

        Raises:
            NameError: a name is not defined in the namespace.
            TypeError: a name holds something that is not an array.
            ValueError: several unbound windows fit a name (nothing is bound then).
        """
        for name in names:
            value = self.namespace.get(name, _MISSING)
            if value is _MISSING:
                raise NameError(f"name {name!r} is not defined; assign it before watching it")
            as_dataarray(value, name)  # TypeError with a clear message
        self.client.connect()
        new = [n for n in names if n not in self.variables]
        if new:
            self.client.request("claim", names=new, source_label=source_label, with_data=False)
        with self._lock:
            for name in names:
                self.variables.setdefault(name, WatchedVariable(name, source_label))
        for name in names:
            self.sync(name)

    def remove(self, names: tuple[str, ...] | None, remove_windows: bool = False) -> list[str]:
        """Stop watching ``names`` (all when None); ``remove_windows`` also closes their windows."""
        with self._lock:
            targets = (
                list(self.variables) if not names else [n for n in names if n in self.variables]
            )
            for n in targets:
                del self.variables[n]
        if targets:
            try:
                self.client.request(
                    "unwatch",
                    timeout_s=min(self.client.timeout_s, UNWATCH_TIMEOUT_S),  # not hang shutdown()
                    names=targets,
                    remove=remove_windows,
                )
            except Exception as exc:  # manager gone: nothing left to unwatch
                logger.info("unwatch on the manager failed: %s", exc)
        return targets

    def restore(
        self,
        names: tuple[str, ...] | None = None,
        shadow_builtins: bool = False,
        source_label: str | None = None,
    ) -> list[str]:
        """Reconnect watched windows restored from a workspace (or left by a notebook that is
        gone), by variable name (those in ``names``, or all); names not defined here are created.

        Raises:
            ValueError: a window's variable name is not a valid identifier, or would shadow a
                Python builtin (``list``, ``print``...) and ``shadow_builtins`` is False, or
                several windows fit one name; nothing is claimed then.
        """
        candidates = self.client.request(
            "claim", names=list(names) if names else None, dry_run=True, source_label=source_label
        )
        unsafe = [
            item["var_name"]
            for item in candidates
            if _unsafe_name(item["var_name"], self.namespace, shadow_builtins)
        ]
        if unsafe:
            raise ValueError(
                f"restoring would create variables {sorted(unsafe)}, which are not identifiers or "
                "shadow Python builtins; rename those windows' variables, or pass "
                "shadow_builtins=True to watch(restore=True, ...) if you mean it"
            )
        claimed = self.client.request(
            "claim", names=[item["var_name"] for item in candidates], source_label=source_label
        )
        restored = []
        for item in claimed:
            name = item["var_name"]
            wv = WatchedVariable(
                name, item.get("source_label"), uid=item["uid"], index=item["index"]
            )
            with self._lock:
                self.variables[name] = wv
            if name not in self.namespace:
                value = item["data"].copy()
                self.namespace[name] = value
                wv.last_hash = content_hash(as_dataarray(value, name))
            else:
                self.sync(name)
            restored.append(name)
        return restored

    # ---- change detection and push
    def sync(self, name: str) -> bool:
        """Push ``name`` if it changed; returns True if at least one push happened.

        A call that finds a push already running marks the variable pending; the running push
        re-checks before it returns, so the newer value is pushed too.
        """
        wv = self.variables.get(name)
        if wv is None:
            return False
        pushed = False
        while True:
            wv.pending = True
            if not wv.lock.acquire(blocking=False):
                return pushed  # the running push sees pending and checks again
            try:
                while wv.pending:
                    wv.pending = False
                    pushed |= self._push_if_changed(wv)
            finally:
                wv.lock.release()
            if not wv.pending:
                return pushed

    def _push_if_changed(self, wv: WatchedVariable) -> bool:
        value = self.namespace.get(wv.name, _MISSING)
        if value is _MISSING:
            logger.info("watched variable %r was deleted; no longer watching it", wv.name)
            with self._lock:
                self.variables.pop(wv.name, None)
            return False
        try:
            data = as_dataarray(value, wv.name)
        except TypeError as exc:
            logger.warning(
                "watched variable %r is no longer an array; not pushed: %s", wv.name, exc
            )
            return False
        digest = content_hash(data)
        if digest == wv.last_hash:
            return False
        summary = self.client.request(
            "watch_update",
            var_name=wv.name,
            data=data,
            source=self.source,
            source_label=wv.source_label,
        )
        wv.last_hash, wv.uid, wv.index = digest, summary["uid"], summary["index"]
        wv.pushes += 1
        wv.last_push_s = time.time()
        if content_hash(data) != digest:  # changed while it was being sent: push again
            wv.pending = True
            wv.last_hash = None
        return True

    def check_all(self, force: bool = True) -> list[str]:
        """Check every watched name now; returns the names that were pushed.

        After the manager did not answer, automatic checks (``force=False``: cell hook, polling)
        pause for :data:`UNAVAILABLE_BACKOFF_S` so cells do not each wait for the timeout; the
        changes stay pending and are pushed by the next check that runs.

        Raises:
            ManagerUnavailableError: the manager did not answer within the client timeout.
        """
        if not force and time.monotonic() < self._backoff_until:
            return []
        try:
            return [n for n in list(self.variables) if self.sync(n)]
        except ManagerUnavailableError:
            self._backoff_until = time.monotonic() + UNAVAILABLE_BACKOFF_S
            raise

    def _post_run_cell(self, *args: Any) -> None:
        try:
            self.check_all(force=False)
        except Exception as exc:  # never break the user's cell
            print(f"labkit.viewer.watch: push failed: {exc}", file=sys.stderr)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.check_all(force=False)
            except Exception as exc:
                logger.warning("watch polling push failed: %s", exc)

    # ---- edits from viewers
    def _on_event(self, topic: str, payload: Any) -> None:
        if topic != "edit":
            return
        name, data = payload["var_name"], payload["data"]
        wv = self.variables.get(name)
        if wv is None:
            return
        current = self.namespace.get(name)
        value = np.array(data.values) if isinstance(current, np.ndarray) else data.copy(deep=True)
        digest = content_hash(as_dataarray(value, name))

        def apply() -> None:
            with wv.lock:
                self.namespace[name] = value
                wv.last_hash = digest  # so the next check does not push it back
                wv.edits_applied += 1

        loop = getattr(getattr(self.shell, "kernel", None), "io_loop", None)
        if loop is not None:
            loop.add_callback(apply)  # on the kernel's event loop, between cells
        else:
            apply()

    # ---- lifecycle
    def info(self) -> dict:
        return {
            "manager": self.handle.uid,
            "client_id": self.client_id,
            "source": self.source,
            "mode": "post_run_cell" if self._hooked else ("polling" if self._poller else "manual"),
            "poll_interval_s": self.poll_interval_s,
            "events_lost": self.client.events_lost,
            "variables": {
                n: {
                    "uid": v.uid,
                    "index": v.index,
                    "pushes": v.pushes,
                    "edits_applied": v.edits_applied,
                    "last_push_s": v.last_push_s,
                }
                for n, v in self.variables.items()
            },
        }

    def close(self, remove_windows: bool = False) -> None:
        """Stop watching everything, unhook, join the threads."""
        if self.variables:
            self.remove(None, remove_windows=remove_windows)
        self._stop.set()
        if self._hooked:
            try:
                self.shell.events.unregister("post_run_cell", self._post_run_cell)
            except ValueError:
                pass
            self._hooked = False
        if self._poller is not None and self._poller is not threading.current_thread():
            self._poller.join(5)
        self.client.close()


def _unsafe_name(name: str, namespace: dict, shadow_builtins: bool) -> bool:
    """A restored name that must not be created: not an identifier, or a builtin not yet bound."""
    import builtins
    import keyword

    if not name.isidentifier() or keyword.iskeyword(name):
        return True
    return not shadow_builtins and name not in namespace and hasattr(builtins, name)


def is_array_like(value: Any) -> bool:
    return isinstance(value, xr.DataArray | np.ndarray)
