"""Frame sources a LiveView can show: a Scope, a RingReader, an array, or any ``latest()`` object."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np
import traitlets

from labkit.buffers import Frame, RingError

__all__ = [
    "COLORMAPS",
    "ArraySource",
    "FrameSource",
    "ScopeSource",
    "as_source",
    "frame_to_dataarray",
]

log = logging.getLogger(__name__)

# The same list as COLORMAP_NAMES in js/src/render/colormaps.ts (checked from both sides:
# tests/widgets/test_protocol_contract.py and js/test/colormaps.test.ts).
COLORMAPS = (
    "gray",
    "viridis",
    "magma",
    "inferno",
    "plasma",
    "cividis",
    "turbo",
    "hot",
    "green",
    "hilo",
)


@runtime_checkable
class FrameSource(Protocol):
    """Anything with ``latest() -> Frame | None`` (the newest frame, or None if there is none
    yet). Optional: ``shape``, ``dtype``, ``wait(timeout) -> bool`` (block until a newer frame
    may exist), ``close()``."""

    def latest(self) -> Frame | None: ...


class ArraySource:
    """A FrameSource showing a fixed 2-D array (numpy or ``xr.DataArray``); ``update(array)``
    replaces it (each update is a new frame index, timestamped with time.time()).

    Raises ``ValueError`` for arrays that are not 2-D or not integer (the live view sends uint8 /
    uint16; other integer types are converted with a clear range check).
    """

    def __init__(self, array: Any) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._index = -1
        self._frame: Frame | None = None
        self.coords: dict[str, np.ndarray] = {}
        self.update(array)

    @staticmethod
    def _prepare(array: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        coords: dict[str, np.ndarray] = {}
        if hasattr(array, "dims") and hasattr(array, "values"):  # xarray without importing it
            if len(array.dims) == 2:
                for dim, name in zip(array.dims, ("y", "x"), strict=True):
                    if dim in array.coords:
                        coords[name] = np.asarray(array.coords[dim].values)
            array = array.values
        a = np.asarray(array)
        if a.ndim != 2:
            raise ValueError(
                f"ArraySource needs a 2-D (y, x) array, got shape {a.shape}; select one frame first"
            )
        if a.dtype in (np.uint8, np.uint16):
            return np.array(a, order="C", copy=True), coords  # the caller may keep writing to a
        if a.dtype == bool:
            return a.astype(np.uint8), coords
        if np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating):
            lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
            if np.issubdtype(a.dtype, np.integer) and lo >= 0 and hi <= 65535:
                return a.astype(np.uint16), coords
            raise ValueError(
                f"ArraySource shows uint8/uint16 data; got {a.dtype} in [{lo:g}, {hi:g}]. "
                "Scale it first, e.g. np.clip(a, 0, 65535).astype(np.uint16)"
            )
        raise ValueError(f"ArraySource cannot show dtype {a.dtype}; convert to uint8 or uint16")

    def update(self, array: Any) -> None:
        """Replace the array shown (a new frame). Raises ``ValueError`` like the constructor."""
        data, coords = self._prepare(array)
        with self._changed:
            self._index += 1
            self._frame = Frame(data, self._index, time.time(), {"timestamp_s": time.time()})
            self.coords = coords
            self._changed.notify_all()

    @property
    def shape(self) -> tuple[int, int]:
        assert self._frame is not None
        return self._frame.data.shape  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        assert self._frame is not None
        return self._frame.data.dtype

    def latest(self) -> Frame | None:
        with self._lock:
            return self._frame

    def wait(self, timeout: float | None = None, after_index: int = -1) -> bool:
        """Block until a frame newer than ``after_index`` exists (False on timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._index > after_index, timeout)

    def close(self) -> None:
        """Nothing to release (present for symmetry with ring readers)."""


class ScopeSource:
    """Reads one frames stream of a Scope (``stream``; None: its first camera) through its own
    reader, reopening it when the stream's ring changes (the engine makes a new ring when the
    camera shape or dtype changes, and on restart). Used from one thread (the LiveView pump).

    Raises ``LookupError`` naming the frames streams when ``stream`` is not one of them.
    """

    def __init__(self, scope: Any, reader_name: str, stream: str | None = None) -> None:
        self.scope = scope
        self.reader_name = reader_name
        self.stream = stream
        if stream is not None:
            streams = scope.streams
            frames = [n for n, s in streams.items() if s.kind == "frames"]
            if stream not in frames:
                raise LookupError(
                    f"no frames stream {stream!r} to show; frames streams: "
                    f"{', '.join(frames) or 'none'}"
                )
        self._reader: Any = None
        self._ring_name: str | None = None

    def _buffer(self) -> str | None:
        """The ring the stream lives in now (None while the engine has none)."""
        if self.stream is None:
            return self.scope.ring_name
        info = self.scope.streams.get(self.stream)
        return None if info is None else info.buffer

    def _ensure_reader(self) -> Any:
        name = self._buffer()
        if name != self._ring_name:
            self._close_reader()
            self._ring_name = name
            if name is not None:
                try:
                    self._reader = self.scope.open_reader(self.stream, name=self.reader_name)
                except Exception as exc:  # noqa: BLE001 - closed/failed engine: show nothing, retry later
                    log.info("live view: cannot open a reader on ring %s yet: %s", name, exc)
                    self._ring_name = None
        return self._reader

    @property
    def shape(self) -> tuple[int, ...] | None:
        reader = self._reader
        return None if reader is None else tuple(reader.ring.shape)

    def _close_reader(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:  # noqa: BLE001 - a dead ring must not stop the view from closing
                log.debug("closing live view reader failed", exc_info=True)
            self._reader = None

    @property
    def lag(self) -> int:
        reader = self._ensure_reader()
        return 0 if reader is None else reader.lag

    def latest(self, copy: bool = True) -> Frame | None:
        reader = self._ensure_reader()
        if reader is None:
            return None
        try:
            return reader.latest(copy=copy)
        except RingError:
            self._ring_name = None  # the ring went away: reopen on the next call
            self._close_reader()
            return None

    def wait(self, timeout: float | None = None) -> bool:
        reader = self._ensure_reader()
        if reader is None:
            time.sleep(min(timeout or 0.05, 0.05))
            return False
        try:
            return reader.wait(timeout)
        except RingError:
            self._ring_name = None
            self._close_reader()
            return False

    def close(self) -> None:
        self._close_reader()


def as_source(obj: Any, reader_name: str, stream: str | None = None) -> tuple[Any, bool]:
    """Wrap what the user passed into a frame source; returns ``(source, owned)`` where owned
    sources are closed by the view. ``stream`` picks a Scope's camera stream. Raises
    ``TypeError`` naming the accepted kinds (or for a ``stream`` with a source that is not a
    Scope) and ``LookupError`` for a stream the scope does not have."""
    if hasattr(obj, "open_reader") and hasattr(obj, "ring_name"):
        return ScopeSource(obj, reader_name, stream), True
    if stream is not None:
        raise TypeError(
            f"stream={stream!r} picks a camera of a Scope; a {type(obj).__name__} has no streams"
        )
    if hasattr(obj, "latest") and callable(obj.latest):
        return obj, False
    if isinstance(obj, np.ndarray) or (hasattr(obj, "dims") and hasattr(obj, "values")):
        return ArraySource(obj), True
    raise TypeError(
        f"LiveView cannot show a {type(obj).__name__}; pass a Scope, a RingReader, an ArraySource, "
        "a 2-D numpy array / xarray.DataArray, or an object with latest() -> Frame | None"
    )


def frame_to_dataarray(
    frame: Any, coords: dict[str, np.ndarray] | None, attrs: dict[str, Any]
) -> Any:
    """A copy of ``frame`` as an ``xr.DataArray`` (y, x) named "snapshot": coords ``y``/``x``
    when given with matching lengths, attrs = numeric frame metadata + index + timestamp_s +
    ``attrs``."""
    import xarray as xr

    data = np.array(frame.data, copy=True)
    kept = {
        k: v
        for k, v in (coords or {}).items()
        if k in ("y", "x") and len(v) == data.shape["yx".index(k)]
    }
    out_attrs: dict[str, Any] = {
        k: float(v) for k, v in (frame.meta or {}).items() if isinstance(v, int | float)
    }
    out_attrs.update(index=int(frame.index), timestamp_s=float(frame.timestamp_s), **attrs)
    return xr.DataArray(data, dims=("y", "x"), coords=kept, attrs=out_attrs, name="snapshot")


def check_contrast(value: Any) -> tuple[float, float, float] | None:
    """``(lo, hi[, gamma])`` validated (``traitlets.TraitError`` saying what is wrong)."""
    if value is None:
        return None
    if len(value) not in (2, 3):
        raise traitlets.TraitError(
            f"contrast is (lo, hi) or (lo, hi, gamma) in data units, got {value!r}"
        )
    lo, hi = float(value[0]), float(value[1])
    gamma = float(value[2]) if len(value) == 3 else 1.0
    if not hi > lo:
        raise traitlets.TraitError(f"contrast needs hi > lo, got lo={lo:g} hi={hi:g}")
    if not 0.05 <= gamma <= 20:
        raise traitlets.TraitError(f"gamma must be in [0.05, 20], got {gamma:g}")
    return (lo, hi, gamma)


def check_roi(value: Any) -> tuple[int, int, int, int] | None:
    """``(x, y, w, h)`` in full-frame pixels validated (``traitlets.TraitError``)."""
    if value is None:
        return None
    if len(value) != 4 or min(value[2], value[3]) < 1:
        raise traitlets.TraitError(
            f"roi is (x, y, w, h) in full-frame pixels with w, h >= 1, got {value!r}"
        )
    return tuple(int(v) for v in value)  # type: ignore[return-value]


def check_width(value: Any) -> int:
    """``width_px``: a maximum CSS width of at least 16 px, or 0 for none (``TraitError``)."""
    width = int(value)
    if width != 0 and width < 16:
        raise traitlets.TraitError(
            f"width_px is the image's maximum width in CSS px (>= 16), or 0 for as wide as the "
            f"page allows; got {value!r}"
        )
    return width
