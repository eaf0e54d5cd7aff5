"""Single-file sinks: HDF5 (h5py, SWMR so it can be read while written) and BigTIFF (tifffile).

Both store frames flat in acquisition order, (n, y, x); ``open_series`` restores (t, z, y, x)
from the layout in the metadata. Frames are compressed by the spool's codec threads and stored
as they are: HDF5 chunks through ``write_direct_chunk`` with the HDF5 Blosc filter declared
(h5py reads them once ``hdf5plugin`` is imported), TIFF strips with the zlib (deflate) or zstd
compression tag (tifffile reads zlib itself, zstd with imagecodecs).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from labkit.spool._blocks import Block, Compressor
from labkit.spool._errors import SpoolError
from labkit.spool._hdf5_open import open_hdf5
from labkit.spool._io import jsonable
from labkit.spool._layout import Layout
from labkit.spool._settings import METHOD_CODECS
from labkit.spool._streams import TraceSpec
from labkit.spool._trace_files import Hdf5TraceWriter

log = logging.getLogger(__name__)

_META_FIELDS = ("frame", "index", "timestamp_s", "exposure_ms", "z_um")


class Hdf5Sink:
    """``/data`` (n, y, x) chunked per frame, ``/frames/<field>`` per-frame metadata, JSON attrs;
    ``/traces/<stream>/time`` and ``/values`` for the trace streams recorded beside them."""

    method = "hdf5"
    ext = ".h5"
    codecs = METHOD_CODECS["hdf5"]
    stores_traces = True

    def __init__(
        self,
        path: Path,
        layout: Layout,
        compressor: Compressor,
        fsync: bool = True,
        traces: tuple[TraceSpec, ...] = (),
    ) -> None:
        self.path = Path(path)
        self.traces = tuple(traces)
        self.trace_writers: dict[str, Hdf5TraceWriter] = {}
        self.layout = layout
        self.compressor = compressor
        self.fsync = fsync
        self._f: Any = None
        self._fd: int | None = None
        self._n = 0

    def _filter(self) -> dict[str, Any]:
        if not self.compressor.enabled:
            return {}
        try:
            import hdf5plugin
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise SpoolError(
                "HDF5 compression needs hdf5plugin (pip install hdf5plugin), or pass compression=None"
            ) from exc
        c = self.compressor
        cname: Any = c.cname.decode()  # "lz4" or "zstd"
        return dict(hdf5plugin.Blosc(cname=cname, clevel=c.level, shuffle=c.shuffle))

    def begin(self, ome: dict, labkit_attrs: dict) -> None:
        import h5py

        filters = self._filter()  # before creating the file: a missing plugin leaves nothing
        f = h5py.File(self.path, "w-", libver="latest")  # w-: fail if it exists
        self._f = f
        h, w = self.layout.frame_shape
        f.create_dataset(
            "data",
            (0, h, w),
            maxshape=(None, h, w),
            chunks=(1, h, w),
            dtype=self.layout.dtype,
            **filters,
        )
        for name in _META_FIELDS:
            f.create_dataset(
                f"frames/{name}",
                (0,),
                maxshape=(None,),
                chunks=(4096,),
                dtype="i8" if name in ("frame", "index") else "f8",
            )
        for spec in self.traces:  # before SWMR: no dataset can be added after
            self.trace_writers[spec.stream] = Hdf5TraceWriter(
                f, spec, lambda: self.sync(None, self.fsync)
            )
        f.attrs["labkit"] = json.dumps(jsonable(labkit_attrs))
        f.attrs["ome"] = json.dumps(jsonable(ome))
        f.swmr_mode = True
        f.flush()
        self._fd = os.dup(f.id.get_vfd_handle())  # for fsync from the flusher thread

    def location(self, key: tuple[int, ...]) -> str:
        return "data"

    def write_block(self, block: Block) -> tuple[int, None]:
        f = self._f
        n0, k = self._n, block.n
        data = f["data"]
        data.resize(n0 + k, axis=0)
        order = block.order[:k]
        if self.compressor.enabled:  # chunks the codec threads made, stored as they are
            dsid = data.id
            for i, slot in enumerate(order.tolist()):
                dsid.write_direct_chunk((n0 + i, 0, 0), block.chunk(slot))
        elif np.array_equal(order, np.arange(k)):
            data[n0 : n0 + k] = block.raw[:k]
        else:
            for i, slot in enumerate(order.tolist()):
                data[n0 + i] = block.raw[slot]
        meta = block.frames()
        for name in _META_FIELDS:
            ds = f[f"frames/{name}"]
            ds.resize(n0 + k, axis=0)
            ds[n0 : n0 + k] = meta[name]
        f.flush()
        self._n = n0 + k
        return (block.nbytes_out if self.compressor.enabled else k * self.layout.frame_bytes), None

    def sync(self, token, fsync: bool) -> None:
        if fsync and self._fd is not None:
            os.fsync(self._fd)

    def release(self, token) -> None:
        pass

    def finish(self, labkit_attrs: dict, n_frames: int) -> None:
        self.close()
        # attributes cannot change under SWMR: the file is opened again, read-write, which
        # waits while a reader holds it (labkit.spool._hdf5_open)
        with open_hdf5(self.path, "r+", libver="latest") as f:
            f.attrs["labkit"] = json.dumps(jsonable(labkit_attrs))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._f is not None:
            f, self._f = self._f, None
            f.close()


class TiffSink:
    """BigTIFF with one IFD per frame, so every frame written before a crash is readable.

    The labkit metadata (JSON) is the first page's ImageDescription at start and a sidecar
    ``<name>.json`` at the end (TIFF tags cannot grow in place).
    """

    method = "tiff"
    ext = ".ome.tif"
    codecs = METHOD_CODECS["tiff"]

    def __init__(
        self, path: Path, layout: Layout, compressor: Compressor, fsync: bool = True
    ) -> None:
        self.path = Path(path)
        self.layout = layout
        self.compressor = compressor
        self.fsync = fsync
        self._tif: Any = None
        self._fd: int | None = None
        self._description = ""
        self._n = 0

    def begin(self, ome: dict, labkit_attrs: dict) -> None:
        import tifffile

        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never overwrite
        os.close(fd)
        self._tif = tifffile.TiffWriter(self.path, bigtiff=True)
        self._fd = os.dup(self._tif.filehandle.fileno())  # for fsync from the flusher thread
        self._description = json.dumps(jsonable({"labkit": labkit_attrs, "ome": ome}))

    def location(self, key: tuple[int, ...]) -> str:
        return "pages"

    def write_block(self, block: Block) -> tuple[int, None]:
        tif = self._tif
        h = self.layout.frame_shape[0]
        for slot in block.order[: block.n].tolist():
            extra = {"description": self._description} if self._n == 0 else {}
            if self.compressor.enabled:  # one pre-compressed strip per frame
                tif.write(  # tifffile takes strips as bytes: the one copy TIFF needs
                    iter([block.chunk(slot).tobytes()]),
                    shape=self.layout.frame_shape,
                    dtype=self.layout.dtype,
                    compression=self.compressor.codec,
                    rowsperstrip=h,
                    contiguous=False,
                    metadata=None,
                    **extra,
                )
            else:
                tif.write(block.raw[slot], contiguous=False, metadata=None, **extra)
            self._n += 1
        tif.filehandle.flush()
        nbytes = block.nbytes_out if self.compressor.enabled else block.n * self.layout.frame_bytes
        return nbytes, None

    def sync(self, token, fsync: bool) -> None:
        if fsync and self._fd is not None:
            os.fsync(self._fd)

    def release(self, token) -> None:
        pass

    def finish(self, labkit_attrs: dict, n_frames: int) -> None:
        self.close()
        from labkit.spool._io import write_json_atomic

        write_json_atomic(
            self.path.with_name(self.path.name + ".json"), {"labkit": labkit_attrs}, self.fsync
        )
        if n_frames:
            try:  # now the frame count is known: make it an OME-TIFF (OME-XML in page 0)
                self._write_ome_xml(labkit_attrs, n_frames)
            except Exception as exc:  # metadata nicety: the pixels and the sidecar are written
                log.warning("could not write OME-XML into %s: %s", self.path, exc)

    def _write_ome_xml(self, labkit_attrs: dict, n_frames: int) -> None:
        import tifffile

        h, w = self.layout.frame_shape
        lay = self.layout
        shape: tuple[int, ...]
        if lay.n_z and lay.z_dwell == 1 and n_frames % lay.n_z == 0:
            shape, axes = (n_frames // lay.n_z, lay.n_z, h, w), "TZYX"
        else:  # dwell > 1 interleaves z and t: describe the pages in acquisition order
            shape, axes = (n_frames, h, w), "TYX"
        px = float(labkit_attrs.get("pixel_size_um") or 1.0)
        ome = tifffile.OmeXml()
        ome.addimage(
            lay.dtype,
            shape,
            (n_frames, 1, 1, h, w, 1),
            axes=axes,
            Name=str(labkit_attrs.get("series", "")),
            PhysicalSizeX=px,  # OME's default unit is µm (TIFF strings are ASCII)
            PhysicalSizeY=px,
        )
        tifffile.tiffcomment(self.path, ome.tostring())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._tif is not None:
            tif, self._tif = self._tif, None
            tif.close()
