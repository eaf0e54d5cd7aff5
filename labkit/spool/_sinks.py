"""The built-in spool methods (``SpoolController.available_spool_methods``)."""

from __future__ import annotations

from typing import Any

from labkit.spool._files import Hdf5Sink, TiffSink
from labkit.spool._zarr import ZarrSink

SINKS: dict[str, Any] = {"zarr": ZarrSink, "hdf5": Hdf5Sink, "tiff": TiffSink}
