"""Shared-memory buffers: a frame ring with per-reader cursors and a trace (time series) buffer.

The owner (the engine) creates a ring and is its only writer; any process attaches readers,
each with its own cursor, that are told exactly how many frames they lost when they fell
behind::

    from labkit.buffers import FrameRing, RingReader

    ring = FrameRing.create((2048, 2048), "uint16", n_slots=32)   # owner, e.g. the engine
    with ring.claim() as slot:                                      # zero-copy write
        camera.render_into(slot.array)
        slot.meta.update(exposure_ms=10, z_um=0.0)
    ring.write(frame, exposure_ms=10)                               # or copy a frame in

    reader = RingReader.attach(ring.name, "my-analysis")           # any process
    frame = reader.next(timeout=1.0)        # waits on a futex, no busy-spin
    frame = reader.latest()                 # newest frame, for display
    frames, lost = reader.drain()           # everything since the last call
    reader.frames_lost, ring.stats()        # exact losses, per-reader lag seen by the owner

Frames are copies by default. ``copy=False`` gives a zero-copy view: use it, then check
``frame.is_intact()``; False means the writer overwrote the slot meanwhile. Every slot has a
sequence number (odd while being written), so a torn frame is never returned silently.

Segments are named ``labkit-<pid>-<token>`` after their owner, unlinked by the owner on close
(or at exit), and removed by :func:`sweep_stale_segments` (called by ``create``) when the
owner was killed. See ``docs/internals.md`` for the full contract.
"""

from labkit.buffers._errors import RingError
from labkit.buffers._frame import Frame
from labkit.buffers._reader import RingReader
from labkit.buffers._ring import FrameRing, FrameSlot
from labkit.buffers._shm import sweep_stale_segments
from labkit.buffers._trace import TraceBuffer
from labkit.buffers._trace_reader import TraceReader

__all__ = [
    # frame ring
    "FrameRing",
    "FrameSlot",
    "RingReader",
    "Frame",
    # traces
    "TraceBuffer",
    "TraceReader",
    # housekeeping and errors
    "sweep_stale_segments",
    "RingError",
]
