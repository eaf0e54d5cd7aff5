"""``WindowController``: the kernel side of one viewer window, for any transport.

The notebook widget (``_window.py``) drives it over the Jupyter comm, the manager page
(``_page.py``) over a websocket, so both show a window the same way.

Synced state: ``info`` (kernel → browser: name, shape, dtype, version, units, per dim its size,
units and coordinate values, the windows it is linked with) and ``view`` (both ways, see
``_view.py``). View changes go to :meth:`WindowRegistry.set_view_state`, so linked windows follow.

Custom messages, kernel → browser:

- ``slice``: ``{version, image_dims, slices, x, y, rw, rh, w, h, bin, full_w, full_h, dtype, min,
  max, auto, auto_log}`` + one buffer: region ``[x, x + rw) × [y, y + rh)`` of the
  full-resolution image (``full_w × full_h``), binned ``bin × bin`` to ``w × h`` texels (raw
  uint8/uint16, else float32). Only what the front end's viewport shows, about one texel per
  device pixel. ``auto`` / ``auto_log``: the automatic contrast limits of the whole image
  (0.1 / 99.9 percentiles; of the values > 0 for a log scale; ``auto`` symmetric about 0 when
  the view is ``zero_centered``), so zooming keeps the contrast.
  ``kernel_ms`` (after a view change from this front end): the kernel's time from that change
  to this send.
- ``profiles``: ``{values, roi, line, arrays}`` + one float32 buffer per name in ``arrays``
  (``c<i>.h`` / ``c<i>.v`` row and column through cursor i, ``dim.<name>`` along an extra dim at
  the active cursor, ``roi`` the ROI mean along the first extra dim, ``line``), full resolution.
- ``status``: ``{level, message}``.

Slices and profiles carry ``seq``; the browser acks each (``{"type": "ack", "of": "slice" |
"profiles", "seq"}``). At most ``MAX_UNACKED`` of each kind are in flight: a change beyond that
waits for an ack (the newest wins) or for ``CREDIT_TIMEOUT_S`` (a view that went away).

Browser → kernel: ``ready`` (a view appeared; may carry ``viewport``), ``viewport`` (canvas size,
zoom and visible region), ``ack``, ``request_slice`` and ``edit`` (``_edits.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import xarray as xr

from labkit.viewer._edits import apply_edit
from labkit.viewer._slicing import (
    auto_limits,
    crop_texels,
    finite_range,
    image_plane,
    profiles,
    viewport_crop,
)
from labkit.viewer._view import VIEW_KEYS
from labkit.viewer._windows import WindowRegistry, WindowState
from labkit.widgets._binning import Viewport
from labkit.widgets._transport import CreditWindow

__all__ = ["WindowController", "view_of", "window_info"]

logger = logging.getLogger(__name__)

MAX_COORD_VALUES = 65536  # longer coordinate axes are sent as start/step only
MAX_SIDE_PX = 1024  # before a front end reports its viewport, slices are fitted to this many px
MAX_UNACKED = 2  # slices (and profiles) in flight per front end; newer changes wait (newest wins)
CREDIT_TIMEOUT_S = 2.0  # after this long without an ack, send anyway (the view may be gone)


def _axis_info(data: xr.DataArray, dim: Hashable) -> dict[str, Any]:
    size = int(data.sizes[dim])
    out: dict[str, Any] = {"size": size, "units": "", "values": None, "start": 0.0, "step": 1.0}
    if dim not in data.coords:
        return out
    coord = data.coords[dim]
    out["units"] = str(coord.attrs.get("units", ""))
    values = np.asarray(coord.values)
    if values.ndim != 1:
        return out
    if values.dtype.kind in "biuf":
        floats = values.astype(np.float64)
        if size:
            out["start"] = float(floats[0])
            out["step"] = float(floats[1] - floats[0]) if size > 1 else 1.0
        if size <= MAX_COORD_VALUES:
            out["values"] = [float(v) if np.isfinite(v) else None for v in floats]
    elif size <= MAX_COORD_VALUES:
        out["values"] = [str(v) for v in values]
    return out


def window_info(
    window: WindowState, linked_with: list[WindowState] | None = None, axes: dict | None = None
) -> dict[str, Any]:
    """JSON-able ``info`` trait of a window (labels, sizes, units, coordinates, link partners).
    ``axes``: the per-dim part when the caller has it already (it only changes with the data)."""
    data = window.data
    return {
        **window.summary(),
        "units": str(data.attrs.get("units", "")),
        "long_name": str(data.attrs.get("long_name", "")),
        "axes": axes if axes is not None else {str(d): _axis_info(data, d) for d in data.dims},
        "linked_with": [
            {"index": w.index, "uid": w.uid, "name": w.name} for w in linked_with or []
        ],
        "closed": False,
    }


def view_of(window: WindowState) -> dict[str, Any]:
    """JSON-able ``view`` trait of a window."""
    return {k: window.view.get(k) for k in VIEW_KEYS}


PushState = Callable[[dict[str, Any]], None]
SendMsg = Callable[[dict[str, Any], list[bytes | memoryview]], None]


Snapshot = tuple[int, xr.DataArray, dict[str, Any]]  # (version, data, view) read together


def _centered(limits: list[float] | None, view: dict[str, Any]) -> list[float] | None:
    """Automatic limits made symmetric about 0 when the view asks for ``zero_centered``."""
    if limits is None or not view.get("zero_centered"):
        return limits
    m = max(abs(limits[0]), abs(limits[1])) or 1.0
    return [-m, m]


def _plane_key(snap: Snapshot) -> tuple:
    version, data, view = snap
    extra = tuple(sorted((d, i, view["bins"].get(d, 1)) for d, i in view["slices"].items()))
    return (version, tuple(data.shape), tuple(view["image_dims"]), extra)


def _profiles_key(snap: Snapshot) -> tuple:
    view = snap[2]
    return (_plane_key(snap), repr((view["cursors"], view["bins"], view["roi"], view["line"])))


class WindowController:
    """Kernel side of one viewer window, for any transport.

    ``push_state(changes)`` sets synced traits in the browser (``info`` / ``view``);
    ``send(content, buffers)`` sends a custom message. Both may be called from any thread (the
    registry calls subscribers in the thread that made the change). Until a front end reports
    its viewport, slices are fitted into ``max_side_px``². Call :meth:`close` to unsubscribe.
    """

    def __init__(
        self,
        registry: WindowRegistry,
        key: int | str,
        push_state: PushState,
        send: SendMsg,
        max_side_px: int = MAX_SIDE_PX,
    ) -> None:
        window = registry.get(key)
        self.max_side_px = max(1, int(max_side_px))
        self.registry, self.uid = registry, window.uid
        self._push_state, self._send = push_state, send
        self._lock = threading.Lock()
        self._viewport: Viewport | None = None
        self._plane: tuple[tuple, np.ndarray] | None = None  # (key, full-resolution image)
        self._auto: dict[tuple, Any] = {}  # (plane key, positive) -> auto contrast limits
        self._profile_cache: dict[str, Any] = {}  # the last ROI profile (slicing.profiles)
        self._sent_key: tuple | None = None  # what the last slice showed
        self._profiles_key: tuple | None = None
        self._credits = self._new_credits()
        self._waiting: set[str] = set()  # kinds that changed while out of credit: sent on an ack
        self._view_t0: float | None = None  # when the last view change from the front end came
        self._axes: tuple[int, dict] | None = None  # (version, axes): coords converted once
        self.closed = False
        self.slices_sent = 0
        self.profiles_sent = 0
        self.last_error = ""
        self._pushed: dict[str, Any] = {}  # what the front end has: pushes send only changes
        self._pushed_lock = threading.Lock()
        self._unsubscribe = registry.subscribe(self._on_event)

    # ---- state for a front end
    def info(self, window: WindowState) -> dict[str, Any]:
        """The ``info`` trait of the window (its axes are converted once per data version)."""
        axes = self._axes
        if axes is None or axes[0] != window.version:
            axes = (window.version, {str(d): _axis_info(window.data, d) for d in window.data.dims})
            self._axes = axes
        try:
            linked = self.registry.linked_with(window.uid)
        except LookupError:  # closed meanwhile
            linked = []
        return window_info(window, linked, axes[1])

    def state(self) -> dict[str, Any]:
        """``{"uid", "info", "view"}`` for a front end that just connected."""
        window = self.registry.get(self.uid)
        pushed = {"info": self.info(window), "view": view_of(window)}
        with self._pushed_lock:
            self._pushed = dict(pushed)
        return {"uid": self.uid, **pushed}

    # ---- browser → kernel
    def handle_view(self, view: dict[str, Any]) -> None:
        """The browser changed ``view``: store the keys that differ (linked windows follow). A
        refused change shows an error in the window and restores the stored view there."""
        if self.closed:
            return
        window = self.registry.get(self.uid)
        changes = {k: v for k, v in view.items() if window.view.get(k) != v}
        if not changes:
            return
        self._view_t0 = time.perf_counter()
        with self._pushed_lock:  # the front end shows this already: do not echo it back
            self._pushed["view"] = {**view_of(window), **changes}
        try:
            self.registry.set_view_state(self.uid, **changes)
        except ValueError as exc:
            self._status("error", str(exc))
            with self._pushed_lock:
                self._pushed.pop("view", None)  # make the next push restore the stored view
            self._on_event("view", window)

    def handle_msg(self, content: dict[str, Any]) -> None:
        """A custom message from the browser (see the module docstring)."""
        kind = content.get("type") if isinstance(content, dict) else None
        if self.closed:
            return
        if kind in ("ready", "request_slice"):
            if isinstance(content.get("viewport"), dict):
                self._set_viewport(content["viewport"])
            with self._lock:
                self._credits = self._new_credits()  # a new view: nothing of it is in flight
            self.send_slice(force=True)
            self.send_profiles(force=True)
        elif kind == "viewport":
            if self._set_viewport(content):
                self.send_slice()
        elif kind == "ack":
            of = content.get("of", "slice")
            with self._lock:
                credit = self._credits.get(of)
                if credit is not None and isinstance(content.get("seq"), int):
                    credit.ack(content["seq"])
                waiting = of in self._waiting
                self._waiting.discard(of)
            if waiting:
                self.send_profiles() if of == "profiles" else self.send_slice()
        elif kind == "edit":
            try:
                window = self.registry.get(self.uid)
                new = apply_edit(window.data, content, window.view["image_dims"])
                self.registry.edit_data(self.uid, new, origin="viewer")
                self._status("ok", f"{content.get('op')} applied (version {window.version})")
            except Exception as exc:  # shown in the window, never raised into the comm thread
                logger.info("edit on window %s failed: %s", self.uid, exc)
                self._status("error", str(exc))
        else:
            self._status("error", f"unknown message {kind!r} from the viewer")

    @staticmethod
    def _new_credits() -> dict[str, CreditWindow]:
        return {k: CreditWindow(MAX_UNACKED, CREDIT_TIMEOUT_S) for k in ("slice", "profiles")}

    def _take_credit(self, kind: str, force: bool) -> int | None:
        """A sequence number for a ``kind`` message, or None when out of credit (then the change
        is sent on the next ack). ``force`` sends anyway."""
        seq = self._credits[kind].acquire()
        if seq is None and force:
            seq = -1  # not tracked: a forced send never waits
        if seq is None:
            self._waiting.add(kind)
        return seq

    def _set_viewport(self, content: dict[str, Any]) -> bool:
        try:
            vp = Viewport.from_message(content)
        except ValueError as exc:
            self._status("error", str(exc))
            return False
        with self._lock:
            changed, self._viewport = vp != self._viewport, vp
        return changed

    def _status(self, level: str, message: str) -> None:
        if level == "error":
            self.last_error = message
        self._send({"type": "status", "level": level, "message": message}, [])

    # ---- kernel → browser
    def _snapshot(self) -> Snapshot | None:
        """``(version, data, view)`` of the window, or None once it is closed."""
        try:
            return self.registry.snapshot(self.uid)
        except LookupError:
            return None

    def _current_plane(self, snap: Snapshot) -> tuple[tuple, np.ndarray]:
        """``(key, full-resolution image)``, cached while version, dims, slices and slice bins
        stay; the key's version is that of the pixels."""
        key = _plane_key(snap)
        if self._plane is None or self._plane[0] != key:
            self._plane = (key, image_plane(snap[1], snap[2]))
        return self._plane

    def send_slice(self, force: bool = False) -> bool:
        """Send the part of the current image the viewport shows (unless already sent).

        Sends are serialized and read version, data and view together (``snapshot``), so a
        slice is labelled with the version of its pixels and slices a front end receives never go
        back in time. At most ``MAX_UNACKED`` are in flight; a change beyond that is sent on the
        next ack (newest wins).
        """
        with self._lock:
            snap = self._snapshot()
            if snap is None:
                return False
            version, _data, view = snap
            plane_key, plane = self._current_plane(snap)
            crop = viewport_crop(plane.shape, self._viewport, self.max_side_px)
            key = (plane_key, crop, bool(view.get("zero_centered")))  # it changes ``auto``
            if not force and key == self._sent_key:
                return False
            seq = self._take_credit("slice", force)
            if seq is None:
                return False
            self._sent_key = key
            texels = crop_texels(plane, crop)
            lo, hi = finite_range(texels)
            content = {
                "type": "slice",
                "seq": seq,
                "version": version,
                "image_dims": list(view["image_dims"]),
                "slices": dict(view["slices"]),
                "x": crop.x0,
                "y": crop.y0,
                "rw": crop.x1 - crop.x0,
                "rh": crop.y1 - crop.y0,
                "w": int(texels.shape[1]),
                "h": int(texels.shape[0]),
                "bin": crop.k,
                "full_w": int(plane.shape[1]),
                "full_h": int(plane.shape[0]),
                "dtype": {"uint8": "u8", "uint16": "u16"}.get(str(texels.dtype), "f32"),
                "min": lo,
                "max": hi,
                "auto": _centered(self._auto_limits(plane, plane_key, positive=False), view),
                "auto_log": self._auto_limits(plane, plane_key, positive=True),
            }
            if self._view_t0 is not None:  # kernel time from the front end's change to this send
                content["kernel_ms"] = round(1e3 * (time.perf_counter() - self._view_t0), 2)
                self._view_t0 = None
            self._send(content, [memoryview(texels).cast("B")])  # type: ignore[arg-type]
            self.slices_sent += 1
        return True

    def _auto_limits(self, plane: np.ndarray, plane_key: tuple, positive: bool) -> Any:
        """Percentile limits of the whole image (cached with the plane)."""
        key = (plane_key, positive)
        if key not in self._auto:
            self._auto = {k: v for k, v in self._auto.items() if k[0] == key[0]}
            self._auto[key] = auto_limits(plane, positive=positive)
        return self._auto[key]

    def send_profiles(self, force: bool = False) -> bool:
        """Send the cursor, extra-dim, ROI and line profiles (unless these were sent already)."""
        with self._lock:
            snap = self._snapshot()
            if snap is None:
                return False
            key = _profiles_key(snap)
            if not force and key == self._profiles_key:
                return False
            seq = self._take_credit("profiles", force)
            if seq is None:
                return False
            self._profiles_key = key
            version, data, view = snap
            _, plane = self._current_plane(snap)
            content, arrays = profiles(data, view, plane, self._profile_cache)
            content.update(seq=seq, version=version)
            self._send(content, [memoryview(a).cast("B") for a in arrays])  # type: ignore[arg-type]
            self.profiles_sent += 1
        return True

    def _on_event(self, event: str, window: WindowState) -> None:
        if window.uid != self.uid or self.closed:
            return
        if event == "closed":
            self.closed = True
            self._push_state({"info": {**self.info(window), "closed": True}})
            self._unsubscribe()
            return
        changes = {"info": self.info(window), "view": view_of(window)}
        with self._pushed_lock:
            changes = {k: v for k, v in changes.items() if self._pushed.get(k) != v}
            self._pushed.update(changes)
        if changes:
            self._push_state(changes)
        self.send_slice()
        self.send_profiles()

    def close(self) -> None:
        """Stop following the registry (the window itself stays open in the manager)."""
        self.closed = True
        self._unsubscribe()
