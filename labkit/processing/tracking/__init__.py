"""Bead tracking for magnetic tweezers: x, y and z of beads in ROIs, z from a lookup table.

Pure array code (no engine): the same tracker runs live as a node, on a recorded series and in
Dask tasks. ::

    from labkit.processing.tracking import BeadTracker, ZLUT, ZLUTBuilder, find_beads, track

    rois = find_beads(frame, roi_size=50)                 # bead picking
    zlut = ZLUT.from_stack(scan, scan_z_um, rois)         # focus scan -> z lookup table
    zlut.save("beads.zlut.h5"); zlut = ZLUT.load("beads.zlut.h5")
    with BeadTracker(reference=["bead0"]) as tracker:     # live: prepare once, track per frame
        tracker.prepare(rois, frame.shape, zlut)
        tracker.track(frame).values                       # (beads, 4): x, y px, z µm, quality
    track(series, rois, zlut)                             # offline: xr.DataArray (time, bead, coord)
    lock = LockController(LockSettings(ki=3.0))           # the bead lock's PI loop (pure)

See docs/tracking.md for the algorithm, the file format and measured accuracy and speed.
"""

from labkit.processing.tracking._find import find_beads
from labkit.processing.tracking._lock import LockController, LockSettings, LockState, LockStatus
from labkit.processing.tracking._offline import track
from labkit.processing.tracking._tracker import COORDS, BeadTracker, Quality, TrackResult
from labkit.processing.tracking._zlut import ZLUT, ZLUTBuilder, ZLUTFormatError

__all__ = [
    # tracking
    "BeadTracker",
    "COORDS",
    "Quality",
    "TrackResult",
    "track",
    # z lookup tables
    "ZLUT",
    "ZLUTBuilder",
    "ZLUTFormatError",
    # bead picking
    "find_beads",
    # bead lock
    "LockController",
    "LockSettings",
    "LockState",
    "LockStatus",
]
