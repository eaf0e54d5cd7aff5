"""Fast building blocks of the simulated camera: noise banks and cached PSF stamps.

Rendering a 2048×2048 frame at ≥ 100 fps on one core leaves ~8 ms per frame, so nothing
full-size is computed per frame:

- :class:`NoiseBank` holds one long 1-D array of ready-made background frames (offset +
  background + shot and read noise, already in ADU and the output dtype). A frame is a random
  contiguous window of it, copied with one ``np.copyto`` (memcpy speed). The bank is rebuilt
  from cached unit normals (float32) only when exposure, gain, bit depth or shape change.
- :class:`StampCache` holds Gaussian PSF stamps integrated over pixels, per width level
  (sigma quantised in 4% steps) and 4×4 sub-pixel offsets; beads are drawn only in these
  small patches.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

__all__ = ["NoiseBank", "StampCache", "SUBPIXEL"]

SUBPIXEL = 4  # sub-pixel positions per axis for PSF stamps
_SIGMA_MIN_PX = 0.2
_SIGMA_STEP = 1.04
MAX_HALF_WIDTH_PX = 24


class NoiseBank:
    """Background frames (offset + background + noise) as windows into one long array.

    Args:
        seed: seeds the unit normals (same seed and shape → same bank).
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._unit: np.ndarray | None = None  # float32 standard normals, len n_pixels + extra
        self._unit_len = -1
        self._bank: np.ndarray | None = None
        self._key: tuple | None = None
        self.n_pixels = 0
        self.extra = 0

    def _ensure_unit(self, n_pixels: int) -> np.ndarray:
        extra = max(65_536, n_pixels // 4)
        if self._unit is None or self._unit_len != n_pixels:
            rng = np.random.default_rng([self._seed, 3, n_pixels])
            self._unit = rng.standard_normal(n_pixels + extra, dtype=np.float32)
            self._unit_len = n_pixels
            self.n_pixels, self.extra = n_pixels, extra
        return self._unit

    def prepare(
        self, shape: tuple[int, int], dtype: np.dtype, mean_adu: float, std_adu: float, max_adu: int
    ) -> None:
        """Make sure the bank holds frames of ``shape``/``dtype`` with this mean and spread (ADU)."""
        key = (shape, np.dtype(dtype).str, round(mean_adu, 6), round(std_adu, 6), max_adu)
        if key == self._key:
            return
        n_pixels = shape[0] * shape[1]
        unit = self._ensure_unit(n_pixels)
        tmp = np.multiply(unit, np.float32(std_adu))
        np.add(tmp, np.float32(mean_adu + 0.5), out=tmp)  # +0.5: round when truncating below
        np.clip(tmp, 0, max_adu, out=tmp)
        self._bank = tmp.astype(dtype)
        self._key = key

    def fill(self, out: np.ndarray, rng: np.random.Generator) -> None:
        """Copy a random window of the bank into ``out`` (shape and dtype as prepared)."""
        assert self._bank is not None, "call prepare() first"
        offset = int(rng.integers(0, self.extra + 1))
        window = self._bank[offset : offset + self.n_pixels].reshape(out.shape)
        np.copyto(out, window)


def _profile(sigma_px: float, half_width: int) -> np.ndarray:
    """(SUBPIXEL, 2*half_width+1) pixel-integrated 1-D Gaussian profiles (each sums to ≤ 1)."""
    scale = 1.0 / (sigma_px * math.sqrt(2.0))
    out = np.empty((SUBPIXEL, 2 * half_width + 1), dtype=np.float64)
    for q in range(SUBPIXEL):
        centre = (q + 0.5) / SUBPIXEL  # bead position inside its pixel [0, 1)
        edges = [math.erf((a - half_width - centre) * scale) for a in range(2 * half_width + 2)]
        out[q] = 0.5 * np.diff(edges)
    return out


class StampCache:
    """Pixel-integrated Gaussian PSF stamps, per quantised width, LRU-limited."""

    def __init__(self, max_levels: int = 96) -> None:
        self._cache: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()
        self._max = max_levels

    @staticmethod
    def level(sigma_px: np.ndarray) -> np.ndarray:
        """Quantised width index of each sigma (px)."""
        ratio = np.maximum(sigma_px, _SIGMA_MIN_PX) / _SIGMA_MIN_PX
        return np.rint(np.log(ratio) / math.log(_SIGMA_STEP)).astype(np.int64)

    def get(self, level: int) -> tuple[int, np.ndarray]:
        """``(half_width, stamps)`` with stamps of shape (SUBPIXEL, SUBPIXEL, S, S), float32."""
        hit = self._cache.get(level)
        if hit is not None:
            self._cache.move_to_end(level)
            return hit
        sigma = _SIGMA_MIN_PX * _SIGMA_STEP**level
        half = int(min(MAX_HALF_WIDTH_PX, max(2, math.ceil(3.0 * sigma))))
        prof = _profile(sigma, half)
        stamps = (prof[:, None, :, None] * prof[None, :, None, :]).astype(np.float32)
        self._cache[level] = (half, stamps)
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return half, stamps
