"""OME-Zarr 0.5 into an fsspec object store: the same array as :class:`ZarrSink`, each shard one
PUT of the whole object (chunks back to back, the index at the end).

There is no temp file and no rename: an object store shows an object only once its PUT has
completed, so a crash leaves complete shards only, as on a local disk. There is no fdatasync
either: a shard is durable when its PUT returns, so ``sync`` has nothing left to do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.spool._blocks import Block, Compressor
from labkit.spool._errors import SpoolError
from labkit.spool._io import jsonable
from labkit.spool._layout import Layout
from labkit.spool._store import ObjectStore
from labkit.spool._zarr import _EMPTY, ZarrSink, array_metadata


class StoreZarrSink(ZarrSink):
    """``begin`` → ``write_block`` per shard (one PUT) → ``finish``; raises ``OSError`` (what
    fsspec raises for a refused or failed request) on write failures."""

    uses_o_direct = False
    stores_traces = False

    def __init__(
        self,
        store: ObjectStore,
        layout: Layout,
        compressor: Compressor,
        fsync: bool = True,
        traces: tuple = (),
    ) -> None:
        if traces:
            raise SpoolError(
                "trace streams are recorded into local series only; record them with a local "
                "path (trace_streams=[]) to write to an object store"
            )
        super().__init__(store.root, layout, compressor, fsync)
        self.store = store
        self.path = store.url  # type: ignore[assignment]  # what messages name

    def begin(self, ome: dict, labkit_attrs: dict) -> None:
        if self.store.exists("zarr.json"):
            raise FileExistsError(self.store.url)
        self._ome = ome
        self.write_metadata(labkit_attrs, None)

    def write_metadata(self, labkit_attrs: dict, n_frames: int | None) -> None:
        root = {
            "zarr_format": 3,
            "node_type": "group",
            "attributes": jsonable({"ome": self._ome, "labkit": labkit_attrs}),
        }
        self.store.write_json("zarr.json", root)
        self.store.write_json(
            "0/zarr.json", array_metadata(self.layout, self.compressor, n_frames, {})
        )

    def supports_direct(self) -> bool:
        return False

    def write_block(self, block: Block) -> tuple[int, Any]:  # type: ignore[override]
        """Assemble the shard in memory and PUT it; returns (bytes written, no sync token)."""
        cap = block.filled.shape[0]
        index = np.full((cap, 2), _EMPTY, dtype="<u8")
        filled = block.filled
        if self.compressor.enabled:  # chunks sit back to back in block.out
            index[filled, 0] = block.chunk_off[filled]
            index[filled, 1] = block.chunk_len[filled]
            body: Any = block.out[: int(block.nbytes_out)]
        else:
            fb = self.layout.frame_bytes
            slots = np.flatnonzero(filled)
            end = (int(slots[-1]) + 1) * fb if slots.size else 0
            index[filled, 0] = slots * fb
            index[filled, 1] = fb
            body = block.raw.reshape(-1).view(np.uint8)[:end]
        data = bytearray(body.nbytes + index.nbytes)
        data[: body.nbytes] = memoryview(body).cast("B")
        data[body.nbytes :] = index.tobytes()
        self.store.put(self.location(block.key), data)
        block.nbytes_out = len(data)
        return block.nbytes_out, None

    def discard_block(self, block: Block) -> None:
        block.fd = -1

    def sync(self, token: Any, fsync: bool) -> None:
        """Nothing: the shard was durable when its PUT returned."""

    def release(self, token: Any) -> None:
        """Nothing held."""
