"""Where a series goes: the :class:`FrameSink` protocol and the built-in spool methods.

A spool method is a class made as ``cls(path, layout, compressor, fsync)`` whose instances are
frame sinks. The writer thread calls ``begin`` once, ``write_block`` per shard (then the
flusher ``sync`` and ``release`` with the token it returned), and ``finish`` and ``close`` at
the end. A sink that can take uncompressed frames straight from the ring slots (no copy into
a shard buffer) is a :class:`DirectFrameSink` and says when with ``supports_direct()``.
Register your own with ``scope.spool.register_acquisition_type(name, cls)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from labkit.spool._blocks import Block
from labkit.spool._files import Hdf5Sink, TiffSink
from labkit.spool._zarr import ZarrSink

__all__ = ["SINKS", "DirectFrameSink", "FrameSink"]


@runtime_checkable
class FrameSink(Protocol):
    """A series being written: one file or directory at ``path``.

    Every method runs in one of the spool's threads, never on the camera path; an ``OSError``
    from any of them fails the series with ``SpoolWriteError`` (the frames already synced
    stay readable).
    """

    #: file name extension of the series (".ome.zarr", ".h5", ".ome.tif")
    ext: str
    #: where the series goes
    path: Path

    def begin(self, ome: dict[str, Any], labkit_attrs: dict[str, Any]) -> None:
        """Create the series (``FileExistsError`` if it exists: never overwrite)."""

    def location(self, key: tuple[int, ...]) -> str:
        """Where shard ``key`` goes, relative to ``path`` (recorded in the journal)."""
        ...

    def write_block(self, block: Block) -> tuple[int, Any]:
        """Write one shard (page cache is enough); return (bytes written, sync token)."""
        ...

    def sync(self, token: Any, fsync: bool) -> None:
        """Make what ``write_block`` wrote durable (``fsync`` False: no fdatasync)."""

    def release(self, token: Any) -> None:
        """Close what ``token`` holds open (after ``sync``, or when a later sync covered it)."""

    def finish(self, labkit_attrs: dict[str, Any], n_frames: int) -> None:
        """Write the final metadata (frame count, status)."""

    def close(self) -> None:
        """Release every file the sink holds; called once, after ``finish`` or a failure."""


@runtime_checkable
class DirectFrameSink(FrameSink, Protocol):
    """A sink that can write uncompressed frames from the ring slots as they arrive."""

    def supports_direct(self) -> bool:
        """Whether this series (its layout and compression) takes frames one by one."""
        ...

    def open_block(self, block: Block) -> None:
        """Open shard ``block.key`` for ``write_frame`` calls (sets ``block.fd``)."""

    def write_frame(self, block: Block, slot: int, data: np.ndarray) -> None:
        """Write one frame of an open shard at its slot."""

    def discard_block(self, block: Block) -> None:
        """Drop an open shard that will not be finished (the series failed or stopped)."""


SINKS: dict[str, type[FrameSink]] = {"zarr": ZarrSink, "hdf5": Hdf5Sink, "tiff": TiffSink}
