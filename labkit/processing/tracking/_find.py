"""``find_beads``: pick beads in a frame automatically, as square ROIs centred on them."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from labkit.processing._stats import Roi
from labkit.processing.tracking._tracker import BeadTracker, Quality

__all__ = ["find_beads"]


def _contrast_map(frame: np.ndarray, scale: int) -> np.ndarray:
    """Local mean of |frame − median| over ``scale`` px: high where rings or spots are."""
    f = frame.astype(np.float32)
    f -= np.float32(np.median(f))
    np.abs(f, out=f)
    return ndimage.uniform_filter(f, size=scale, mode="nearest")


def find_beads(
    frame: Any,
    roi_size: int = 50,
    *,
    max_beads: int | None = None,
    threshold: float = 8.0,
    prefix: str = "bead",
    **tracker_options: Any,
) -> list[Roi]:
    """Find beads in ``frame`` and return a square ROI of ``roi_size`` px centred on each.

    Works for bright-field ring patterns and for fluorescent spots: beads are peaks of the local
    contrast (mean |frame − median| over a quarter ROI) that stand ``threshold`` robust standard
    deviations above the contrast of the background, at least one ROI apart. Each candidate is
    then tracked once (:class:`BeadTracker`) and its ROI centred on the tracked position; beads
    closer to each other than 0.7 ROI (two in one ROI would spoil both), too close to the frame
    edge for a whole ROI, or not trackable, are left out.

    Args:
        frame: a 2-D frame (array or DataArray).
        roi_size: side of the ROIs (px); 50 suits 1 µm beads at 0.1 µm/px.
        max_beads: keep the strongest this many (default: all).
        threshold: detection threshold in robust standard deviations of the background contrast.
        prefix: ROI names are ``prefix0``, ``prefix1``… in reading order (top to bottom).
        **tracker_options: for the :class:`BeadTracker` that refines the centres.

    Raises:
        ValueError: a frame that is not 2-D or smaller than one ROI.
    """
    frame = np.asarray(frame)
    if frame.ndim != 2 or min(frame.shape) < roi_size:
        raise ValueError(
            f"find_beads needs a 2-D frame of at least {roi_size}² px, got {frame.shape}"
        )
    contrast = _contrast_map(frame, max(3, roi_size // 4))
    level = np.median(contrast)
    spread = 1.4826 * np.median(np.abs(contrast - level)) or 1e-9
    peaks = (contrast == ndimage.maximum_filter(contrast, size=roi_size, mode="nearest")) & (
        contrast > level + threshold * spread
    )
    ys, xs = np.nonzero(peaks)
    strength = contrast[ys, xs]
    centres = np.stack([ys, xs], axis=1).astype(np.float64)
    centres, strength = _isolated(centres, strength, 0.7 * roi_size)
    centres, strength = _refine(frame, centres, strength, roi_size, tracker_options)
    if max_beads is not None and len(centres) > max_beads:
        centres = centres[np.argsort(-strength)[:max_beads]]
    order = np.lexsort((centres[:, 1], centres[:, 0]))
    return [
        Roi(f"{prefix}{i}", *_origin(centres[j], roi_size), roi_size, roi_size)
        for i, j in enumerate(order)
    ]


def _origin(centre: np.ndarray, roi_size: int) -> tuple[int, int]:
    """Top-left (y, x) of the ROI that puts ``centre`` (pixel centres at integers) in its middle."""
    top_left = np.rint(centre - (roi_size - 1) / 2.0).astype(int)
    return int(top_left[0]), int(top_left[1])


def _isolated(
    centres: np.ndarray, strength: np.ndarray, min_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """One candidate per peak (a flat top gives several: the strongest stays), then drop every
    candidate that has another one closer than ``min_distance``."""
    order = np.argsort(-strength, kind="stable")
    kept: list[int] = []
    for i in order:
        if all(np.sum((centres[i] - centres[j]) ** 2) > (min_distance / 3) ** 2 for j in kept):
            kept.append(int(i))
    centres, strength = centres[kept], strength[kept]
    if len(centres) < 2:
        return centres, strength
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d2, np.inf)
    alone = d2.min(axis=1) >= min_distance**2
    return centres[alone], strength[alone]


def _inside(centres: np.ndarray, roi_size: int, shape: tuple[int, ...]) -> np.ndarray:
    origins = np.array([_origin(c, roi_size) for c in centres]).reshape(-1, 2)
    limit = np.array(shape) - roi_size
    return np.all((origins >= 0) & (origins <= limit), axis=1)


def _refine(
    frame: np.ndarray,
    centres: np.ndarray,
    strength: np.ndarray,
    roi_size: int,
    tracker_options: dict,
) -> tuple[np.ndarray, np.ndarray]:
    """(centres, strengths) tracked from ROIs around the candidates; untrackable ones dropped."""
    inside = _inside(centres, roi_size, frame.shape)
    centres, strength = centres[inside], strength[inside]
    if not len(centres):
        return centres, strength
    rois = [Roi(f"c{i}", *_origin(c, roi_size), roi_size, roi_size) for i, c in enumerate(centres)]
    with BeadTracker(**tracker_options) as tracker:
        tracker.prepare(rois, frame.shape, None, dtype=frame.dtype)
        values = tracker.track(frame).values.copy()
    bad = (values[:, 3].astype(np.int64) & (Quality.MISSING | Quality.OFF_CENTRE)) != 0
    tracked, strength = values[~bad][:, [1, 0]], strength[~bad]  # (y, x)
    inside = _inside(tracked, roi_size, frame.shape)
    return tracked[inside], strength[inside]
