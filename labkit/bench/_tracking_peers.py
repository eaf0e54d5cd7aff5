"""The trackers ``labkit bench tracking`` measures labkit's beside, on the same frames.

- :class:`NumpyReference`: the obvious implementation a scientist would write — per bead, crop,
  centre of mass of ``|I − median|``, radial profile in 1 px bins (``np.bincount`` of rounded
  radii), z = the table plane with the least squared difference.
- :class:`Magtrack`: MagScope 1.0's CPU tracker, ``magtrack.stack_to_xyzp_advanced`` with its
  defaults (COM, auto-convolution, five multi-line sub-pixel refinements, 1 px radial profile,
  Pearson match + 7-point parabola), fed ``crop_stack_to_rois`` crops of (y, x, frames) stacks
  as MagScope does. Only when ``magtrack`` is installed (``pip install 'labkit[bench]'``).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.processing import Roi

__all__ = ["Magtrack", "NumpyReference", "magtrack_available"]


def _normalised(profiles: np.ndarray) -> np.ndarray:
    centred = profiles - profiles.mean(axis=-1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=-1, keepdims=True)


class NumpyReference:
    """Plain numpy, one bead at a time: COM, integer-radius profile, nearest table plane."""

    def __init__(self, rois: Sequence[Roi]) -> None:
        self.rois = list(rois)
        size = self.rois[0].h
        rows, cols = np.indices((size, size), dtype=np.float64)
        self._rows, self._cols = rows, cols
        self.n_bins = size // 2
        self.table: np.ndarray | None = None  # (beads, planes, bins), normalised
        self.table_z: np.ndarray | None = None

    def _bead(self, frame: np.ndarray, roi: Roi) -> tuple[float, float, np.ndarray]:
        crop = frame[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w].astype(np.float64)
        weight = np.abs(crop - np.median(crop))
        total = weight.sum()
        cy, cx = (self._rows * weight).sum() / total, (self._cols * weight).sum() / total
        radius = np.rint(np.hypot(self._rows - cy, self._cols - cx)).astype(np.int64).ravel()
        sums = np.bincount(radius, crop.ravel(), minlength=self.n_bins)[: self.n_bins]
        counts = np.bincount(radius, minlength=self.n_bins)[: self.n_bins]
        return roi.x + cx, roi.y + cy, sums / np.maximum(counts, 1)

    def profiles(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((beads, 2) x, y in frame px; (beads, bins) normalised radial profiles)."""
        xy = np.empty((len(self.rois), 2))
        profiles = np.empty((len(self.rois), self.n_bins))
        for i, roi in enumerate(self.rois):
            x, y, profile = self._bead(frame, roi)
            xy[i] = x, y
            profiles[i] = profile
        return xy, _normalised(profiles)

    def set_table(self, z_um: np.ndarray, mean_profiles: np.ndarray) -> None:
        """``mean_profiles`` (beads, planes, bins): the scan's profiles averaged per plane."""
        self.table_z, self.table = np.asarray(z_um), _normalised(mean_profiles)

    def track(self, frame: np.ndarray) -> np.ndarray:
        """(beads, 3): x, y (px), z (µm; NaN without a table)."""
        xy, profiles = self.profiles(frame)
        z = np.full(len(self.rois), np.nan)
        if self.table is not None and self.table_z is not None:
            for i in range(len(self.rois)):
                errors = ((self.table[i] - profiles[i]) ** 2).sum(axis=-1)
                z[i] = self.table_z[int(np.argmin(errors))]
        return np.column_stack([xy, z])


def magtrack_available() -> bool:
    """True when the ``magtrack`` package can be imported."""
    return importlib.util.find_spec("magtrack") is not None


def _import_magtrack() -> Any:
    """magtrack, imported without its side effects: it warns that CuPy is absent and sets numpy's
    global error state to ignore divisions (restored here)."""
    saved = np.geterr()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import magtrack
    finally:
        np.seterr(**saved)
    return magtrack


class Magtrack:
    """MagScope's tracker on labkit's ROIs: frames batched into (y, x, frames) stacks."""

    def __init__(self, rois: Sequence[Roi]) -> None:
        self.mt = _import_magtrack()
        self.rois = list(rois)
        self.bounds = np.array([(r.y, r.y + r.h, r.x, r.x + r.w) for r in self.rois], np.int64)
        self.origin = np.array([(r.x, r.y) for r in self.rois], np.float64)
        self.tables: list[np.ndarray] | None = None  # per bead: (1 + bins, planes)

    def crop(self, stack_yxn: np.ndarray) -> np.ndarray:
        """(size, size, frames × beads) float crops of a (y, x, frames) stack, frame-major."""
        crops = self.mt.crop_stack_to_rois(stack_yxn, self.bounds)  # (size, size, frames, beads)
        size = crops.shape[0]
        return crops.reshape(size, size, -1)

    def run(self, crops: np.ndarray, zlut: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """``stack_to_xyzp_advanced`` on crops: (x, y, z, profiles) in ROI coordinates."""
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            return self.mt.stack_to_xyzp_advanced(crops, zlut)

    def track_stack(self, stack_yxn: np.ndarray, zlut: np.ndarray | None) -> np.ndarray:
        """(frames, beads, 3) x, y (frame px), z (µm) with one shared table (as MagScope calls it)."""
        x, y, z, _ = self.run(self.crop(stack_yxn), zlut)
        n = len(self.rois)
        xyz = np.stack([x, y, z], axis=-1).reshape(-1, n, 3)
        xyz[..., :2] += self.origin
        return xyz

    def profiles(self, frame: np.ndarray) -> np.ndarray:
        """(beads, bins) magtrack radial profiles of one frame (for building tables)."""
        _, _, _, profiles = self.run(self.crop(frame[:, :, None]), None)
        return profiles.T

    def set_tables(self, z_um: np.ndarray, mean_profiles: np.ndarray) -> None:
        """Per-bead tables (magtrack's layout: z in the first row) from (beads, planes, bins)."""
        self.tables = [np.vstack([z_um, p.T]) for p in mean_profiles]

    def track_per_bead(self, frame: np.ndarray) -> np.ndarray:
        """(beads, 3) with each bead matched against its own table (for accuracy figures)."""
        assert self.tables is not None, "call set_tables() first"
        x, y, _, profiles = self.run(self.crop(frame[:, :, None]), None)
        z = np.empty(len(self.rois))
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            for i, table in enumerate(self.tables):
                z[i] = self.mt.lookup_z(profiles[:, i : i + 1], table)[0]
        return np.column_stack([x + self.origin[:, 0], y + self.origin[:, 1], z])
