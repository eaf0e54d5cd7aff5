"""``map_series``: a function or a node over a spooled series, on dask.distributed."""

from __future__ import annotations

import dataclasses
import inspect
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xarray as xr

from labkit.analysis._cluster import dask_client
from labkit.analysis._results import assemble
from labkit.analysis._tasks import PER, BlockResult, Work, run_block
from labkit.errors import LabkitError
from labkit.spool import IncompleteSeriesWarning
from labkit.spool._follow import SeriesFollower

__all__ = ["AnalysisError", "map_series"]

OPTIONS = (
    "client",
    "per",
    "n_workers",
    "threads_per_worker",
    "storage_options",
    "poll_s",
    "idle_timeout_s",
    "progress",
)


class AnalysisError(LabkitError, RuntimeError):
    """A task failed on a worker; the message names the block and the worker's error."""


def _location(series: Any) -> str | Path:
    if isinstance(series, xr.Dataset) and "frames" in series:
        series = series["frames"]
    if isinstance(series, xr.DataArray):
        if "path" not in series.attrs:
            raise TypeError(
                "map_series needs a spooled series: a path, a URL or lk.open_series(path); "
                "this DataArray has no 'path' attr (for an in-memory array call the function "
                "directly, e.g. lk.track(frames, rois, zlut))"
            )
        return series.attrs["path"]
    if isinstance(series, str | Path):
        return series
    raise TypeError(
        f"series must be a path, an fsspec URL or lk.open_series(path), not {type(series).__name__}"
    )


def _work(fn_or_node: Any, per: str, params: dict[str, Any], follower: SeriesFollower) -> Work:
    """Check the work here, before any task runs: bad parameters raise in the caller."""
    if per not in PER:
        raise ValueError(f"per must be one of {', '.join(map(repr, PER))}, got {per!r}")
    from labkit.engine._nodes import BUILTIN_NODES, Node

    attrs = follower.attrs
    common = {
        "params": params,
        "pixel_size_um": float(attrs.get("pixel_size_um") or 1.0),
        "frame_rate_hz": float(attrs.get("frame_rate_hz") or 0.0),
    }
    is_node = (isinstance(fn_or_node, str) and fn_or_node in BUILTIN_NODES) or (
        isinstance(fn_or_node, type) and issubclass(fn_or_node, Node)
    )
    if is_node:
        if per != "frame":
            raise ValueError("a node processes frames one by one: use per='frame' (the default)")
        from labkit.analysis._tasks import make_node

        work = Work(per, node=fn_or_node, **common)  # type: ignore[arg-type]
        make_node(work, follower.source).close()  # unknown or bad parameters raise here
        return work
    if isinstance(fn_or_node, str):
        raise ValueError(
            f"unknown node {fn_or_node!r}: use one of {', '.join(BUILTIN_NODES)}, a Node "
            "subclass, or a function"
        )
    if not callable(fn_or_node):
        raise TypeError(
            f"fn_or_node must be a function, a node name or a Node subclass, not {fn_or_node!r}"
        )
    if per == "chunk" and follower.layout.n_z:
        raise ValueError(
            "per='chunk' hands (t, y, x) chunks to the function; this series has z planes: "
            "use per='frame'"
        )
    _check_params(fn_or_node, per, params)
    return Work(per, fn=fn_or_node, **common)  # type: ignore[arg-type]


def _check_params(fn: Callable, per: str, params: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: its own call checks
        return
    leading = (None, None) if per == "frame" else (None,)
    try:
        signature.bind(*leading, **params)
    except TypeError as exc:
        taken = [
            n
            for n, p in list(signature.parameters.items())[len(leading) :]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        name = getattr(fn, "__name__", "the function")
        call = f"{name}(frame, meta)" if per == "frame" else f"{name}(frames, **params)"
        raise TypeError(
            f"map_series got {sorted(params)} for {call}: {exc}. map_series takes the options "
            f"{', '.join(OPTIONS)}; other keywords go to the function, which takes "
            f"{', '.join(taken) or 'none'}"
        ) from None


def map_series(
    series: Any,
    fn_or_node: Any,
    client: Any = None,
    *,
    per: str = "frame",
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    storage_options: dict[str, Any] | None = None,
    poll_s: float = 0.2,
    idle_timeout_s: float = 60.0,
    progress: Callable[[int, int, bool], None] | None = None,
    **params: Any,
) -> xr.DataArray:
    """Run a function or a processing node over a spooled series on ``dask.distributed``.

    One task per shard (zarr) or written batch (hdf5) as the series' journal lists it, so a
    series **still being written** is processed while it grows: completed shards are
    submitted as they land, and the call returns once the series is closed and every task
    is done.

    Args:
        series: a series path, an fsspec URL (``s3://...``, ``memory://...``) or
            ``lk.open_series(path)``.
        fn_or_node: ``per="frame"``: a function ``fn(frame, meta) -> dict | array | number |
            None`` (``meta``: frame, index, timestamp_s, exposure_ms, z_um), a built-in node
            name (``"roi_stats"``, ``"frame_stats"``, ``"downsample"``) or a Node subclass,
            configured with ``**params`` and started once per task. ``per="chunk"``: a
            function ``fn(frames, **params)`` given each shard as a ``(t, y, x)`` DataArray
            with the series' coordinates, returning an array or DataArray with one entry per
            frame along its first axis — ``lk.track`` is one.
        client: None: an embedded ``LocalCluster`` (``n_workers`` processes, default 2 or the
            cores there are, ``threads_per_worker`` threads each; TLS with its own certificates;
            closed on return, no process left); a scheduler address; or a
            ``distributed.Client``.
        storage_options: for an fsspec URL (the workers open the store with them too).
        poll_s: how often the journal is read for new shards.
        idle_timeout_s: a series still open with no new shard for this long (its writer
            died) ends the run with an ``IncompleteSeriesWarning`` and the frames it has.
        progress: ``progress(tasks_done, tasks_listed, series_closed)`` after each poll.
        **params: the node's parameters, or the function's keyword arguments.

    Returns:
        ``per="frame"``: an ``xr.DataArray`` along ``t`` (``frame`` for a z-stack series) with
        the series' ``t``, ``timestamp_s``, ``exposure_ms``, ``frame_z_um`` and ``frame``
        coordinates; a ``channel`` axis for dict results, the result's own axes (``dim_1``...)
        for arrays. Frames a node returned nothing for are left out. ``per="chunk"``: the
        chunks' results joined along their first axis (their coordinates kept).

    Raises:
        TypeError: an unknown keyword (the message names the options and the function's
            parameters) or a series that is not a spooled one.
        ValueError: an unknown node or ``per``.  FileNotFoundError: no series there.
        AnalysisError: a task failed (the worker's error is its cause).
    """
    follower = SeriesFollower(_location(series), storage_options)
    work = _work(fn_or_node, per, params, follower)
    with dask_client(client, n_workers, threads_per_worker) as dc:
        results = _run(dc, follower, work, poll_s, idle_timeout_s, progress)
    if not follower.ended:
        warnings.warn(
            f"series {follower.location} was not closed and listed no new shard for "
            f"{idle_timeout_s:g} s: returning the {sum(len(r.frames) for r in results)} frames "
            "its journal lists",
            IncompleteSeriesWarning,
            stacklevel=2,
        )
    return assemble(results, follower)


def _run(
    dc: Any,
    follower: SeriesFollower,
    work: Work,
    poll_s: float,
    idle_timeout_s: float,
    progress: Callable | None,
) -> list[BlockResult]:
    work_future = None
    futures: list[Any] = []
    pause = threading.Event()  # never set: a sleep that is not a busy loop
    last_new = time.monotonic()
    while True:
        blocks = follower.poll()
        if blocks and work_future is None:  # t is counted from the first frame's timestamp
            stamps = [t for t in blocks[0].columns["timestamp_s"] if t is not None]
            work = dataclasses.replace(work, t0_s=min(stamps) if stamps else 0.0)
            [work_future] = dc.scatter([work], broadcast=False)
        for block in blocks:
            futures.append(dc.submit(run_block, work_future, follower.source, block, pure=False))
        now = time.monotonic()
        if blocks:
            last_new = now
        failed = next((f for f in futures if f.status == "error"), None)
        if failed is not None:
            _raise(failed, follower)
        if progress is not None:
            progress(sum(f.done() for f in futures), len(futures), follower.ended)
        if follower.ended or now - last_new > idle_timeout_s:
            break
        pause.wait(poll_s)
    try:
        results = dc.gather(futures, errors="raise")
    except Exception:
        failed = next((f for f in futures if f.status == "error"), None)
        if failed is None:
            raise
        _raise(failed, follower)
    if progress is not None:
        progress(len(futures), len(futures), follower.ended)
    return list(results)


def _raise(future: Any, follower: SeriesFollower) -> None:
    exc = future.exception()
    raise AnalysisError(
        f"a task over {follower.location} failed on a worker: {type(exc).__name__}: {exc}"
    ) from exc
