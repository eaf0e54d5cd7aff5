"""Trace streams on disk, beside the frames of a series: ``time`` (n,) and ``values`` (n, channels).

OME-Zarr: ``traces/<stream>/time`` and ``traces/<stream>/values``, plain Zarr v3 arrays (float64,
uncompressed, ``CHUNK_ROWS`` rows per chunk) in the series' group, channel names and units in the
``traces/<stream>`` group's attributes. Each chunk file is written whole through a temp file and
a rename (the last, partial one again at every flush), so a crash leaves complete chunk files
only; the journal says how many rows are on disk, the array shape is set when the series closes
(or by ``labkit repair``). HDF5: datasets ``/traces/<stream>/time`` and ``/values`` in the same
file, created before SWMR starts and grown as rows arrive.

Times are the engine's timestamps (``time.time()`` seconds), the clock the frames' ``timestamp_s``
use, so traces and frames align without any conversion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from labkit.spool._hdf5_open import open_hdf5
from labkit.spool._io import jsonable, write_file_atomic, write_json_atomic
from labkit.spool._streams import TraceSpec

__all__ = [
    "CHUNK_ROWS",
    "Hdf5TraceWriter",
    "TraceWriter",
    "ZarrTraceWriter",
    "read_hdf5_trace",
    "read_zarr_trace",
    "set_zarr_trace_rows",
]

CHUNK_ROWS = 4096
TIME_ATTRS = {"units": "s", "clock": "time.time() (the frames' timestamp_s clock)"}


class TraceWriter(Protocol):
    """Appends the rows of one trace stream (one thread at a time)."""

    rows: int

    def append(self, t: np.ndarray, v: np.ndarray) -> None: ...
    def flush(self) -> int: ...
    def truncate(self, n: int) -> None: ...
    def finish(self) -> None: ...


def _array_json(shape: list[int], chunk: list[int], dims: list[str], attrs: dict) -> dict:
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": "float64",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": "NaN",
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "dimension_names": dims,
        "attributes": attrs,
    }


def _group_json(attrs: dict) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": jsonable(attrs)}


def set_zarr_trace_rows(root: Path, spec: TraceSpec, n: int, fsync: bool = True) -> None:
    """Write the array metadata of trace ``spec`` for ``n`` rows (at close, or by repair)."""
    d = Path(root) / "traces" / spec.stream
    c = len(spec.channels)
    write_json_atomic(
        d / "time" / "zarr.json", _array_json([n], [CHUNK_ROWS], ["time"], TIME_ATTRS), fsync
    )
    values = _array_json([n, c], [CHUNK_ROWS, c], ["time", "channel"], {"channels": list(spec.channels), "units": spec.units})  # fmt: skip
    write_json_atomic(d / "values" / "zarr.json", values, fsync)


class ZarrTraceWriter:
    """One trace stream as Zarr v3 arrays under ``<series>/traces/<stream>/``."""

    def __init__(self, root: Path, spec: TraceSpec, fsync: bool = True) -> None:
        self.root = Path(root)
        self.dir = self.root / "traces" / spec.stream
        self.spec = spec
        self.fsync = fsync
        self.rows = 0
        self._chunk = 0  # the chunk the buffers hold
        self._t = np.full(CHUNK_ROWS, np.nan)
        self._v = np.full((CHUNK_ROWS, len(spec.channels)), np.nan)
        self._dirty = False
        groups = self.root / "traces"
        if not (groups / "zarr.json").exists():
            groups.mkdir(exist_ok=True)
            write_json_atomic(groups / "zarr.json", _group_json({}), fsync)
        (self.dir / "time" / "c").mkdir(parents=True)
        (self.dir / "values" / "c").mkdir(parents=True)
        write_json_atomic(self.dir / "zarr.json", _group_json(spec.to_json()), fsync)
        set_zarr_trace_rows(self.root, spec, 0, fsync)

    def _paths(self, k: int) -> tuple[Path, Path]:
        return self.dir / "time" / "c" / str(k), self.dir / "values" / "c" / str(k) / "0"

    def _write_chunk(self, k: int) -> None:
        pt, pv = self._paths(k)
        pv.parent.mkdir(exist_ok=True)
        write_file_atomic(pt, [self._t], self.fsync)
        write_file_atomic(pv, [self._v], self.fsync)

    def append(self, t: np.ndarray, v: np.ndarray) -> None:
        """Rows into the current chunk; a chunk that fills is written (and synced) at once."""
        i, n = 0, len(t)
        while i < n:
            k, off = divmod(self.rows, CHUNK_ROWS)
            if k != self._chunk:
                self._t.fill(np.nan)
                self._v.fill(np.nan)
                self._chunk = k
            take = min(CHUNK_ROWS - off, n - i)
            self._t[off : off + take] = t[i : i + take]
            self._v[off : off + take] = v[i : i + take]
            self.rows += take
            i += take
            self._dirty = off + take < CHUNK_ROWS
            if not self._dirty:
                self._write_chunk(k)

    def flush(self) -> int:
        """The partial chunk to disk (synced when the series syncs); returns the rows on disk."""
        if self._dirty:
            self._write_chunk(self._chunk)
            self._dirty = False
        return self.rows

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows (rows past the series' end arrived while it closed)."""
        if n >= self.rows:
            return
        last = (n - 1) // CHUNK_ROWS if n else -1
        for k in range(last + 1, (self.rows - 1) // CHUNK_ROWS + 1):
            for p in self._paths(k):
                p.unlink(missing_ok=True)
        if n % CHUNK_ROWS:
            if last != self._chunk:
                pt, pv = self._paths(last)
                self._t[:] = np.fromfile(pt, "<f8")
                self._v[:] = np.fromfile(pv, "<f8").reshape(self._v.shape)
                self._chunk = last
            self._t[n % CHUNK_ROWS :] = np.nan
            self._v[n % CHUNK_ROWS :] = np.nan
            self._write_chunk(last)
        self.rows = n
        self._dirty = False

    def finish(self) -> None:
        self.flush()
        set_zarr_trace_rows(self.root, self.spec, self.rows, self.fsync)


def read_zarr_trace(root: Path, spec: TraceSpec, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(time (n,), values (n, c))`` of a trace in a zarr series; missing chunks read as NaN."""
    d = Path(root) / "traces" / spec.stream
    c = len(spec.channels)
    meta = json.loads((d / "time" / "zarr.json").read_text())
    rows = int(meta["chunk_grid"]["configuration"]["chunk_shape"][0])
    k_count = math.ceil(n / rows)
    t = np.full(k_count * rows, np.nan)
    v = np.full((k_count * rows, c), np.nan)
    for k in range(k_count):
        try:
            t[k * rows : (k + 1) * rows] = np.fromfile(d / "time" / "c" / str(k), "<f8")
            v[k * rows : (k + 1) * rows] = np.fromfile(
                d / "values" / "c" / str(k) / "0", "<f8"
            ).reshape(rows, c)
        except FileNotFoundError:  # a chunk lost in a crash before it was journaled
            continue
    return t[:n], v[:n]


class Hdf5TraceWriter:
    """One trace stream as ``/traces/<stream>/time`` and ``/values`` of an HDF5 series.

    Made by ``Hdf5Sink.begin`` before SWMR starts (datasets cannot be added after); ``sync()``
    is the sink's fsync of the file.
    """

    def __init__(self, f: Any, spec: TraceSpec, sync: Callable[[], None]) -> None:
        c = len(spec.channels)
        g = f.create_group(f"traces/{spec.stream}")
        for key, value in spec.to_json().items():
            g.attrs[key] = json.dumps(value) if key == "channels" else value
        self._file = f
        self._time = g.create_dataset(
            "time", (0,), maxshape=(None,), chunks=(CHUNK_ROWS,), dtype="f8"
        )
        self._values = g.create_dataset(
            "values", (0, c), maxshape=(None, c), chunks=(CHUNK_ROWS, c), dtype="f8"
        )
        self._time.attrs["units"] = "s"
        self._sync = sync
        self.rows = 0

    def append(self, t: np.ndarray, v: np.ndarray) -> None:
        n0, n = self.rows, len(t)
        if not n:
            return
        self._time.resize(n0 + n, axis=0)
        self._values.resize(n0 + n, axis=0)
        self._time[n0 : n0 + n] = t
        self._values[n0 : n0 + n] = v
        self.rows = n0 + n

    def flush(self) -> int:
        self._file.flush()  # SWMR readers see the rows from here on
        self._sync()
        return self.rows

    def truncate(self, n: int) -> None:
        if n < self.rows:
            self._time.resize(n, axis=0)
            self._values.resize(n, axis=0)
            self.rows = n

    def finish(self) -> None:
        self.flush()


def read_hdf5_trace(path: Path, spec: TraceSpec, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(time, values)`` of a trace in an HDF5 series (at most ``n`` rows: the journaled ones)."""

    with open_hdf5(path, "r", swmr=True) as f:
        g = f[f"traces/{spec.stream}"]
        n = min(n, g["time"].shape[0], g["values"].shape[0])
        return np.asarray(g["time"][:n], float), np.asarray(g["values"][:n], float)
