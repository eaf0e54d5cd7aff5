"""``ViewerWindow``: one manager window as an anywidget (front end in js/src/viewer/).

The kernel-side logic lives in :class:`WindowController`, which knows nothing about the transport:
the notebook widget drives it over the Jupyter comm, the manager page (``_page.py``) drives the
same controller over a websocket, so both show the same window the same way.

Synced state (anywidget traits, mirrored by the page's minimal model):

- ``info`` (kernel → browser): name, dims, shape, dtype, version, units, the two image dims and,
  per dim, its size, units and coordinate values (for slider labels and the readout).
- ``view`` (both ways): ``slices`` {dim: index}, ``cursor`` {dim: index}, ``contrast_lo`` /
  ``contrast_hi`` (data units, None = automatic), ``gamma``, ``colormap``, ``link_group``.
  Changes go to :meth:`WindowRegistry.set_view_state`, so linked windows follow.

Custom messages, kernel → browser: ``{"type": "slice", version, slices, w, h, full_w, full_h,
bin, dtype, min, max}`` + one buffer (the 2-D image as raw uint8/uint16, anything else as
float32; block means when larger than ``MAX_SIDE_PX``) and ``{"type": "status", level, message}``.
Browser → kernel: ``ready`` (a view appeared), ``ack`` (a slice arrived; at most
``MAX_UNACKED_SLICES`` are in flight, newer changes wait and the newest wins), ``request_slice``
and ``{"type": "edit", "op": "normalize" | "crop" | "fill", "roi": [x0, y0, x1, y1], "value": v}``;
edits become :meth:`WindowRegistry.edit_data` (``origin="viewer"``) and flow back to a watching
notebook.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from labkit.viewer._windows import WindowRegistry, WindowState
from labkit.widgets._static import STATIC_DIR

__all__ = ["EDIT_OPS", "ViewerWindow", "WindowController", "apply_edit", "bin_image", "slice_image"]

logger = logging.getLogger(__name__)

#: edits a viewer can make (see :func:`apply_edit`)
EDIT_OPS = ("normalize", "crop", "fill")
VIEW_KEYS = ("slices", "cursor", "contrast_lo", "contrast_hi", "gamma", "colormap", "link_group")
MAX_COORD_VALUES = 65536  # longer coordinate axes are sent as start/step only
MAX_SIDE_PX = 2048  # slices larger than this on a side are sent binned (mean) to fit
MAX_UNACKED_SLICES = 2  # slices in flight per front end; newer changes wait (newest wins)
CREDIT_TIMEOUT_S = 2.0  # after this long without an ack, send anyway (the view may be gone)


# ---------------------------------------------------------------- pure helpers
def _image_dims(data: xr.DataArray) -> list[str]:
    dims = [str(d) for d in data.dims]
    return dims[-2:]


def slice_image(data: xr.DataArray, slices: dict[str, int] | None = None) -> np.ndarray:
    """The 2-D image a window shows: extra dims at ``slices`` (index, clamped), last two dims.

    0-d data becomes 1×1 and 1-d data one row. The result is C-contiguous and sent as raw
    uint8/uint16 when the data has that dtype, float32 otherwise (bool → uint8, complex → abs).
    """
    slices = slices or {}
    if data.ndim > 2:
        sel = {
            d: int(min(max(int(slices.get(str(d), 0)), 0), data.sizes[d] - 1))
            for d in data.dims[:-2]
        }
        data = data.isel(sel)
    values = np.asarray(data.values)
    if values.ndim == 0:
        values = values.reshape(1, 1)
    elif values.ndim == 1:
        values = values[None, :]
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    elif values.dtype.kind == "c":
        values = np.abs(values).astype(np.float32)
    elif values.dtype not in (np.uint8, np.uint16):
        values = values.astype(np.float32, copy=False)
    return np.ascontiguousarray(values)


def bin_image(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor`` × ``factor`` blocks as float32 (edge blocks that do not fit are cut);
    ``factor`` 1 returns ``image`` unchanged."""
    if factor <= 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor)
    return np.ascontiguousarray(blocks.mean(axis=(1, 3), dtype=np.float32), dtype=np.float32)


def _finite_range(image: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values; (0, 0) when there are none."""
    if image.size == 0:
        return 0.0, 0.0
    lo, hi = float(image.min()), float(image.max())
    if np.isfinite(lo) and np.isfinite(hi):
        return lo, hi
    finite = image[np.isfinite(image)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def _check_view(changes: dict[str, Any]) -> None:
    """Refuse view values a front end cannot have meant.

    Raises:
        ValueError: non-integer slice/cursor indices, a non-finite or non-positive gamma, a
            non-numeric contrast limit, or a colormap that is not a name.
    """
    for key in ("slices", "cursor"):
        value = changes.get(key, {})
        if not isinstance(value, dict) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in value.values()
        ):
            raise ValueError(f"view {key} must map dims to integer indices, got {value!r}")
    for key in ("contrast_lo", "contrast_hi"):
        value = changes.get(key)
        if value is not None and not (
            isinstance(value, int | float) and np.isfinite(value) and not isinstance(value, bool)
        ):
            raise ValueError(f"{key} must be a finite number or None (auto), got {value!r}")
    gamma = changes.get("gamma", 1.0)
    if not isinstance(gamma, int | float) or not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    if not isinstance(changes.get("colormap", "gray"), str):
        raise ValueError(f"colormap must be a name, got {changes['colormap']!r}")


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


def window_info(window: WindowState) -> dict[str, Any]:
    """JSON-able ``info`` trait of a window (labels, sizes, units, coordinates)."""
    data = window.data
    return {
        **window.summary(),
        "units": str(data.attrs.get("units", "")),
        "long_name": str(data.attrs.get("long_name", "")),
        "image_dims": _image_dims(data),
        "axes": {str(d): _axis_info(data, d) for d in data.dims},
        "closed": False,
    }


def view_of(window: WindowState) -> dict[str, Any]:
    """JSON-able ``view`` trait of a window."""
    return {k: window.view.get(k) for k in VIEW_KEYS}


def apply_edit(data: xr.DataArray, content: dict[str, Any]) -> xr.DataArray:
    """The data after a viewer edit ``{"op", "roi": [x0, y0, x1, y1], "value"}``.

    ``normalize``: (data - min) / (max - min) over all finite values, as float.
    ``crop``: keep the ROI of the two image dims (every slice of the extra dims).
    ``fill``: set the ROI of the image dims to ``value`` in every slice (float data keeps its dtype,
    integer data gets ``value`` rounded and clipped to the dtype's range).
    ROI corners are indices along the image (x = last dim, y = the one before), end exclusive.

    Raises:
        ValueError: unknown op, missing/empty ROI, or a value that is not a number.
    """
    op = content.get("op")
    if op not in EDIT_OPS:
        raise ValueError(f"unknown edit op {op!r}; use one of {', '.join(EDIT_OPS)}")
    if op == "normalize":
        values = np.asarray(data.values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        return data.copy(data=(values - lo) / (hi - lo if hi > lo else 1.0))
    if data.ndim < 2:
        raise ValueError(f"{op} needs 2-D data; this window shows {data.ndim}-D data")
    ydim, xdim = data.dims[-2], data.dims[-1]
    roi = content.get("roi")
    if not roi or len(roi) != 4:
        raise ValueError(f"{op} needs a ROI [x0, y0, x1, y1]; draw a rectangle first")
    x0, y0, x1, y1 = (int(round(float(v))) for v in roi)
    x0, x1 = sorted((max(0, min(x0, data.sizes[xdim])), max(0, min(x1, data.sizes[xdim]))))
    y0, y1 = sorted((max(0, min(y0, data.sizes[ydim])), max(0, min(y1, data.sizes[ydim]))))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"the ROI {roi} is empty inside the image; draw a larger rectangle")
    region = {ydim: slice(y0, y1), xdim: slice(x0, x1)}
    if op == "crop":
        return data.isel(region).copy(deep=True)
    try:
        value = float(content.get("value", 0.0))
    except (TypeError, ValueError):
        raise ValueError(f"fill value {content.get('value')!r} is not a number") from None
    out = data.copy(deep=True)
    if out.dtype.kind in "iu":
        info = np.iinfo(out.dtype)
        value = float(np.clip(round(value), info.min, info.max))
    out[region] = value
    return out


# ---------------------------------------------------------------- transport-agnostic controller
PushState = Callable[[dict[str, Any]], None]
SendMsg = Callable[[dict[str, Any], list[bytes | memoryview]], None]


class WindowController:
    """Kernel side of one viewer window, for any transport.

    ``push_state(changes)`` sets synced traits in the browser (``info`` / ``view``);
    ``send(content, buffers)`` sends a custom message. Both may be called from any thread (the
    registry calls subscribers in the thread that made the change). Slices larger than
    ``max_side_px`` on a side are sent as block means (``bin`` in the message), so one slice
    stays a few MB at most. Call :meth:`close` to unsubscribe from the registry.
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
        self._sent_key: tuple | None = None  # (version, slices) of the last slice sent
        self._unacked = 0  # slices the front end has not acknowledged yet
        self._last_send_s = 0.0
        self._waiting = False  # a change arrived while out of credit: send it on the next ack
        self.closed = False
        self.slices_sent = 0
        self.last_error = ""
        self._pushed: dict[str, Any] = {}  # what the front end has: pushes send only changes
        self._pushed_lock = threading.Lock()
        self._unsubscribe = registry.subscribe(self._on_event)

    # ---- state for a new front end
    def state(self) -> dict[str, Any]:
        """``{"uid", "info", "view"}`` for a front end that just connected."""
        window = self.registry.get(self.uid)
        pushed = {"info": window_info(window), "view": view_of(window)}
        with self._pushed_lock:
            self._pushed = dict(pushed)
        return {"uid": self.uid, **pushed}

    # ---- browser → kernel
    def handle_view(self, view: dict[str, Any]) -> None:
        """The browser changed ``view``: store the keys that differ (linked windows follow)."""
        if self.closed:
            return
        window = self.registry.get(self.uid)
        changes = {k: v for k, v in view.items() if k in VIEW_KEYS and window.view.get(k) != v}
        try:
            _check_view(changes)
        except (TypeError, ValueError) as exc:
            self._status("error", str(exc))
            with self._pushed_lock:
                self._pushed.pop("view", None)  # make the next push restore the stored view
            self._on_event("view", window)
            return
        if changes:
            # the front end already shows this view: do not echo it back (it may have moved on)
            with self._pushed_lock:
                self._pushed["view"] = {**view_of(window), **changes}
            self.registry.set_view_state(self.uid, **changes)

    def handle_msg(self, content: dict[str, Any]) -> None:
        """A custom message from the browser: ``ready`` (a view appeared: send the slice),
        ``ack`` (a slice arrived: credit for the next), ``request_slice`` or ``edit``."""
        kind = content.get("type") if isinstance(content, dict) else None
        if self.closed:
            return
        if kind in ("ready", "request_slice"):
            with self._lock:
                self._unacked = 0
            self.send_slice(force=True)
        elif kind == "ack":
            with self._lock:
                self._unacked = max(0, self._unacked - 1)
                waiting, self._waiting = self._waiting, False
            if waiting:
                self.send_slice()
        elif kind == "edit":
            try:
                window = self.registry.get(self.uid)
                new = apply_edit(window.data, content)
                self.registry.edit_data(self.uid, new, origin="viewer")
                self._status("ok", f"{content.get('op')} applied (version {window.version})")
            except Exception as exc:  # shown in the window, never raised into the comm thread
                logger.info("edit on window %s failed: %s", self.uid, exc)
                self._status("error", str(exc))
        else:
            self._status("error", f"unknown message {kind!r} from the viewer")

    def _status(self, level: str, message: str) -> None:
        if level == "error":
            self.last_error = message
        self._send({"type": "status", "level": level, "message": message}, [])

    # ---- kernel → browser
    def send_slice(self, force: bool = False) -> bool:
        """Send the current 2-D slice (unless this version and slice were already sent).

        Sends are serialized, and the version is read before the data (the registry writes the
        data first), so a slice never carries a newer version than its pixels and the slices a
        front end receives never go back in time. At most ``MAX_UNACKED_SLICES`` are in flight
        (the front end acks each); a change beyond that waits for the next ack (newest wins) or
        for ``CREDIT_TIMEOUT_S`` to pass without one (a view that went away).
        """
        with self._lock:
            try:
                window = self.registry.get(self.uid)
            except LookupError:
                return False
            version = window.version
            data = window.data
            slices = dict(window.view.get("slices") or {})
            key = (version, tuple(sorted(slices.items())), tuple(data.shape))
            if not force and key == self._sent_key:
                return False
            now = time.monotonic()
            out_of_credit = self._unacked >= MAX_UNACKED_SLICES
            if not force and out_of_credit and now - self._last_send_s < CREDIT_TIMEOUT_S:
                self._waiting = True
                return False
            self._sent_key, self._last_send_s = key, now
            self._unacked += 1
            image = slice_image(data, slices)
            full_h, full_w = image.shape
            factor = -(-max(full_h, full_w) // self.max_side_px)  # ceil
            image = bin_image(image, factor)
            lo, hi = _finite_range(image)
            content = {
                "type": "slice",
                "version": version,
                "slices": slices,
                "w": int(image.shape[1]),
                "h": int(image.shape[0]),
                "full_w": int(full_w),
                "full_h": int(full_h),
                "bin": int(factor),
                "dtype": {"uint8": "u8", "uint16": "u16"}.get(str(image.dtype), "f32"),
                "min": lo,
                "max": hi,
            }
            self._send(content, [memoryview(image).cast("B")])  # type: ignore[arg-type]
            self.slices_sent += 1
        return True

    def _on_event(self, event: str, window: WindowState) -> None:
        if window.uid != self.uid or self.closed:
            return
        if event == "closed":
            self.closed = True
            self._push_state({"info": {**window_info(window), "closed": True}})
            self._unsubscribe()
            return
        changes = {"info": window_info(window), "view": view_of(window)}
        with self._pushed_lock:
            changes = {k: v for k, v in changes.items() if self._pushed.get(k) != v}
            self._pushed.update(changes)
        if changes:
            self._push_state(changes)
        self.send_slice()

    def close(self) -> None:
        """Stop following the registry (the window itself stays open in the manager)."""
        self.closed = True
        self._unsubscribe()


# ---------------------------------------------------------------- the notebook widget
def _viewer_esm() -> Path | str:
    path = STATIC_DIR / "viewer.js"
    if path.is_file():
        return path
    return (
        "export function render({ el }) { el.textContent = 'labkit viewer front end is not built: "
        "run `npm --prefix js install && npm --prefix js run build` in the labkit checkout'; }\n"
        "export default { render };\n"
    )


class ViewerWindow(anywidget.AnyWidget):
    """A viewer window in a notebook: 2-D image of N-d data with sliders, cursors, profiles.

    ``source``: a :class:`WindowRegistry` or a ``ManagerServer`` (then ``key`` = window index
    or uid; default the newest window), or a DataArray / numeric ndarray (opens a private window
    on it). The image is drawn by the live view's WebGL2 renderer (contrast lo/hi/gamma and
    colormap in the shader); sliders pick extra dims, a click moves the crosshair (line
    profiles), the readout shows coordinates in the data's units. Linked windows share cursor
    and contrast. ``height_px``: CSS height of the image area.

    Call :meth:`close` (or use it as a context manager) to stop following the registry.

    Raises:
        WindowNotFoundError: ``key`` names no window of the registry.
        TypeError: ``source`` is neither a registry/manager nor array data, or the manager has
            no window yet.
    """

    _esm = _viewer_esm()
    view_id = traitlets.Unicode("").tag(sync=True)
    uid = traitlets.Unicode("").tag(sync=True)
    info = traitlets.Dict().tag(sync=True)
    view = traitlets.Dict().tag(sync=True)
    height_px = traitlets.Int(420).tag(sync=True)

    def __init__(self, source: Any, key: int | str | None = None, **kwargs: Any) -> None:
        registry = getattr(source, "windows", source)
        if not isinstance(registry, WindowRegistry):
            registry = WindowRegistry()
            key = registry.add(source).uid
        elif key is None:
            windows = registry.list()
            if not windows:
                raise TypeError("the manager has no windows yet: pass data or show some first")
            key = windows[-1].uid
        self._from_kernel = False
        self._controller = WindowController(registry, key, self._push, self._send_msg)
        state = self._controller.state()
        super().__init__(
            view_id=f"vw{uuid.uuid4().hex[:10]}",
            uid=state["uid"],
            info=state["info"],
            view=state["view"],
            **kwargs,
        )
        self.observe(self._on_view_trait, names=["view"])
        self.on_msg(self._on_custom)

    @property
    def controller(self) -> WindowController:
        return self._controller

    @property
    def data(self) -> xr.DataArray:
        """The DataArray this window shows now."""
        return self._controller.registry.get(self.uid).data

    def _push(self, changes: dict[str, Any]) -> None:
        self._from_kernel = True
        try:
            for name, value in changes.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
        finally:
            self._from_kernel = False

    def _send_msg(self, content: dict[str, Any], buffers: list) -> None:
        if self.comm is not None:
            self.send(content, buffers or None)

    def _on_view_trait(self, change: dict[str, Any]) -> None:
        if not self._from_kernel:
            self._controller.handle_view(dict(change["new"]))

    def _on_custom(self, _widget: Any, content: Any, buffers: list) -> None:
        self._controller.handle_msg(content)

    def close(self) -> None:
        """Stop following the registry and close the widget (the manager window stays open)."""
        controller = self.__dict__.get("_controller")
        if controller is None:  # __init__ failed before the widget existed
            return
        controller.close()
        super().close()

    def __enter__(self) -> ViewerWindow:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
