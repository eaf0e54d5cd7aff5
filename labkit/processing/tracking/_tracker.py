"""BeadTracker: x, y and z of many beads per frame, prepared once, allocation-free per frame.

::

    tracker = BeadTracker(reference=["bead0"])
    tracker.prepare(rois, frame.shape, zlut)     # tables, scratch, threads; compiles on first use
    result = tracker.track(frame)                # result.values: (n_beads, 4) x, y, z, quality
    tracker.close()

The same object serves a live node (one frame at a time), :func:`~labkit.processing.tracking.track`
on a recorded series and the z lookup table builder.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from labkit.processing._stats import Roi
from labkit.processing.tracking import _kernels as k

if TYPE_CHECKING:
    from labkit.processing.tracking._zlut import ZLUT

__all__ = ["COORDS", "BeadTracker", "Quality", "TrackResult", "profile_geometry"]

#: the columns of :attr:`TrackResult.values` (and of the ``coord`` axis of :func:`track`)
COORDS = ("x", "y", "z", "quality")


class Quality(enum.IntFlag):
    """Bits of the per-bead ``quality`` value; 0 means the bead was tracked without a doubt.

    - ``MISSING``: no bead in the ROI (the radial profile is below ``min_snr`` times the pixel
      noise); x, y and z are NaN.
    - ``OFF_CENTRE``: the bead is more than ``max_offset_px`` from its ROI centre (it is leaving
      the ROI); x, y are clamped there. Move or re-pick the ROI.
    - ``Z_RANGE``: the profile matched the first or last plane of the z table: z is at or past
      the table's end. Move the focus or record a longer table.
    - ``POOR_MATCH``: the best plane matches with a weighted correlation below ``min_match``
      (a different bead, another bead in the ROI, or a table recorded with other optics).
    """

    OK = 0
    MISSING = k.FLAG_MISSING
    OFF_CENTRE = k.FLAG_OFF_CENTRE
    Z_RANGE = k.FLAG_Z_RANGE
    POOR_MATCH = k.FLAG_POOR_MATCH


def profile_geometry(roi_size: int, oversample: int) -> tuple[np.ndarray, np.ndarray]:
    """``(radius_px, weights)`` of the radial profile bins for square ROIs of ``roi_size`` px.

    Bins reach the inscribed circle (radius ``roi_size // 2 - 1``) in steps of ``1 / oversample``
    px; the weights are the annulus areas, so matching weighs each pixel equally.
    """
    n_bins = (roi_size // 2 - 1) * oversample
    radius = np.arange(n_bins, dtype=np.float64) / oversample
    weights = 2.0 * np.pi * np.maximum(radius, 0.25 / oversample) / oversample
    return radius, weights.astype(np.float32)


@dataclass(frozen=True)
class TrackResult:
    """Arrays of one tracked frame, owned by the tracker and overwritten by its next ``track``.

    Copy what you keep. ``values[:, :3]`` are referenced to the reference beads when the tracker
    has some (see :class:`BeadTracker`), ``raw`` never is.
    """

    values: np.ndarray  # (n_beads, 4) x px, y px, z µm, quality bits (as float)
    raw: np.ndarray  # (n_beads, 3) x, y, z before reference subtraction
    snr: np.ndarray  # (n_beads,) profile amplitude / pixel noise
    match: np.ndarray  # (n_beads,) weighted correlation with the best table plane (NaN: no table)
    profiles: np.ndarray  # (n_beads, n_bins) normalised radial profiles


class BeadTracker:
    """Tracks beads in square ROIs of one size: x, y in frame pixels (pixel centres at integers),
    z in the z table's units (µm), a :class:`Quality` value per bead.

    Args:
        oversample: radial profile bins per pixel. Measured on the ring beads: 2 and 4 give the
            same accuracy (x/y 0.008 px, z 2.5 nm RMS); 8 leaves the bins near the centre
            almost empty and loses x/y accuracy (0.012 px). 4 also suits sharper patterns.
        iterations: Gauss–Newton refinements of the centre after the coarse estimate (1, 2 and
            3 measured equal on still beads; 2 leaves a margin for beads that moved).
        threads: threads that track bead ranges in parallel (default: 2, or 1 on one core).
            Frames with fewer than 8 beads use one.
        reference: names of reference (stuck) beads: their mean displacement since the first
            frame where all of them were good is subtracted from every bead's x, y and z.
        max_offset_px: centre offset from the ROI centre beyond which ``OFF_CENTRE`` is set
            (default: a quarter of the ROI).
        min_snr: below this profile amplitude / pixel noise a bead is ``MISSING``.
        min_match: below this weighted correlation with the best table plane, ``POOR_MATCH``.

    Raises:
        ValueError: a setting out of range (the message names it).
    """

    def __init__(
        self,
        *,
        oversample: int = 4,
        iterations: int = 2,
        threads: int | None = None,
        reference: Sequence[str] = (),
        max_offset_px: float | None = None,
        min_snr: float = 1.0,
        min_match: float = 0.9,
    ) -> None:
        if not 1 <= int(oversample) <= 8:
            raise ValueError(f"oversample must be 1…8 bins per pixel, got {oversample}")
        if not 1 <= int(iterations) <= 20:
            raise ValueError(f"iterations must be 1…20, got {iterations}")
        cores = os.cpu_count() or 1
        self.threads = min(2, cores) if threads is None else int(threads)
        if self.threads < 1:
            raise ValueError(f"threads must be ≥ 1, got {threads}")
        self.oversample = int(oversample)
        self.iterations = int(iterations)
        self.reference = tuple(reference)
        self.max_offset_px = max_offset_px
        self.min_snr = float(min_snr)
        self.min_match = float(min_match)
        self.rois: tuple[Roi, ...] = ()
        self.zlut: ZLUT | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._prepared = False

    # ------------------------------------------------------------------ setup
    def prepare(
        self,
        rois: Sequence[Roi | dict | Sequence],
        frame_shape: tuple[int, ...],
        zlut: ZLUT | None = None,
        dtype: np.dtype | str = "uint16",
    ) -> None:
        """Allocate everything :meth:`track` needs for these ROIs and frames, and compile (or
        load the compiled) kernels for frames of ``dtype`` by tracking a blank frame.

        Raises:
            ValueError: no ROIs, ROIs of different or non-square sizes, smaller than 8 px, outside
                the frame, or duplicate names; a table made for another ROI size or binning, or
                missing some of the beads; reference names that are not ROIs.
        """
        boxes = tuple(Roi.of(r) for r in rois)
        if not boxes:
            raise ValueError("give at least one ROI (find_beads(frame) picks them)")
        size = boxes[0].h
        bad = [r.name for r in boxes if r.h != size or r.w != size]
        if bad:
            raise ValueError(
                f"all ROIs must be squares of one size ({size}×{size} px, from {boxes[0].name!r}); "
                f"{', '.join(bad)} differ: a z table's profiles depend on the ROI size"
            )
        if size < 8:
            raise ValueError(f"ROIs of {size} px are too small to track: use 8 px or more")
        names = [r.name for r in boxes]
        if len(set(names)) != len(names):
            raise ValueError(f"ROI names must be unique, got {names}")
        for r in boxes:
            r.check(tuple(frame_shape))
        missing = [name for name in self.reference if name not in names]
        if missing:
            raise ValueError(f"reference beads {missing} are not among the ROIs {names}")
        self.close()
        n = len(boxes)
        self.rois, self.zlut, self.frame_shape = boxes, zlut, tuple(frame_shape[-2:])
        self.roi_size = size
        self._radius, self._weights = profile_geometry(size, self.oversample)
        n_bins = self._radius.size
        self._tops = np.array([r.y for r in boxes], dtype=np.int64)
        self._lefts = np.array([r.x for r in boxes], dtype=np.int64)
        self._tables, self._table_of, self._table_z = self._tables_for(zlut, names, n_bins)
        self._window = max(3.0, size / 8.0)  # the coarse symmetry search, around the COM
        self._max_offset = size / 4.0 if self.max_offset_px is None else float(self.max_offset_px)
        self._out = np.full((n, 6), np.nan)
        self._profiles = np.zeros((n, n_bins), np.float32)
        self._values = np.full((n, 4), np.nan)
        self._ref_index = np.array([names.index(r) for r in self.reference], dtype=np.int64)
        self._ref_origin: np.ndarray | None = None
        n_threads = self.threads if n >= 8 else 1
        bounds = np.linspace(0, n, n_threads + 1).round().astype(int)
        self._chunks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self._scratch = [self._new_scratch(size, n_bins) for _ in self._chunks]
        if len(self._chunks) > 1:
            self._pool = ThreadPoolExecutor(
                len(self._chunks) - 1, thread_name_prefix="bead-tracker"
            )
        self._prepared = True
        blank = np.zeros(self.frame_shape, dtype=np.dtype(dtype))
        self._run(blank)  # compile or load the kernels now, not on the first real frame

    def _new_scratch(self, size: int, n_bins: int) -> tuple[np.ndarray, ...]:
        f32 = np.float32
        planes = max(1, self._table_z.size)
        return (
            np.zeros((size, size), f32),  # roi
            np.zeros(size, f32),  # column projection
            np.zeros(size, f32),  # row projection
            np.zeros(n_bins, f32),  # profile a
            np.zeros(n_bins, f32),  # profile b
            np.zeros(n_bins, f32),  # bin weights
            np.zeros((4, n_bins), f32),  # split histograms
            np.zeros(n_bins, f32),  # profile slope
            np.zeros(planes),  # squared errors per plane
            np.zeros(3),  # step
            np.zeros((4, size), f32),  # per-row radii, weights, bins, offsets
        )

    def _tables_for(
        self, zlut: ZLUT | None, names: list[str], n_bins: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if zlut is None:
            return np.zeros((1, 1, n_bins), np.float32), np.full(len(names), -1), np.zeros(1)
        zlut.check_geometry(self.roi_size, self.oversample)
        return zlut.profiles, zlut.rows_for(names), zlut.z_um

    # ------------------------------------------------------------------ per frame
    def track(self, frame: np.ndarray) -> TrackResult:
        """Track every bead in ``frame`` (2-D, any integer or float dtype; read, not kept).

        Returns arrays owned by the tracker (overwritten by the next call).

        Raises:
            RuntimeError: :meth:`prepare` was not called (or the tracker was closed).
            ValueError: the frame's shape is not the prepared one.
        """
        if not self._prepared:
            raise RuntimeError("call BeadTracker.prepare(rois, frame_shape, zlut) before track()")
        if frame.shape != self.frame_shape:
            raise ValueError(
                f"frame has shape {frame.shape}, the tracker was prepared for {self.frame_shape}; "
                f"call prepare() again after changing the camera ROI or binning"
            )
        self._run(frame)
        out, values = self._out, self._values
        values[:, :4] = out[:, :4]
        if self._ref_index.size:
            self._subtract_reference(values)
        return TrackResult(values, out[:, :3], out[:, 4], out[:, 5], self._profiles)

    def _run(self, frame: np.ndarray) -> None:
        futures = [
            self._pool.submit(self._kernel, frame, chunk, scratch)
            for chunk, scratch in zip(self._chunks[:-1], self._scratch[:-1], strict=True)
        ] if self._pool is not None else []  # fmt: skip
        self._kernel(frame, self._chunks[-1], self._scratch[-1])
        for future in futures:
            future.result()

    def _kernel(self, frame: np.ndarray, chunk: tuple[int, int], scratch: tuple) -> None:
        k.track_range(
            frame, self._tops, self._lefts, chunk[0], chunk[1],
            self.oversample, self.iterations, self._window, self._max_offset,
            self.min_snr, self.min_match,
            self._tables, self._table_of, self._table_z, self._weights,
            self._out, self._profiles, *scratch,
        )  # fmt: skip

    def _subtract_reference(self, values: np.ndarray) -> None:
        refs = self._out[self._ref_index]
        good = refs[:, 3] == 0
        if self._ref_origin is None:
            if not good.all():
                values[:, :3] = np.nan  # no origin yet: nothing to reference to
                return
            self._ref_origin = refs[:, :3].copy()
        if not good.any():
            values[:, :3] = np.nan
            return
        shift = np.mean(refs[good, :3] - self._ref_origin[good], axis=0)  # z NaN without a table
        values[:, :3] -= shift

    def reset_reference(self) -> None:
        """Take the reference beads' next good positions as the new origin of drift."""
        self._ref_origin = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def n_bins(self) -> int:
        """Bins of the radial profiles (after :meth:`prepare`)."""
        return int(self._radius.size)

    @property
    def radius_px(self) -> np.ndarray:
        """Radius (px) of each profile bin (after :meth:`prepare`)."""
        return self._radius

    def close(self) -> None:
        """Stop the tracker's threads (it can be prepared again)."""
        self._prepared = False
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> BeadTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
