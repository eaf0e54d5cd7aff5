"""A series with trace streams opens as an ``xr.Dataset``: ``frames`` plus one variable a trace.

Each trace is a variable ``<stream>`` on dims (``<stream>_time``, ``<stream>_channel``): its
``<stream>_time`` coordinate is seconds since the first frame, on the same clock as the frames'
``t`` (both are engine timestamps minus the first frame's), and ``<stream>_timestamp_s`` holds the
raw timestamps. So ``ds.signal.interp(signal_time=ds.t)`` samples a signal at every frame and
``ds.stats.sel(stats_time=ds.t)`` finds a node's row for each frame exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from labkit.spool._journal import journal_path, read_journal
from labkit.spool._streams import TraceSpec
from labkit.spool._trace_files import read_hdf5_trace, read_zarr_trace

__all__ = ["journaled_trace_rows", "repair_traces", "series_dataset", "trace_specs"]


def trace_specs(attrs: dict[str, Any]) -> list[TraceSpec]:
    """The trace streams a series' attrs list (empty for a frames-only series)."""
    return [TraceSpec.from_json({**d, "stream": n}) for n, d in (attrs.get("traces") or {}).items()]


def journaled_trace_rows(records: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """``{stream: (rows on disk, rows lost)}`` from the journal's last ``trace`` line of each."""
    rows: dict[str, tuple[int, int]] = {}
    for rec in records:
        if rec.get("event") == "trace":
            rows[rec["stream"]] = (int(rec["rows"]), int(rec.get("lost", 0)))
    return rows


def series_dataset(
    frames: xr.DataArray, path: Path, method: str, attrs: dict[str, Any], complete: bool
) -> xr.Dataset:
    """``frames`` (still lazy) and every trace of the series, times aligned to the frames'."""
    specs = trace_specs(attrs)
    traces = attrs.get("traces") or {}
    journaled = {} if complete else journaled_trace_rows(read_journal(journal_path(path)))
    read = read_zarr_trace if method == "zarr" else read_hdf5_trace
    stamps = np.asarray(frames["timestamp_s"].values, float)
    t0 = float(np.nanmin(stamps)) if np.isfinite(stamps).any() else None
    loaded = {}
    for spec in specs:
        if complete:
            rows, lost = int(traces[spec.stream].get("rows") or 0), None
        else:
            rows, lost = journaled.get(spec.stream, (0, 0))
        loaded[spec.stream] = (*read(path, spec, rows), lost)
    if t0 is None:  # no frames: the traces' own first row is time 0
        firsts = [float(np.nanmin(t)) for t, _, _ in loaded.values() if np.isfinite(t).any()]
        t0 = min(firsts) if firsts else 0.0
    data_vars: dict[str, xr.DataArray] = {"frames": frames}
    for spec in specs:
        t, v, lost = loaded[spec.stream]
        dim, ch = f"{spec.stream}_time", f"{spec.stream}_channel"
        info = {k: val for k, val in traces[spec.stream].items() if val is not None}
        info.pop("channels", None)
        info.pop("time_s", None)
        if lost is not None:  # an unclosed series: what its journal says
            info.update(rows=len(t), rows_lost=lost)
        data_vars[spec.stream] = xr.DataArray(
            v,
            dims=(dim, ch),
            coords={
                dim: (dim, t - t0, {"units": "s", "long_name": "seconds since the first frame"}),
                f"{spec.stream}_timestamp_s": (dim, t),
                ch: (ch, list(spec.channels)),
            },
            attrs=info,
            name=spec.stream,
        )
    return xr.Dataset(data_vars, attrs=dict(frames.attrs))


def repair_traces(path: Path, method: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """The final ``traces`` attrs of a series a crash left open: rows as journaled (zarr: the
    arrays' shapes set to them too)."""
    from labkit.spool._trace_files import set_zarr_trace_rows

    journaled = journaled_trace_rows(read_journal(journal_path(path)))
    out = {}
    for spec in trace_specs(attrs):
        rows, lost = journaled.get(spec.stream, (0, 0))
        if method == "zarr":
            set_zarr_trace_rows(path, spec, rows)
        out[spec.stream] = {**attrs["traces"][spec.stream], "rows": rows, "rows_lost": lost}
    return out
