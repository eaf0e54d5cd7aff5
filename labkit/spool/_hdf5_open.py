"""Opening a series' HDF5 file while another process holds HDF5's file lock on it.

The writer keeps the file open in SWMR mode while recording, which readers share; but attributes
cannot change under SWMR, so finishing a series reopens the file read-write for a moment, and
HDF5's lock refuses that while a reader has it open, and refuses readers meanwhile. Readers open
the file per read, so both sides wait for a free moment instead of failing: a reader (map_series
following the series, a viewer) for :data:`LOCK_WAIT_S` at most, the writer likewise.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["LOCK_WAIT_S", "LockWaits", "open_hdf5"]

#: how long opening an HDF5 series waits for another process to let go of its lock (seconds)
LOCK_WAIT_S = 30.0
_RETRY_S = 0.02


class LockWaits:
    """How many times opening an HDF5 series found it locked and waited (tests watch it)."""

    count = 0


def open_hdf5(path: str | Path, mode: str, **kwargs: Any) -> Any:
    """``h5py.File(path, mode, **kwargs)``, retried while another process holds the file's lock
    (:data:`LOCK_WAIT_S` at most, then h5py's error); each retry counts in :class:`LockWaits`."""
    import h5py

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            return h5py.File(path, mode, **kwargs)
        except OSError as exc:  # BlockingIOError (errno 11) from HDF5's lock
            if "unable to lock file" not in str(exc) or time.monotonic() > deadline:
                raise
        LockWaits.count += 1
        time.sleep(_RETRY_S)
