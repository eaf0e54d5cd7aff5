"""Shared-memory buffers: a frame ring with per-reader cursors and a trace (time series) buffer.

Segments are named ``labkit_<pid>_<token>`` after their owner, unlinked by the owner on close,
and swept by :func:`sweep_stale_segments` when the owner died. See ``docs/internals.md``.
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
