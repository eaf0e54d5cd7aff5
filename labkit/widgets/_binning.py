"""Viewport planning, fast binning and encodings for the live view.

The browser reports its canvas (device pixels), the zoom (device px per frame px) and the
visible region of the full frame; the kernel sends only that region, binned so there is about
one texel per device pixel. Binning is a k x k mean computed with uint32 adds on strided views
(about 1.1 ms for 2048² → 682² on one core; ``reshape(...).mean()`` is 10x slower).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.processing import bin_mean

__all__ = [
    "Crop",
    "EncodedView",
    "Viewport",
    "bin_factor",
    "bin_mean",
    "encode_jpeg",
    "encode_view",
    "plan_crop",
    "to_uint8",
]

# Largest texture side sent (WebGL2 guarantees at least 2048; most GPUs allow more).
MAX_TEXTURE_SIDE = 4096


@dataclass(frozen=True)
class Viewport:
    """What the browser shows: canvas size in device px, zoom in device px per frame px, and
    the visible region ``[x0, x1) x [y0, y1)`` in full-frame pixels."""

    canvas_w: int
    canvas_h: int
    zoom: float
    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def from_message(cls, content: dict[str, Any]) -> Viewport:
        """The viewport a front end reported (``{canvas_w, canvas_h, zoom, x0, y0, x1, y1}``).

        Raises:
            ValueError: a field is missing or not a number, or the zoom is not > 0.
        """
        try:
            ints = [int(content[k]) for k in ("canvas_w", "canvas_h", "x0", "y0", "x1", "y1")]
            zoom = float(content["zoom"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed viewport {content!r}: {exc}") from None
        if not zoom > 0:
            raise ValueError(f"zoom must be > 0 device px per frame px, got {zoom}")
        return cls(ints[0], ints[1], zoom, *ints[2:])

    @classmethod
    def fit(cls, full_h: int, full_w: int, canvas_w: int, canvas_h: int) -> Viewport:
        """The whole frame fitted into a canvas (the view before the browser reports one)."""
        zoom = min(canvas_w / max(1, full_w), canvas_h / max(1, full_h))
        return cls(canvas_w, canvas_h, zoom, 0, 0, full_w, full_h)


@dataclass(frozen=True)
class Crop:
    """Region ``[y0, y1) x [x0, x1)`` of the full frame binned by ``k`` (``y1 - y0`` and
    ``x1 - x0`` are multiples of ``k``)."""

    y0: int
    y1: int
    x0: int
    x1: int
    k: int

    @property
    def out_shape(self) -> tuple[int, int]:
        return ((self.y1 - self.y0) // self.k, (self.x1 - self.x0) // self.k)


def bin_factor(zoom: float) -> int:
    """The largest integer k with k frame pixels per device pixel or more (so binning never
    sends fewer texels than the canvas shows). Mirrors ``binFactor`` in js/src/render/viewport.ts."""
    if not zoom > 0:
        raise ValueError(f"zoom must be > 0 device px per frame px, got {zoom!r}")
    return max(1, int(1.0 / zoom + 1e-9))


def plan_crop(full_shape: tuple[int, int], vp: Viewport, margin: float = 0.1) -> Crop:
    """Choose the region and bin factor to send for viewport ``vp`` of a frame ``(h, w)``.

    The visible region is widened by ``margin`` (fraction of its size, each side) so a small
    pan shows real pixels before the next frame arrives, clamped to the frame, and trimmed to
    a multiple of the bin factor. The bin factor is raised when the result would exceed
    ``MAX_TEXTURE_SIDE``.
    """
    h, w = int(full_shape[0]), int(full_shape[1])
    x0, x1 = max(0, min(vp.x0, w)), max(0, min(vp.x1, w))
    y0, y1 = max(0, min(vp.y0, h)), max(0, min(vp.y1, h))
    if x1 <= x0 or y1 <= y0:  # nothing visible (or not reported yet): the whole frame
        x0, y0, x1, y1 = 0, 0, w, h
    mx, my = int((x1 - x0) * margin), int((y1 - y0) * margin)
    x0, x1 = max(0, x0 - mx), min(w, x1 + mx)
    y0, y1 = max(0, y0 - my), min(h, y1 + my)
    k = bin_factor(vp.zoom) if vp.zoom > 0 else 1
    k = min(k, max(1, x1 - x0), max(1, y1 - y0))
    while max(x1 - x0, y1 - y0) // k > MAX_TEXTURE_SIDE:
        k += 1
    x1 = x0 + (x1 - x0) // k * k
    y1 = y0 + (y1 - y0) // k * k
    return Crop(y0, y1, x0, x1, k)


def to_uint8(a: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Window ``a`` to uint8 over its own min..max; returns ``(u8, scale, offset)`` with
    ``value ≈ u8 * scale + offset`` so the browser still shows data units (contrast stays there)."""
    if a.size == 0:
        return np.zeros(a.shape, np.uint8), 1.0, 0.0
    lo, hi = float(a.min()), float(a.max())
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a), 1.0, 0.0
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    if hi - lo <= 255:  # fits without loss
        return (a - a.dtype.type(lo)).astype(np.uint8), 1.0, lo
    if a.dtype == np.uint16 and a.size > 65536:  # a 64 K lookup table beats float math
        idx = np.arange(65536, dtype=np.float32)
        lut = np.clip((idx - lo) / scale + 0.5, 0, 255).astype(np.uint8)
        return lut[a], scale, lo
    u8 = np.clip((a.astype(np.float32) - lo) / scale + 0.5, 0, 255).astype(np.uint8)
    return u8, scale, lo


def encode_jpeg(a: np.ndarray, quality: int = 85) -> tuple[bytes, float, float]:
    """JPEG-encode a 2-D frame (windowed to 8 bits like :func:`to_uint8`) with simplejpeg.

    Returns ``(jpeg_bytes, scale, offset)``.
    """
    import simplejpeg

    u8, scale, offset = to_uint8(a)
    data = simplejpeg.encode_jpeg(
        np.ascontiguousarray(u8)[:, :, None],
        quality=quality,
        colorspace="GRAY",
        colorsubsampling="Gray",
    )
    return data, scale, offset


@dataclass(frozen=True)
class EncodedView:
    """What the kernel sends for one frame: ``payload`` (raw texels or JPEG bytes) covering
    ``crop`` of the full frame, ``shape`` texels (h, w), and ``value = stored * scale + offset``."""

    payload: Any  # bytes (jpeg) or a C-contiguous np.ndarray (raw16 / raw8)
    encoding: str
    crop: Crop
    shape: tuple[int, int]
    scale: float
    offset: float

    @property
    def nbytes(self) -> int:
        return len(self.payload) if isinstance(self.payload, bytes) else int(self.payload.nbytes)

    @property
    def buffer(self) -> Any:
        """The payload as a buffer for ``widget.send(..., buffers=[...])`` (no copy)."""
        return self.payload if isinstance(self.payload, bytes) else self.payload.data

    def header(self) -> dict[str, Any]:
        """Geometry and encoding fields of the frame message (see js/src/liveview/protocol.ts)."""
        c = self.crop
        return {
            "encoding": self.encoding,
            "w": int(self.shape[1]),
            "h": int(self.shape[0]),
            "x": c.x0,
            "y": c.y0,
            "rw": c.x1 - c.x0,
            "rh": c.y1 - c.y0,
            "bin": c.k,
            "scale": float(self.scale),
            "offset": float(self.offset),
        }


def encode_view(
    data: np.ndarray, vp: Viewport, encoding: str, jpeg_quality: int = 85
) -> EncodedView:
    """Crop and bin a 2-D frame for viewport ``vp`` and encode it as ``raw16``, ``raw8`` or
    ``jpeg``. Frames that are not uint16 are sent as raw8 when raw16 is asked for. Raises
    ``ValueError`` for frames that are not 2-D."""
    if data.ndim != 2:
        raise ValueError(f"LiveView shows 2-D frames, the source gave shape {data.shape}")
    crop = plan_crop((data.shape[0], data.shape[1]), vp)
    binned = bin_mean(data[crop.y0 : crop.y1, crop.x0 : crop.x1], crop.k)
    scale, offset = 1.0, 0.0
    payload: Any
    if encoding == "jpeg":
        payload, scale, offset = encode_jpeg(binned, jpeg_quality)
    elif encoding == "raw8" or binned.dtype != np.uint16:
        payload, scale, offset = to_uint8(binned)
        encoding = "raw8"
    else:
        payload = binned
    return EncodedView(payload, encoding, crop, (binned.shape[0], binned.shape[1]), scale, offset)
