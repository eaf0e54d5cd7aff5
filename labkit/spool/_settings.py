"""Spool settings: defaults, validation and the z-stack / compression helpers."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labkit.spool._errors import SpoolError

METHODS = ("zarr", "hdf5", "tiff")
CODECS = ("none", "blosc-lz4", "blosc-zstd", "zlib", "zstd")
#: the codecs each built-in method stores (a registered method declares ``codecs`` too)
METHOD_CODECS: dict[str, tuple[str, ...]] = {
    "zarr": ("none", "blosc-lz4", "blosc-zstd"),
    "hdf5": ("none", "blosc-lz4", "blosc-zstd"),  # HDF5 Blosc filter (hdf5plugin reads it)
    "tiff": ("none", "zlib", "zstd"),  # TIFF Adobe deflate / zstd (50000)
}
_DEFAULT_LEVEL = {"none": 0, "blosc-lz4": 5, "blosc-zstd": 1, "zlib": 1, "zstd": 1}


@dataclass
class Task:
    """Call ``fn(*args)`` when the spool reaches frame ``frame`` (0 = before the first frame)."""

    frame: int
    fn: Callable[..., Any]
    args: tuple = ()

    def run(self) -> Any:
        return self.fn(*self.args)


@dataclass
class AcquisitionProtocol:
    """Timed tasks of one series.

    ``tasks`` run in the spool reader thread when the given number of frames has been kept,
    ``at_start`` before the first frame, ``at_end`` after the last; ``preflight`` callables
    return ``(ok, message)`` and join the measured preflight checks.
    """

    tasks: list[Task] = field(default_factory=list)
    at_start: list[Task] = field(default_factory=list)
    at_end: list[Task] = field(default_factory=list)
    preflight: list[Callable[[], tuple[bool, str]]] = field(default_factory=list)

    @classmethod
    def coerce(cls, value: Any) -> AcquisitionProtocol:
        """Accept a protocol, ``None``, or a list of ``(frame, fn, *args)`` tuples / Tasks."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Sequence):
            tasks = []
            for item in value:
                if isinstance(item, Task):
                    tasks.append(item)
                elif isinstance(item, tuple) and len(item) >= 2 and callable(item[1]):
                    tasks.append(Task(int(item[0]), item[1], tuple(item[2:])))
                else:
                    raise SpoolError(
                        f"protocol item {item!r} is not a Task or (frame, fn, *args) tuple"
                    )
            return cls(tasks=sorted(tasks, key=lambda t: t.frame))
        raise SpoolError(
            f"protocol must be an AcquisitionProtocol or a list of tasks, not {type(value).__name__}"
        )


DEFAULTS: dict[str, Any] = {
    "method": "zarr",
    "compression": {"codec": "blosc-lz4", "level": 5, "shuffle": True},
    "max_frames": None,
    "z_stepped": False,
    "z_dwell": 1,
    "z_start_um": -5.0,
    "z_stop_um": 5.0,
    "z_step_um": 1.0,
    "z_positions_um": None,
    "protocol": None,
    "extra_metadata": {},
    "subdirectory": None,
    "fsync": True,
    "fsync_interval_s": 1.0,
    "shard_seconds": 1.0,
    "shard_max_mb": 64.0,
    "queue_shards": 4,
    "compress_threads": 2,
    "frames_stream": None,
    "trace_streams": [],
}


def normalize_compression(value: Any, method: str = "zarr") -> dict[str, Any]:
    """``None``/"none", "lz4", "blosc-zstd:1", "zlib:3", or ``{"codec", "level", "shuffle"}`` -> dict.

    "zstd" means blosc-zstd for zarr/hdf5 and plain zstd for tiff; "deflate"/"gzip" mean zlib.
    """
    if value is None or value is False:
        return {"codec": "none", "level": 0, "shuffle": False}
    if isinstance(value, str):
        name, _, level_text = value.partition(":")
        value = {"codec": name, **({"level": int(level_text)} if level_text else {})}
    if not isinstance(value, dict):
        raise SpoolError(
            f"compression {value!r} not understood; use e.g. 'blosc-lz4', 'blosc-zstd:1' or None"
        )
    codec: str = str(value.get("codec", "blosc-lz4")).strip().lower()
    codec = {
        "lz4": "blosc-lz4",
        "blosc": "blosc-lz4",
        "raw": "none",
        "deflate": "zlib",
        "gzip": "zlib",
        "zstd": "zstd" if method == "tiff" else "blosc-zstd",
    }.get(codec, codec)
    if codec not in CODECS:
        raise SpoolError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    level: int = int(value.get("level", _DEFAULT_LEVEL[codec]))
    top = {"zstd": 22, "none": 0}.get(codec, 9)
    if codec != "none" and not 0 <= level <= top:
        raise SpoolError(f"compression level {level} out of range for {codec}; use 0..{top}")
    shuffle = codec.startswith("blosc") and bool(value.get("shuffle", True))
    return {"codec": codec, "level": level, "shuffle": shuffle}


def validate(
    settings: dict[str, Any], methods: tuple[str, ...] | dict[str, tuple[str, ...]] = METHODS
) -> dict[str, Any]:
    """Check and normalise a full settings dict; raises ``SpoolError`` naming the bad key.

    ``methods``: method names, or {method: codecs it stores} (default ``METHOD_CODECS``).
    A codec the method does not store raises ``SpoolError`` naming the ones it does.
    """
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise SpoolError(
            f"unknown spool setting(s) {sorted(unknown)}; valid keys: {sorted(DEFAULTS)}"
        )
    codecs = (
        methods
        if isinstance(methods, dict)
        else {m: METHOD_CODECS.get(m, METHOD_CODECS["zarr"]) for m in methods}
    )
    s = dict(settings)
    if s["method"] not in codecs:
        raise SpoolError(f"method {s['method']!r} unknown; choose one of {', '.join(codecs)}")
    s["compression"] = normalize_compression(s["compression"], s["method"])
    supported = codecs[s["method"]]
    if s["compression"]["codec"] not in supported:
        raise SpoolError(
            f"method {s['method']!r} cannot store {s['compression']['codec']!r} compression; it "
            f"supports {', '.join(repr(c) for c in supported)} (None = uncompressed)"
            + ("; blosc codecs need method 'zarr' or 'hdf5'" if s["method"] == "tiff" else "")
        )
    if s["max_frames"] is not None:
        s["max_frames"] = int(s["max_frames"])
        if s["max_frames"] < 1:
            raise SpoolError("max_frames must be >= 1 (or None to spool until stop())")
    s["z_dwell"] = int(s["z_dwell"])
    if s["z_dwell"] < 1:
        raise SpoolError("z_dwell (frames per z position) must be >= 1")
    if s["z_stepped"]:
        z_positions(s)  # raises on bad ranges
    if not isinstance(s["extra_metadata"], dict):
        raise SpoolError("extra_metadata must be a dict of JSON-able values")
    s["protocol"] = AcquisitionProtocol.coerce(s["protocol"])
    for key in ("shard_seconds", "shard_max_mb"):
        if float(s[key]) <= 0:
            raise SpoolError(f"{key} must be > 0")
    s["frames_stream"], s["trace_streams"] = _stream_names(s["frames_stream"], s["trace_streams"])
    s["queue_shards"] = max(2, int(s["queue_shards"]))
    s["compress_threads"] = max(1, int(s["compress_threads"]))
    return s


def _stream_names(frames: Any, traces: Any) -> tuple[str | None, list[str]]:
    """``frames_stream`` (None or a name) and ``trace_streams`` (names; one name alone is taken
    as a list). Whether the streams exist is checked at ``start()``, against the host's."""
    if frames is not None and (not isinstance(frames, str) or not frames):
        raise SpoolError(f"frames_stream must be a stream name or None, not {frames!r}")
    if traces is None:
        traces = []
    elif isinstance(traces, str):
        traces = [traces]
    if not isinstance(traces, Sequence) or not all(isinstance(n, str) and n for n in traces):
        raise SpoolError(
            f"trace_streams must be a list of stream names (e.g. ['signal']), not {traces!r}"
        )
    if len(set(traces)) != len(traces):
        raise SpoolError(f"trace_streams lists a stream twice: {list(traces)}")
    return frames, list(traces)


def z_positions(s: dict[str, Any]) -> list[float]:
    """The z positions (µm) of one stack: the explicit list, or start..stop by step (inclusive)."""
    if not s.get("z_stepped"):
        return []
    if s.get("z_positions_um") is not None:
        zs = [float(z) for z in s["z_positions_um"]]
        if not zs:
            raise SpoolError(
                "z_positions_um is empty; give at least one position or set z_stepped=False"
            )
        return zs
    start, stop, step = float(s["z_start_um"]), float(s["z_stop_um"]), float(s["z_step_um"])
    if step == 0 or (stop - start) * step < 0:
        raise SpoolError(
            f"z range {start}..{stop} µm cannot be reached with step {step} µm; flip the step sign"
        )
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    return [start + i * step for i in range(n)]


def copy_settings(s: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in s.items() if k != "protocol"}
    out = copy.deepcopy(out)
    out["protocol"] = s.get("protocol")
    return out
