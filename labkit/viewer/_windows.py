"""The manager's registry of viewer windows, with a small observer API.

The server (requests from notebooks), the window widget (``_window.py``) and the manager page
(``_page.py``) all act on windows through :class:`WindowRegistry` and learn about changes with
``subscribe``. Events passed to subscribers: ``"added"``, ``"replaced"`` (new data from a client),
``"edited"`` (new data from a viewer, to be sent back to the watching notebook), ``"view"`` (view
state changed) and ``"closed"``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

from labkit.viewer._errors import WindowNotFoundError
from labkit.viewer._hash import as_dataarray
from labkit.viewer._link import linked_changes
from labkit.viewer._view import (
    COLOR_VIEW_KEYS,
    LINKED_VIEW_KEYS,
    default_view_state,
    refit_view,
    update_view,
)

__all__ = ["LINKED_VIEW_KEYS", "WindowRegistry", "WindowState", "default_view_state"]

logger = logging.getLogger(__name__)

WindowEvent = str
Subscriber = Callable[[WindowEvent, "WindowState"], None]


@dataclass
class WindowState:
    """One viewer window: what it shows and how.

    ``data`` is the DataArray shown; ``view`` is its view state (dims shown, slices, cursors,
    bins, colour scale, link group, ROI and line; see ``labkit/viewer/_view.py``).
    ``watched`` windows are bound to the variable ``var_name`` of the client ``client_id``; edits
    made in the viewer flow back there. ``source_label`` is the label a notebook integration gave
    the watch (it tells apart windows watching the same name from different sources).
    """

    index: int
    uid: str
    name: str
    data: xr.DataArray
    view: dict[str, Any]
    source: str = ""  # notebook (or script) that sent the data
    watched: bool = False
    var_name: str | None = None
    client_id: str | None = None
    source_label: str | None = None
    version: int = 0  # bumped on every data change
    created_s: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        """JSON-able description for listings (page, ``list`` request, editors)."""
        return {
            "index": self.index,
            "uid": self.uid,
            "name": self.name,
            "shape": list(self.data.shape),
            "dims": [str(d) for d in self.data.dims],
            "dtype": str(self.data.dtype),
            "source": self.source,
            "watched": self.watched,
            "var_name": self.var_name,
            "source_label": self.source_label,
            "version": self.version,
            "link_group": self.view.get("link_group"),
        }


class WindowRegistry:
    """Thread-safe set of windows. Subscribers are called outside the lock, in the caller's thread."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._windows: dict[str, WindowState] = {}
        self._next_index = itertools.count()
        self._subscribers: list[Subscriber] = []

    # ---- observers
    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event, window)`` on every change; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def _emit(self, event: WindowEvent, window: WindowState) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(event, window)
            except Exception:  # a broken subscriber must not break the manager
                logger.exception("window subscriber %r failed on %s", fn, event)

    # ---- queries
    def __len__(self) -> int:
        with self._lock:
            return len(self._windows)

    def list(self) -> list[WindowState]:
        """Windows in index order."""
        with self._lock:
            return sorted(self._windows.values(), key=lambda w: w.index)

    def get(self, key: int | str) -> WindowState:
        """Window by uid or index.

        Raises:
            WindowNotFoundError: no such window; the message lists the open ones.
        """
        with self._lock:
            if isinstance(key, str) and key in self._windows:
                return self._windows[key]
            for w in self._windows.values():
                if isinstance(key, int) and not isinstance(key, bool) and w.index == key:
                    return w
            open_ = ", ".join(f"{w.index}:{w.name}" for w in self.list()) or "none"
        raise WindowNotFoundError(f"no window {key!r} in this manager (open windows: {open_})")

    def snapshot(self, key: int | str) -> tuple[int, xr.DataArray, dict[str, Any]]:
        """``(version, data, view)`` of a window, read together (a sender that labels what it
        sends with the version never mixes two updates).

        Raises:
            WindowNotFoundError: no such window.
        """
        with self._lock:
            window = self.get(key)
            return window.version, window.data, window.view

    def find_watched(self, client_id: str, var_name: str) -> WindowState | None:
        """The window watching ``var_name`` of ``client_id``, if any."""
        with self._lock:
            for w in self._windows.values():
                if w.watched and w.client_id == client_id and w.var_name == var_name:
                    return w
        return None

    def find_watched_by(self, client_id: str) -> typing.List[WindowState]:  # noqa: UP006 (.list shadows)
        """Windows watched by ``client_id``."""
        with self._lock:
            return [w for w in self._windows.values() if w.watched and w.client_id == client_id]

    # ---- changes
    def add(
        self,
        data: Any,
        name: str | None = None,
        *,
        source: str = "",
        watched: bool = False,
        var_name: str | None = None,
        client_id: str | None = None,
        view: dict[str, Any] | None = None,
        uid: str | None = None,
        source_label: str | None = None,
    ) -> WindowState:
        """Open a window on ``data`` (DataArray or numeric ndarray); returns its state.

        ``view``: initial view state (keys of :data:`~labkit.viewer._view.VIEW_KEYS`).

        Raises:
            TypeError: ``data`` is not an array.
            ValueError: ``view`` has an unknown key or a value that does not fit the data.
        """
        data = as_dataarray(data, name)
        state = update_view(data, default_view_state(data), view or {})
        with self._lock:
            window = WindowState(
                index=next(self._next_index),
                uid=uid or uuid.uuid4().hex[:12],
                name=name or (str(data.name) if data.name is not None else var_name or "data"),
                data=data,
                view=state,
                source=source,
                watched=watched,
                var_name=var_name,
                client_id=client_id,
                source_label=source_label,
            )
            self._windows[window.uid] = window
            partners = self._group_members(window)
        self._emit("added", window)
        for other in partners:  # their list of linked windows grew
            self._emit("view", other)
        return window

    def replace(self, key: int | str, data: Any) -> WindowState:
        """Show new data in an existing window (from a client: ``replace_data`` or a watch push).

        Extra-dim slices and cursors are kept where they still fit the new shape.
        """
        window = self.get(key)
        data = as_dataarray(data, window.name)
        with self._lock:
            window.data = data
            window.version += 1
            window.view = refit_view(window.view, data)
        self._emit("replaced", window)
        return window

    def edit_data(self, key: int | str, new_data: Any, origin: str = "viewer") -> WindowState:
        """Data changed inside a viewer: store it and emit ``"edited"`` so it flows back to the
        watching notebook (the notebook does not echo it back)."""
        window = self.get(key)
        data = as_dataarray(new_data, window.name)
        with self._lock:
            window.data = data
            window.version += 1
            window.view = refit_view(window.view, data)
        self._emit("edited" if origin == "viewer" else "replaced", window)
        return window

    def _group_members(
        self, window: WindowState, group: str | None = None
    ) -> typing.List[WindowState]:  # noqa: UP006 (.list shadows)
        """The other windows in ``group`` (default: the window's own link group)."""
        group = window.view.get("link_group") if group is None else group
        if group is None:
            return []
        return [w for w in self.list() if w is not window and w.view.get("link_group") == group]

    def linked_with(self, key: int | str) -> typing.List[WindowState]:  # noqa: UP006 (.list shadows)
        """The other windows of the window's link group, in index order."""
        window = self.get(key)
        with self._lock:
            return self._group_members(window)

    def set_view_state(self, key: int | str, **state: Any) -> WindowState:
        """Change view state (keys of :data:`~labkit.viewer._view.VIEW_KEYS`).

        Changes of :data:`LINKED_VIEW_KEYS` reach the other windows of the link group, positions
        by coordinate value (``_link.py``). A window that joins a group takes the group's shared
        state from its first member; other changes in the same call apply after that. Emits ``"view"`` for every window that changed and for the
        members of a group that gained or lost a window.

        Raises:
            ValueError: an unknown key (the message lists the accepted ones) or a bad value; the
                view is left as it was.
        """
        window = self.get(key)
        if "link_group" in state and len(state) > 1:  # join (or leave) first, then the rest
            update_view(window.data, window.view, state)  # refuse before changing anything
            group = state.pop("link_group")
            self.set_view_state(key, link_group=group)
            return self.set_view_state(key, **state)
        with self._lock:
            old = window.view
            window.view = update_view(window.data, old, state)
            changed = {k for k, v in window.view.items() if old.get(k) != v}
            old_group, group = old.get("link_group"), window.view.get("link_group")
            members = self._group_members(window)
            affected = [window]
            if group != old_group:
                if members:  # joining: take the group's shared state
                    ref = members[0]
                    keys = _shared_keys(ref, window, set(LINKED_VIEW_KEYS))
                    join = linked_changes(ref.data, ref.view, window.data, window.view, keys)
                    window.view = update_view(window.data, window.view, join)
                affected += members + self._group_members(window, old_group)
            elif changed & set(LINKED_VIEW_KEYS):
                for other in members:
                    keys = _shared_keys(window, other, changed & set(LINKED_VIEW_KEYS))
                    if not keys:
                        continue
                    follow = linked_changes(window.data, window.view, other.data, other.view, keys)
                    other.view = update_view(other.data, other.view, follow)
                    affected.append(other)
        for w in affected:
            self._emit("view", w)
        return window

    def link(
        self, keys: typing.Sequence[int | str], group: str | None = None, colors: bool = True
    ) -> str:
        """Put windows in one link group; returns the group name. The windows take the shared
        state (position, bins and, with ``colors``, the colour scale) of the first one.

        Raises:
            WindowNotFoundError: a key names no window (nothing is linked then).
        """
        windows = [self.get(k) for k in keys]
        group = group or uuid.uuid4().hex[:8]
        for w in windows:
            if w.view.get("link_colors", True) != colors:
                self.set_view_state(w.uid, link_colors=colors)
            self.set_view_state(w.uid, link_group=group)
        return group

    def watched_windows(self) -> typing.List[WindowState]:  # noqa: UP006 (.list shadows)
        """Windows bound to a variable (watched now, or restored and waiting for a notebook)."""
        return [w for w in self.list() if w.watched and w.var_name]

    def set_watched(self, key: int | str, watched: bool) -> WindowState:
        """Mark a window watched or not (unwatched windows keep their data)."""
        window = self.get(key)
        with self._lock:
            window.watched = watched
        self._emit("view", window)
        return window

    def claim_unbound(
        self,
        client_id: str,
        names: typing.Collection[str] | None,
        is_live: Callable[[str], bool] = lambda client: False,
        dry_run: bool = False,
        source_label: str | None = None,
    ) -> typing.List[WindowState]:  # noqa: UP006 (.list shadows)
        """Bind watched windows that no live client watches (restored from a workspace, or left
        by a notebook that is gone) to ``client_id``, by variable name; returns them
        (``dry_run``: only says which it would bind).

        A window still bound to a live client (``is_live(its client id)``) is never taken. Among
        the unbound windows of one name, ``source_label`` picks those with that label; without
        it, the one unlabelled window (or the only window) is taken.

        Raises:
            ValueError: several unbound windows fit one name; nothing is bound then (the message
                names them: close or unwatch the extra ones, or pass ``source_label``).
        """
        with self._lock:
            taken = {w.var_name for w in self._windows.values() if w.client_id == client_id}
            by_name: dict[str, list[WindowState]] = {}
            for w in sorted(self._windows.values(), key=lambda w: w.index):
                if not (w.watched and w.var_name) or (
                    names is not None and w.var_name not in names
                ):
                    continue
                if w.var_name in taken or (w.client_id and is_live(w.client_id)):
                    continue
                by_name.setdefault(w.var_name, []).append(w)
            picked = [_pick(name, found, source_label) for name, found in by_name.items()]
            claimed = [w for w in picked if w is not None]
            if not dry_run:
                for w in claimed:
                    w.client_id = client_id
        return sorted(claimed, key=lambda w: w.index)

    def close(self, key: int | str) -> WindowState:
        """Close a window; emits ``"closed"`` (and ``"view"`` for the rest of its link group)."""
        window = self.get(key)
        with self._lock:
            self._windows.pop(window.uid, None)
            partners = self._group_members(window)
        self._emit("closed", window)
        for other in partners:
            self._emit("view", other)
        return window

    def close_all(self) -> None:
        for w in self.list():
            self.close(w.uid)


def _shared_keys(src: WindowState, dst: WindowState, keys: set[str]) -> set[str]:
    """``keys`` one linked window passes to another: the colour scale only when both link it."""
    if src.view.get("link_colors", True) and dst.view.get("link_colors", True):
        return keys
    return keys - set(COLOR_VIEW_KEYS)


def _pick(name: str, found: list[WindowState], label: str | None) -> WindowState | None:
    """The window of ``found`` (all watching ``name``) that a watcher with ``label`` takes."""
    if label is not None:
        found = [w for w in found if w.source_label == label]
    else:
        unlabelled = [w for w in found if not w.source_label]
        found = unlabelled or found
    if len(found) > 1:
        listed = ", ".join(f"{w.index} (label {w.source_label!r})" for w in found)
        raise ValueError(
            f"several windows watch a variable {name!r} and none is bound to a notebook: "
            f"{listed}; close or unwatch the extra ones, or pass source_label= to say which"
        )
    return found[0] if found else None
