"""Spooling: record series from the frame ring to disk without ever stalling the camera.

``scope.spool`` is a :class:`SpoolController`; ``start()`` returns a :class:`SpoolHandle`.
Series are OME-Zarr 0.5 (default), HDF5 or BigTIFF, each with an append-only journal so a
crash loses at most one shard. A series holds one camera's frames (``frames_stream``) and, in
zarr and hdf5, any trace streams beside them (``trace_streams``: signals, node outputs) on the
same clock; :func:`open_series` reads any of them lazily and
:func:`repair_series` (``labkit repair``) closes one a crash left open.
"""

from labkit.spool._controller import PREFLIGHT_MODES, SpoolController, SpoolHost
from labkit.spool._errors import (
    SeriesExistsError,
    SpoolError,
    SpoolPreflightError,
    SpoolStreamError,
    SpoolWriteError,
)
from labkit.spool._handle import SpoolHandle, SpoolProgress, SpoolState
from labkit.spool._layout import Layout
from labkit.spool._open import IncompleteSeriesWarning, open_series
from labkit.spool._preflight import PreflightReport
from labkit.spool._repair import repair_series
from labkit.spool._settings import AcquisitionProtocol, Task
from labkit.spool._sinks import DirectFrameSink, FrameSink

__all__ = [
    # controller and handle
    "SpoolController",
    "SpoolHost",
    "SpoolHandle",
    "SpoolProgress",
    "SpoolState",
    "PREFLIGHT_MODES",
    "PreflightReport",
    # protocols
    "AcquisitionProtocol",
    "Task",
    # reading and repair
    "open_series",
    "repair_series",
    "IncompleteSeriesWarning",
    "Layout",
    # spool methods (register_acquisition_type)
    "FrameSink",
    "DirectFrameSink",
    # errors
    "SpoolError",
    "SpoolPreflightError",
    "SeriesExistsError",
    "SpoolStreamError",
    "SpoolWriteError",
]
