"""Following a series while it is written: the shards its journal lists, as they land.

The writers journal a ``block`` line once its shard is complete (zarr: renamed into place or
PUT whole; hdf5: written and flushed, so SWMR readers see it), and a ``stop`` line when the
series is closed. :class:`SeriesFollower` reads only what was appended since its last poll
(a byte offset into a local journal, the segments not yet seen in an object store), so
polling a long series stays cheap. Blocks are handed out once each, with their frame numbers
and per-frame columns; :func:`read_block` reads a block's frames in one go.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labkit.spool._errors import SpoolError
from labkit.spool._hdf5_open import open_hdf5
from labkit.spool._journal import journal_path
from labkit.spool._layout import Layout
from labkit.spool._shards import is_blosc, read_shard_frames
from labkit.spool._store import LocalSeries, ObjectStore, read_object_journal, series_location

log = logging.getLogger(__name__)

__all__ = ["SeriesBlock", "SeriesFollower", "SeriesSource", "read_block"]

_COLUMNS = ("frame", "index", "timestamp_s", "exposure_ms", "z_um")


@dataclass(frozen=True)
class SeriesSource:
    """What a reader in another process needs to read a series' blocks: its location, the
    store's options, the method, the layout and whether zarr chunks are blosc."""

    location: str
    storage_options: dict[str, Any]
    method: str
    layout: Layout
    blosc: bool = False


@dataclass(frozen=True)
class SeriesBlock:
    """One shard (zarr) or written batch (hdf5) of a series: where, and its frames' columns."""

    seq: int
    location: str
    columns: dict[str, list] = field(repr=False)

    @property
    def frames(self) -> list[int]:
        return list(self.columns["frame"])


class SeriesFollower:
    """``poll()`` → the blocks journaled since the last poll; ``ended`` once the journal says
    the series stopped (or it was closed before the follower opened it).

    ``location``: a local path or an fsspec URL (``storage_options`` for its filesystem).
    Raises ``FileNotFoundError`` when nothing is there yet, ``SpoolError`` for a TIFF series
    (its frames cannot be read safely while tifffile appends them).
    """

    def __init__(self, location: str | Path, storage_options: dict[str, Any] | None = None) -> None:
        self.series = series_location(location, storage_options)
        self.storage_options = dict(storage_options or {})
        self.location = self.series.url
        attrs, method = self._attrs()
        if method == "tiff":
            raise SpoolError(
                f"{self.location}: a TIFF series cannot be followed while it is written; "
                "record with method='zarr' or 'hdf5', or wait until it is closed"
            )
        self.attrs = attrs
        self.layout = Layout.from_json(attrs["layout"])
        self.source = SeriesSource(
            self.location,
            self.storage_options,
            method,
            self.layout,
            is_blosc(self.series) if method == "zarr" else False,
        )
        self.ended = False
        self.frames_dropped = 0
        self._offset = 0
        self._partial = b""
        self._segments: set[str] = set()
        self._seen: set[int] = set()
        #: per-frame columns of every block handed out: {frame: (timestamp_s, exposure_ms, z_um)}
        self.frame_meta: dict[int, tuple[Any, Any, Any]] = {}

    def _attrs(self) -> tuple[dict, str]:
        if isinstance(self.series, ObjectStore):
            try:
                root = self.series.read_json("zarr.json")
            except FileNotFoundError:
                raise FileNotFoundError(f"no series at {self.location}") from None
            return root["attributes"].get("labkit", {}), "zarr"
        from labkit.spool._open import _read_attrs

        path = self.series.path
        if not path.exists():
            raise FileNotFoundError(f"no series at {path}")
        return _read_attrs(path)

    def _new_records(self) -> list[dict[str, Any]]:
        if isinstance(self.series, ObjectStore):
            return read_object_journal(self.series, self._segments)
        assert isinstance(self.series, LocalSeries)
        try:
            with open(journal_path(self.series.path), "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an incomplete last line waits for its end
        records = []
        for line in lines:
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    log.warning("%s: skipping an unreadable journal line", self.location)
        return records

    def poll(self) -> list[SeriesBlock]:
        """Blocks not handed out before, in journal order; sets :attr:`ended` at the stop line."""
        blocks = []
        for rec in self._new_records():
            event = rec.get("event")
            if event == "block" and rec["seq"] not in self._seen:
                self._seen.add(rec["seq"])
                cols = {k: rec[k] for k in _COLUMNS}
                for f, t, e, z in zip(
                    cols["frame"],
                    cols["timestamp_s"],
                    cols["exposure_ms"],
                    cols["z_um"],
                    strict=True,
                ):
                    self.frame_meta[int(f)] = (t, e, z)
                blocks.append(SeriesBlock(int(rec["seq"]), rec["location"], cols))
            elif event == "dropped":
                self.frames_dropped += int(rec.get("count", 0))
            elif event in ("stop", "repaired"):
                self.ended = True
        return blocks


def read_block(source: SeriesSource, block: SeriesBlock) -> np.ndarray:
    """The frames of ``block`` as ``(n, y, x)``, in the block's frame order (one read of the
    shard for zarr; SWMR for hdf5). ``FileNotFoundError`` if the shard is gone."""
    series = series_location(source.location, source.storage_options or None)
    if source.method == "zarr":
        return read_shard_frames(series, source.layout, block.location, block.frames, source.blosc)

    try:  # the Blosc filter of compressed series
        import hdf5plugin  # noqa: F401
    except ImportError:  # pragma: no cover - a declared dependency
        log.warning("hdf5plugin is not installed: compressed HDF5 series cannot be read")
    assert isinstance(series, LocalSeries)
    frames = block.frames
    with open_hdf5(series.path, "r", swmr=True) as f:
        data = f["data"]
        data.refresh()
        lo, hi = min(frames), max(frames) + 1
        chunk = data[lo:hi]
    return np.ascontiguousarray(chunk[[n - lo for n in frames]])
