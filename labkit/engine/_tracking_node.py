"""The bead tracker as a node: x, y, z and quality of every bead of every frame, a trace stream.

::

    scope.nodes.add("bead_tracker", rois=rois, zlut=zlut.to_plain(), reference=["bead0"])
    scope.traces["bead_tracker1"]     # channels bead0_x, bead0_y, bead0_z, bead0_quality, ...

Channels per bead: ``<bead>_x``, ``<bead>_y`` (frame px), ``<bead>_z`` (µm, NaN without a
table), ``<bead>_quality`` (:class:`~labkit.processing.tracking.Quality` bits); with reference
beads, also ``<ref>_x_raw``, ``<ref>_y_raw``, ``<ref>_z_raw`` for each reference bead (its
position before drift subtraction: what a focus lock on a stuck bead reads). The same
:class:`~labkit.processing.tracking.BeadTracker` as offline tracking, in a node thread or a
worker process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.engine._nodes import Node, NodeError, NodeOutput, _frames_input
from labkit.engine._streams import StreamInfo
from labkit.processing import Roi

if TYPE_CHECKING:  # the tracker (numba) is imported when a tracker node is made
    from labkit.processing.tracking import ZLUT

__all__ = ["BeadTrackerNode", "tracker_channels"]

COORDS = ("x", "y", "z", "quality")  # labkit.processing.tracking.COORDS, without importing numba


def tracker_channels(beads: Sequence[str], reference: Sequence[str] = ()) -> tuple[str, ...]:
    """The channels of a tracker node's trace, in order."""
    return (
        *(f"{b}_{c}" for b in beads for c in COORDS),
        *(f"{r}_{c}_raw" for r in reference for c in COORDS[:3]),
    )


class BeadTrackerNode(Node):
    """Tracks beads in ``rois`` (squares of one size) in every frame of its input.

    Parameters: ``rois`` (``[(name, y, x, h, w)]`` or dicts), ``zlut`` (a
    :class:`~labkit.processing.tracking.ZLUT`, its ``to_plain()`` data, or None for x, y only),
    ``reference`` (names of stuck beads whose drift is subtracted), and the tracker's
    ``oversample``, ``iterations``, ``threads``, ``max_offset_px``, ``min_snr``, ``min_match``.
    """

    kind = "bead_tracker"

    def _configure(  # type: ignore[override]
        self,
        rois: list[Any],
        zlut: ZLUT | dict | None = None,
        reference: Sequence[str] = (),
        oversample: int = 4,
        iterations: int = 2,
        threads: int | None = None,
        max_offset_px: float | None = None,
        min_snr: float = 1.0,
        min_match: float = 0.9,
    ) -> None:
        from labkit.processing.tracking import ZLUT, BeadTracker

        self.rois = [Roi.of(r) for r in rois]
        if not self.rois:
            raise ValueError("bead_tracker needs at least one ROI (find_beads(frame) picks them)")
        if zlut is not None and not isinstance(zlut, ZLUT):
            zlut = ZLUT.from_plain(zlut)
        self.zlut = zlut
        self.reference = tuple(reference)
        self.tracker = BeadTracker(
            oversample=oversample, iterations=iterations, threads=threads,
            reference=self.reference, max_offset_px=max_offset_px, min_snr=min_snr,
            min_match=min_match,
        )  # fmt: skip
        names = [r.name for r in self.rois]
        self.channels = tracker_channels(names, self.reference)
        self._ref_rows = np.array([names.index(r) for r in self.reference if r in names], int)

    def _initialize(self, input: StreamInfo) -> NodeOutput:
        _frames_input(self, input)
        if len(input.shape) != 2:
            raise NodeError(f"bead_tracker reads 2-D frames; {input.name!r} has {input.shape}")
        try:
            self.tracker.prepare(self.rois, input.shape, self.zlut, dtype=input.dtype)
        except ValueError as exc:
            raise NodeError(f"bead_tracker cannot track {input.name!r}: {exc}") from None
        return NodeOutput("trace", channels=self.channels, rate_hz=input.rate_hz)

    def process(self, data: np.ndarray, meta: dict[str, Any]) -> dict[str, float]:
        result = self.tracker.track(data)
        row = result.values.ravel().tolist()
        if self._ref_rows.size:
            row += result.raw[self._ref_rows].ravel().tolist()
        return dict(zip(self.channels, row, strict=True))

    def close(self) -> None:
        self.tracker.close()
        super().close()
