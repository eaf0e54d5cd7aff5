"""What one Dask task does: read one block (shard) of a series and run the work over it.

Runs in a worker process: plain functions of plain arguments (a :class:`Work`, a
:class:`~labkit.spool._follow.SeriesSource` and a :class:`~labkit.spool._follow.SeriesBlock`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from labkit.spool._follow import SeriesBlock, SeriesSource, read_block

PER = ("frame", "chunk")


@dataclass(frozen=True)
class Work:
    """The function or node and how to call it.

    ``per="frame"``: ``fn(frame, meta)`` or a node's ``process(frame, meta)`` for every frame
    (a node — ``node`` a built-in name or a Node subclass — is configured with ``params`` and
    started once per block). ``per="chunk"``: ``fn(frames, **params)`` once per block, with
    ``frames`` a ``(t, y, x)`` DataArray carrying the series' coordinates.
    """

    per: str
    fn: Any = None
    node: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    t0_s: float = 0.0  # timestamp of the series' first frame: t = timestamp_s - t0_s
    pixel_size_um: float = 1.0
    frame_rate_hz: float = 0.0


@dataclass
class BlockResult:
    """One block's output: the frame numbers it covers and what the work returned for them.

    Per frame: ``values`` stacked (frames without output dropped) and ``channels`` for dict
    results. Per chunk: ``chunk`` as the function returned it (a DataArray or an array).
    """

    seq: int
    frames: np.ndarray
    values: Any = None
    channels: tuple[str, ...] | None = None
    chunk: Any = None


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def _meta(block: SeriesBlock, i: int) -> dict[str, Any]:
    c = block.columns
    return {
        "frame": int(c["frame"][i]),
        "index": int(c["index"][i]),
        "timestamp_s": _nan(c["timestamp_s"][i]),
        "exposure_ms": _nan(c["exposure_ms"][i]),
        "z_um": _nan(c["z_um"][i]),
    }


def make_node(work: Work, source: SeriesSource) -> Any:
    """A configured, initialized and started node of ``work`` for frames of ``source``."""
    from labkit.engine._nodes import BUILTIN_NODES
    from labkit.engine._streams import StreamInfo

    cls = BUILTIN_NODES[work.node] if isinstance(work.node, str) else work.node
    node = cls()
    node.configure(**work.params)
    node.initialize(
        StreamInfo(
            name="series",
            kind="frames",
            owner="series",
            buffer="",
            shape=tuple(source.layout.frame_shape),
            dtype=source.layout.dtype,
            rate_hz=work.frame_rate_hz,
        )
    )
    node.start()
    return node


def _per_frame(work: Work, source: SeriesSource, block: SeriesBlock, frames: np.ndarray):
    node = make_node(work, source) if work.node is not None else None
    call = node.process if node is not None else work.fn
    kept: list[int] = []
    outputs: list[Any] = []
    try:
        for i, frame in enumerate(frames):
            out = call(frame, _meta(block, i))
            if out is not None:
                kept.append(block.frames[i])
                outputs.append(out)
    finally:
        if node is not None:
            node.stop()
            node.close()
    channels = None
    if outputs and isinstance(outputs[0], dict):
        channels = tuple(str(k) for k in outputs[0])
        values = np.array([[float(o[k]) for k in outputs[0]] for o in outputs], float)
    else:
        values = np.stack([np.asarray(o) for o in outputs]) if outputs else np.zeros(0)
    return np.asarray(kept, np.int64), values, channels


def chunk_array(work: Work, source: SeriesSource, block: SeriesBlock, frames: np.ndarray):
    """The block's frames as a (t, y, x) DataArray with the series' coordinates."""
    c = block.columns
    stamps = np.array([_nan(v) for v in c["timestamp_s"]])
    h, w = source.layout.frame_shape
    px = work.pixel_size_um
    return xr.DataArray(
        frames,
        dims=("t", "y", "x"),
        coords={
            "t": ("t", stamps - work.t0_s, {"units": "s"}),
            "timestamp_s": ("t", stamps),
            "exposure_ms": ("t", np.array([_nan(v) for v in c["exposure_ms"]])),
            "frame_z_um": ("t", np.array([_nan(v) for v in c["z_um"]])),
            "frame": ("t", np.asarray(c["frame"], np.int64)),
            "y": ("y", np.arange(h) * px),
            "x": ("x", np.arange(w) * px),
        },
    )


def run_block(work: Work, source: SeriesSource, block: SeriesBlock) -> BlockResult:
    """Read ``block`` and run ``work`` over it (in a Dask worker)."""
    frames = read_block(source, block)
    if work.per == "chunk":
        out = work.fn(chunk_array(work, source, block, frames), **work.params)
        n = len(block.frames)
        if not hasattr(out, "shape") or len(out.shape) == 0 or out.shape[0] != n:
            raise ValueError(
                f"a per='chunk' function must return an array or DataArray whose first axis "
                f"has one entry per frame ({n}); got {type(out).__name__} of shape "
                f"{getattr(out, 'shape', None)}"
            )
        return BlockResult(block.seq, np.asarray(block.frames, np.int64), chunk=out)
    kept, values, channels = _per_frame(work, source, block, frames)
    return BlockResult(block.seq, kept, values=values, channels=channels)
