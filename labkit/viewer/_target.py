"""Which manager a call talks to: registry lookup, default manager, ``use_manager``, env override.

Resolution order for ``target=None``: the innermost ``use_manager(...)`` block, then
``set_default_manager(...)``, then ``$LABKIT_MANAGER``, then the only live manager. ``target`` may be
a 0-based index into :data:`managers`, a manager uid, a :class:`ManagerHandle`, a manager's
connection file (registry-less, e.g. one copied from another machine) or its ``ipc://`` address.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from labkit.rpc import read_connection_file
from labkit.viewer._client import ManagerClient
from labkit.viewer._errors import (
    ManagerAmbiguousError,
    ManagerNotFoundError,
    ManagerUnavailableError,
)
from labkit.viewer._inputs import strict_keywords
from labkit.viewer._registry import ManagerEntry, Registry

__all__ = [
    "MANAGER_ENV",
    "ManagerHandle",
    "clear_default_manager",
    "client_for",
    "close_clients",
    "get_default_manager",
    "manager_selection_info",
    "managers",
    "resolve",
    "set_default_manager",
    "use_manager",
]

logger = logging.getLogger(__name__)

MANAGER_ENV = "LABKIT_MANAGER"
Target = Any  # int index | str uid or address | ManagerHandle | None

_default: str | None = None  # uid or address of the default manager
_context: contextvars.ContextVar[tuple] = contextvars.ContextVar("labkit_use_manager", default=())
_clients: dict[str, ManagerClient] = {}
_clients_lock = threading.Lock()


class ManagerHandle:
    """A live manager: its registry entry plus convenience calls."""

    def __init__(self, entry: ManagerEntry, index: int | None = None) -> None:
        self.entry, self.index = entry, index

    uid = property(lambda self: self.entry.uid)
    url = property(lambda self: self.entry.url)
    pid = property(lambda self: self.entry.pid)

    def request(self, method: str, timeout_s: float | None = None, **params: Any) -> Any:
        return client_for(self).request(method, timeout_s=timeout_s, **params)

    def windows(self) -> list[dict]:
        """Summaries of the manager's windows."""
        return self.request("list")

    def is_running(self, timeout_s: float = 1.0) -> bool:
        try:
            self.request("ping", timeout_s=timeout_s)
            return True
        except ManagerUnavailableError:
            return False

    # erlab's ImageToolManagerHandle methods: the module functions with target=this manager
    def show(self, data: Any, **kwargs: Any) -> Any:
        """``show_in_manager(data, target=this manager, **kwargs)``."""
        from labkit.viewer._api import show_in_manager

        return show_in_manager(data, target=self, **kwargs)

    def load(self, paths: Any, loader_name: str | None = None, **load_kwargs: Any) -> list[dict]:
        """``load_in_manager(paths, loader_name, target=this manager, **load_kwargs)``."""
        from labkit.viewer._api import load_in_manager

        return load_in_manager(paths, loader_name, target=self, **load_kwargs)

    def replace(self, index: Any, data: Any) -> Any:
        """``replace_data(index, data, target=this manager)``."""
        from labkit.viewer._api import replace_data

        return replace_data(index, data, target=self)

    def fetch(self, index: int | str) -> Any:
        """``fetch(index, target=this manager)``."""
        from labkit.viewer._api import fetch

        return fetch(index, target=self)

    def watch(self, *names: str, **kwargs: Any) -> list[str]:
        """``watch(*names, target=this manager, **kwargs)``."""
        from labkit.viewer._watch_api import _namespace_and_shell, watch

        if kwargs.get("shell") is None and kwargs.get("namespace") is None:  # the caller's
            kwargs["namespace"], kwargs["shell"] = _namespace_and_shell(None, None, depth=2)
        return watch(*names, target=self, **kwargs)

    def watch_info(self) -> dict:
        """``watch_info(target=this manager)``."""
        from labkit.viewer._watch_api import watch_info

        return watch_info(target=self)

    def use(self) -> ManagerHandle:
        """Make this the default manager of this process (``set_default_manager``)."""
        return set_default_manager(self)

    def __repr__(self) -> str:
        e = self.entry
        return f"<ManagerHandle {self.index}: uid={e.uid} pid={e.pid} {e.address} {e.url}>"


def client_for(handle: ManagerHandle) -> ManagerClient:
    """The cached request client for a manager (one connection per manager per process)."""
    with _clients_lock:
        client = _clients.get(handle.uid)
        if client is None:
            client = ManagerClient(handle.entry)
            _clients[handle.uid] = client
        return client


def close_clients() -> None:
    """Close every cached request socket (``shutdown()`` does this)."""
    with _clients_lock:
        for c in _clients.values():
            c.close()
        _clients.clear()


class _Managers:
    """``managers`` lists live managers: iterate, index, ``len`` or call it."""

    def __call__(self) -> list[ManagerHandle]:
        return [ManagerHandle(e, i) for i, e in enumerate(Registry().entries())]

    def __iter__(self) -> Iterator[ManagerHandle]:
        return iter(self())

    def __len__(self) -> int:
        return len(self())

    def __getitem__(self, i: int) -> ManagerHandle:
        return self()[i]

    def __repr__(self) -> str:
        return repr(self())


managers = _Managers()


def _from_connection(target: str) -> ManagerHandle:
    """A manager outside the registry: its connection file, or its ``ipc://`` address."""
    if target.startswith("ipc://"):
        return ManagerHandle(ManagerEntry(uid=target, pid=0, address=target), None)
    if target.startswith("tcp://"):
        raise ManagerNotFoundError(
            f"{target} is a TCP address: pass the manager's connection file instead (it holds "
            "the keys; the manager prints its path)"
        )
    try:
        info = read_connection_file(target)
    except ValueError as exc:  # ConnectionFileError: missing, loose permissions, malformed
        raise ManagerNotFoundError(str(exc)) from None
    entry = ManagerEntry(
        uid=f"file:{target}",
        pid=info.pid,
        address=info.address,
        connection_file=os.path.abspath(target),
        url=info.url,
    )
    return ManagerHandle(entry, None)


def _lookup(target: int | str | ManagerHandle) -> ManagerHandle:
    if isinstance(target, ManagerHandle):
        return target
    live = managers()
    if isinstance(target, int) and not isinstance(target, bool):
        if 0 <= target < len(live):
            return live[target]
        raise ManagerNotFoundError(
            f"no manager with index {target}: {len(live)} live ({_describe(live)}); "
            "start one with 'labkit manager'"
        )
    if isinstance(target, str):
        for h in live:  # uids first: a hex uid can be all digits ("739259403911")
            if h.uid == target:
                return h
        if target.lstrip("-").isdigit():
            return _lookup(int(target))
        if "://" in target or os.sep in target or target.endswith(".json"):
            return _from_connection(target)
        raise ManagerNotFoundError(f"no live manager with uid {target!r} (live: {_describe(live)})")
    raise TypeError(
        f"target must be an index, uid, address or ManagerHandle, not {type(target).__name__}"
    )


def _describe(live: list[ManagerHandle]) -> str:
    return ", ".join(f"{h.index}: uid {h.uid} pid {h.pid}" for h in live) or "none"


def resolve(target: Target = None) -> ManagerHandle:
    """The manager a call with ``target`` talks to.

    Raises:
        ManagerNotFoundError: the index/uid does not exist, or no manager runs at all.
        ManagerAmbiguousError: several run and nothing chose one.
    """
    if target is None:
        stack = _context.get()
        target = stack[-1] if stack else None
    if target is None:
        target = _default
    if target is None:
        target = os.environ.get(MANAGER_ENV) or None
    if target is not None:
        return _lookup(target)
    live = managers()
    if len(live) == 1:
        return live[0]
    if not live:
        raise ManagerNotFoundError(
            f"no viewer manager is running (registry {Registry().path}); start one with 'labkit manager'"
        )
    raise ManagerAmbiguousError(
        f"{len(live)} viewer managers are running ({_describe(live)}); choose one with target=i, "
        f"set_default_manager(i), 'with use_manager(i):' or ${MANAGER_ENV}"
    )


@strict_keywords
def set_default_manager(target: int | str | ManagerHandle) -> ManagerHandle:
    """Make ``target`` this process's default manager (stored by uid, so indices may shift)."""
    global _default
    handle = _lookup(target)
    _default = handle.entry.connection_file if handle.index is None else handle.uid
    if handle.index is None and not _default:
        _default = handle.entry.address
    return handle


@strict_keywords
def get_default_manager() -> ManagerHandle | None:
    """The default manager, or None when none is set (or it is gone)."""
    if _default is None:
        return None
    try:
        return _lookup(_default)
    except ManagerNotFoundError:
        return None


@strict_keywords
def clear_default_manager() -> None:
    global _default
    _default = None


@strict_keywords
@contextlib.contextmanager
def use_manager(target: int | str | ManagerHandle) -> Iterator[ManagerHandle]:
    """``with use_manager(i):`` — calls without ``target`` inside the block go to manager ``i``."""
    handle = _lookup(target)
    token = _context.set((*_context.get(), handle))
    try:
        yield handle
    finally:
        _context.reset(token)


@strict_keywords
def manager_selection_info() -> str:
    """JSON for editors/extensions: live managers and which one calls would use."""
    live = managers()
    try:
        chosen: str | None = resolve().uid
        error = None
    except (ManagerNotFoundError, ManagerAmbiguousError) as exc:
        chosen, error = None, str(exc)
    return json.dumps(
        {
            "managers": [{"index": h.index, **h.entry.to_json()} for h in live],
            "default": _default,
            "selected": chosen,
            "error": error,
        }
    )
