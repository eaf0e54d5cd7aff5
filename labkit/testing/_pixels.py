"""What a browser painted: element screenshots as RGB arrays (for pixel assertions in tests)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["block_gray", "png_rgb", "screenshot_rgb"]


def png_rgb(png: bytes) -> np.ndarray:
    """A PNG as an (h, w, 3) uint8 array (alpha dropped)."""
    import imagecodecs

    image = np.asarray(imagecodecs.png_decode(png))
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def screenshot_rgb(locator: Any) -> np.ndarray:
    """What the page shows in ``locator``'s box (everything painted over it included), as an
    (h, w, 3) uint8 array in device pixels."""
    return png_rgb(locator.screenshot())


def block_gray(rgb: np.ndarray, n: int = 8) -> np.ndarray:
    """Mean gray (0..255) of an ``n`` x ``n`` grid of blocks over an RGB image."""
    gray = rgb.astype(np.float64).mean(axis=2)
    h, w = gray.shape
    rows = np.array_split(np.arange(h), n)
    cols = np.array_split(np.arange(w), n)
    return np.array([[gray[np.ix_(r, c)].mean() for c in cols] for r in rows])
