"""The public watch API: watch / maybe_push / watched_variables / watch_info / shutdown.

One :class:`~labkit.viewer._watch.Watcher` per (namespace, manager). ``shell=`` or ``namespace=``
picks the namespace the way erlab does (the shell's ``user_ns``, else the mapping given); without
either, ``watch`` uses the IPython kernel's namespace or the caller's globals, while
``maybe_push``, ``watched_variables`` and ``shutdown`` act on every watcher of this process.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from labkit.viewer._inputs import strict_keywords
from labkit.viewer._target import Target, close_clients, resolve
from labkit.viewer._watch import Watcher

__all__ = ["maybe_push", "shutdown", "watch", "watch_info", "watched_variables"]

_watchers: dict[tuple[int, str], Watcher] = {}
_watchers_lock = threading.Lock()


def _namespace_and_shell(namespace: dict | None, shell: Any, depth: int) -> tuple[dict, Any]:
    if shell is not None:
        return shell.user_ns, shell
    if namespace is not None:
        return namespace, None
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        ip = None
    if ip is not None and getattr(ip, "user_ns", None) is not None:
        return ip.user_ns, ip
    return sys._getframe(depth).f_globals, None


def _selected(namespace: dict | None, shell: Any) -> list[tuple[tuple[int, str], Watcher]]:
    """The watchers of the namespace given (``shell`` first), or all of them."""
    with _watchers_lock:
        found = list(_watchers.items())
    if shell is None and namespace is None:
        return found
    ns_id = id(shell.user_ns if shell is not None else namespace)
    return [(key, w) for key, w in found if key[0] == ns_id]


@strict_keywords
def watch(
    *names: str,
    shell: Any = None,
    namespace: dict | None = None,
    stop: bool = False,
    remove: bool = False,
    stop_all: bool = False,
    restore: bool = False,
    shadow_builtins: bool = False,
    target: Target = None,
    source_label: str | None = None,
    poll_interval_s: float | None = 0.25,
) -> list[str]:
    """Watch variables: every change is pushed to a manager window; viewer edits come back.

    ``watch("x", "y")`` starts watching (and pushes now). A watched window of that name left by a
    notebook that is gone (or restored from a workspace) is taken over instead of opening a new
    one; ``source_label`` tells apart windows of the same name from different sources.
    ``stop=True`` stops watching the names (all when none given), ``remove=True`` also closes
    their windows; ``stop_all=True`` stops every watcher of the namespace (of the process when
    neither ``shell`` nor ``namespace`` is given); ``restore=True`` reconnects watched windows
    restored from a workspace (those named, or all), creating the variables that do not exist
    (a name that would shadow a builtin is refused unless ``shadow_builtins=True``).

    Without ``namespace``/``shell`` it uses the IPython kernel's namespace (checked after each
    cell) or else the caller's globals (polled every ``poll_interval_s`` by a thread; None:
    only when ``maybe_push()`` is called). Returns the names now watched in that namespace.

    Raises:
        NameError: a name is not defined.
        TypeError: a name is not an array.
        ValueError: several unbound windows watch a name (pass ``source_label``), or restoring
            would shadow a builtin (nothing is bound then); ``poll_interval_s`` is not > 0.
        ManagerNotFoundError: no manager is running (or none matches ``target``).
        ManagerAmbiguousError: several managers match and none is the default.
        ManagerUnavailableError: the manager did not answer.
    """
    if poll_interval_s is not None and not poll_interval_s > 0:
        raise ValueError(
            f"poll_interval_s must be > 0 seconds, or None to check only in maybe_push(); got "
            f"{poll_interval_s!r}"
        )
    ns, sh = _namespace_and_shell(namespace, shell, depth=3)  # 3: the strict_keywords wrapper
    if stop_all:
        _stop(_selected(namespace, shell), remove_windows=remove)
        return []
    if stop or remove:
        # no manager lookup without a target: stopping must work when the manager is gone
        uid = resolve(target).uid if target is not None else None
        with _watchers_lock:
            found = [(k, w) for k, w in _watchers.items() if k[0] == id(ns) and uid in (None, k[1])]
        remaining: set[str] = set()
        for key, w in found:
            w.remove(names or None, remove_windows=remove)
            if not w.variables:
                _stop([(key, w)])
            remaining |= set(w.variables)
        return sorted(remaining)
    handle = resolve(target)
    key = (id(ns), handle.uid)
    with _watchers_lock:
        watcher = _watchers.get(key)
    if watcher is None:
        watcher = Watcher(ns, handle, shell=sh, poll_interval_s=poll_interval_s)
        with _watchers_lock:
            _watchers[key] = watcher
    try:
        if restore:
            watcher.restore(
                names or None, shadow_builtins=shadow_builtins, source_label=source_label
            )
        elif names:
            watcher.add(names, source_label=source_label)
    finally:
        if not watcher.variables:
            _stop([(key, watcher)])
    return sorted(watcher.variables)


@strict_keywords
def maybe_push(shell: Any = None, namespace: dict | None = None) -> list[str]:
    """Check the watched variables now and push the changed ones; returns their names.

    ``shell``/``namespace``: only that namespace's watchers (default: all of this process).

    Raises:
        ManagerUnavailableError: the manager did not answer.
    """
    return [n for _, w in _selected(namespace, shell) for n in w.check_all()]


@strict_keywords
def watched_variables(shell: Any = None, namespace: dict | None = None) -> list[str]:
    """Names watched in that namespace (``shell``/``namespace``), or by this whole process."""
    return sorted({n for _, w in _selected(namespace, shell) for n in w.variables})


@strict_keywords
def watch_info(target: Target = None) -> dict[str, Any]:
    """What the manager and this process know about watched variables.

    Returns ``{"manager": uid, "watched": [...], "watchers": [...]}``: ``watched`` lists the
    manager's stored watched windows (``index, uid, name, var_name, source, source_label, bound,
    connected, here``: bound to a notebook, whose connection is live, that is a watcher of this
    process), ``watchers`` this process's watchers of that manager (client id, mode, events lost,
    per-variable push and edit counters).

    Raises:
        ManagerNotFoundError: no manager is running (or none matches ``target``).
        ManagerAmbiguousError: several managers match and none is the default.
        ManagerUnavailableError: the manager did not answer.
    """
    handle = resolve(target)
    with _watchers_lock:
        # by address: one manager may be reached through its registry entry or its file
        mine = [w for w in _watchers.values() if w.handle.entry.address == handle.entry.address]
    ids = {w.client_id for w in mine}
    watched = handle.request("watch_info")
    for entry in watched:
        entry["here"] = entry.pop("client_id", None) in ids
    return {"manager": handle.uid, "watched": watched, "watchers": [w.info() for w in mine]}


def _stop(selected: list[tuple[tuple[int, str], Watcher]], remove_windows: bool = False) -> None:
    with _watchers_lock:
        for key, _ in selected:
            _watchers.pop(key, None)
    for _, w in selected:
        w.close(remove_windows=remove_windows)


@strict_keywords
def shutdown(shell: Any = None, namespace: dict | None = None, remove: bool = False) -> None:
    """Stop watchers (closing their windows when ``remove``), join their threads.

    ``shell``/``namespace``: only that namespace's watchers; without either, every watcher of
    this process, and the cached request sockets are closed too.
    """
    _stop(_selected(namespace, shell), remove_windows=remove)
    if shell is None and namespace is None:
        close_clients()
