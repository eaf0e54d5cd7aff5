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

__all__ = ["LINKED_VIEW_KEYS", "WindowRegistry", "WindowState", "default_view_state"]

logger = logging.getLogger(__name__)

#: view-state keys shared by windows in the same link group (cursors and contrast)
LINKED_VIEW_KEYS = ("cursor", "contrast_lo", "contrast_hi", "gamma", "colormap", "slices")

WindowEvent = str
Subscriber = Callable[[WindowEvent, "WindowState"], None]


def default_view_state(data: xr.DataArray) -> dict[str, Any]:
    """View state of a fresh window: first index of every extra dim, cursor at the centre, auto contrast."""
    dims = list(data.dims)
    image_dims = dims[-2:] if len(dims) >= 2 else dims
    return {
        "image_dims": image_dims,  # (y, x) dims shown as the image
        "slices": {d: 0 for d in dims[:-2]},  # index along each extra dim
        "cursor": {d: data.sizes[d] // 2 for d in image_dims},  # crosshair, in indices
        "contrast_lo": None,  # None = auto (min/percentile chosen by the viewer)
        "contrast_hi": None,
        "gamma": 1.0,
        "colormap": "gray",
        "link_group": None,
    }


@dataclass
class WindowState:
    """One viewer window: what it shows and how.

    ``data`` is the DataArray shown; ``view`` holds slice indices for extra dims, cursor positions
    (indices), contrast ``contrast_lo``/``contrast_hi``/``gamma``, ``colormap`` and ``link_group``.
    ``watched`` windows are bound to the variable ``var_name`` of the client ``client_id``; edits
    made in the viewer flow back there.
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
    ) -> WindowState:
        """Open a window on ``data`` (DataArray or numeric ndarray); returns its state.

        Raises:
            TypeError: ``data`` is not an array.
        """
        data = as_dataarray(data, name)
        state = default_view_state(data)
        if view:
            state.update(view)
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
            )
            self._windows[window.uid] = window
        self._emit("added", window)
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
            window.view = _refit_view(window.view, data)
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
            window.view = _refit_view(window.view, data)
        self._emit("edited" if origin == "viewer" else "replaced", window)
        return window

    def set_view_state(self, key: int | str, **state: Any) -> WindowState:
        """Update view state; linked keys propagate to the other windows of the same link group."""
        window = self.get(key)
        with self._lock:
            window.view.update(state)
            group = window.view.get("link_group")
            linked = []
            if group is not None:
                shared = {k: v for k, v in state.items() if k in LINKED_VIEW_KEYS}
                for other in self._windows.values():
                    if other is not window and other.view.get("link_group") == group and shared:
                        other.view.update(shared)
                        linked.append(other)
        self._emit("view", window)
        for other in linked:
            self._emit("view", other)
        return window

    def link(self, keys: typing.Sequence[int | str], group: str | None = None) -> str:
        """Put windows in one link group (cursors and contrast shared); returns the group name."""
        windows = [self.get(k) for k in keys]
        group = group or uuid.uuid4().hex[:8]
        for w in windows:
            self.set_view_state(w.uid, link_group=group)
        return group

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
    ) -> typing.List[WindowState]:  # noqa: UP006 (.list shadows)
        """Bind watched windows that no live client watches (restored from a workspace, or left
        by a notebook that is gone) to ``client_id``, by variable name; returns them
        (``dry_run``: only says which it would bind).

        A window still bound to a live client (``is_live(its client id)``) is never taken.
        """
        claimed = []
        with self._lock:
            taken = {w.var_name for w in self._windows.values() if w.client_id == client_id}
            for w in sorted(self._windows.values(), key=lambda w: w.index):
                if not (w.watched and w.var_name) or (
                    names is not None and w.var_name not in names
                ):
                    continue
                if w.var_name in taken or (w.client_id and is_live(w.client_id)):
                    continue
                if not dry_run:
                    w.client_id = client_id
                taken.add(w.var_name)
                claimed.append(w)
        return claimed

    def close(self, key: int | str) -> WindowState:
        """Close a window; emits ``"closed"``."""
        window = self.get(key)
        with self._lock:
            self._windows.pop(window.uid, None)
        self._emit("closed", window)
        return window

    def close_all(self) -> None:
        for w in self.list():
            self.close(w.uid)


def _refit_view(view: dict[str, Any], data: xr.DataArray) -> dict[str, Any]:
    """Keep slice/cursor indices that still fit ``data``; reset the rest."""
    fresh = default_view_state(data)
    out = dict(view)
    out["image_dims"] = fresh["image_dims"]
    out["slices"] = {
        d: min(int(view.get("slices", {}).get(d, 0)), data.sizes[d] - 1) for d in fresh["slices"]
    }
    cursor = view.get("cursor", {})
    out["cursor"] = {
        d: min(int(cursor.get(d, fresh["cursor"][d])), max(data.sizes[d] - 1, 0))
        for d in fresh["cursor"]
    }
    return out
