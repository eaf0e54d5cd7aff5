"""Which streams a series records: one camera's frames and any trace streams beside them.

``frames_stream`` picks the camera (default: the host's first, as a one-camera series always
did); ``trace_streams`` lists the signals and node outputs recorded with it. :func:`plan_streams`
checks both against the host's streams before anything is opened or written, so a bad name
costs nothing and the error lists the streams there are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from labkit.spool._errors import SpoolStreamError

__all__ = ["CameraSource", "StreamPlan", "TraceSpec", "plan_streams"]

#: names a trace variable cannot take in the Dataset ``open_series`` returns (frames and coords)
RESERVED_NAMES = frozenset(
    {"frames", "t", "z", "y", "x", "timestamp_s", "exposure_ms", "frame_z_um"}
)


@dataclass(frozen=True)
class TraceSpec:
    """A trace stream recorded in a series: its columns, units and who writes it."""

    stream: str
    channels: tuple[str, ...]
    units: str = ""
    rate_hz: float = 0.0
    owner: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TraceSpec:
        return cls(
            stream=str(d["stream"]),
            channels=tuple(str(c) for c in d["channels"]),
            units=str(d.get("units") or ""),
            rate_hz=float(d.get("rate_hz") or 0.0),
            owner=str(d.get("owner") or ""),
        )


@dataclass(frozen=True)
class StreamPlan:
    """What a series records. ``frames_stream`` is the stream asked for (None: the host's
    default camera), ``frames_name`` the stream that is (for the metadata; None when the host
    has no named streams)."""

    frames_stream: str | None
    frames_name: str | None
    traces: tuple[TraceSpec, ...] = ()


def _listing(streams: Mapping[str, Any]) -> str:
    return ", ".join(f"{n} ({s.kind})" for n, s in streams.items()) or "none"


def _lookup(streams: Mapping[str, Any], name: str, key: str) -> Any:
    info = streams.get(name)
    if info is None:
        raise SpoolStreamError(
            f"{key}: no stream named {name!r}; streams: {_listing(streams)}. (A function node's "
            "stream appears with its first output: start the scope before the series.)"
        )
    return info


def plan_streams(host: Any, settings: Mapping[str, Any], sinks: Mapping[str, Any]) -> StreamPlan:
    """Check ``frames_stream`` and ``trace_streams`` against ``host.streams()``.

    Raises:
        SpoolStreamError: an unknown name (lists the streams), a trace given as the camera, a
            camera given as a trace (one camera per series), a trace named like a coordinate of
            the series, named streams on a host without any, or traces with a method that stores
            frames only (names the methods that store them).
    """
    frames, traces = settings["frames_stream"], list(settings["trace_streams"])
    list_streams = getattr(host, "streams", None)
    if list_streams is None:
        if frames is None and not traces:
            return StreamPlan(None, None)
        raise SpoolStreamError(
            f"this spool host ({type(host).__name__}) has no named streams, so frames_stream and "
            "trace_streams cannot be used with it; record from a labkit Scope (scope.spool)"
        )
    streams: Mapping[str, Any] = list_streams()
    if frames is None:
        frames_name = next((n for n, s in streams.items() if s.kind == "frames"), None)
    else:
        info = _lookup(streams, frames, "frames_stream")
        if info.kind != "frames":
            cameras = [n for n, s in streams.items() if s.kind == "frames"]
            raise SpoolStreamError(
                f"frames_stream {frames!r} carries {info.kind}, not frames; pick one of "
                f"{cameras or 'none'} and record {frames!r} with trace_streams=[{frames!r}]"
            )
        frames_name = frames
    specs: list[TraceSpec] = []
    for name in traces:
        info = _lookup(streams, name, "trace_streams")
        if info.kind == "frames":
            raise SpoolStreamError(
                f"stream {name!r} carries frames: a series records one camera's frames (for now "
                f"{frames_name!r}). Record {name!r} with frames_stream={name!r} in a series of "
                "its own; trace_streams takes trace streams: "
                f"{[n for n, s in streams.items() if s.kind == 'trace'] or 'none'}"
            )
        if info.kind != "trace":
            raise SpoolStreamError(
                f"stream {name!r} carries {info.kind}; a series records frames and traces only"
            )
        if name in RESERVED_NAMES:
            raise SpoolStreamError(
                f"trace stream {name!r} would clash with the series' {name!r} "
                f"(frames and coordinates {sorted(RESERVED_NAMES)}); give the node another name"
            )
        specs.append(
            TraceSpec(name, tuple(info.channels), info.units, float(info.rate_hz), info.owner)
        )
    method = settings["method"]
    if specs and not getattr(sinks[method], "stores_traces", False):
        able = [m for m, cls in sinks.items() if getattr(cls, "stores_traces", False)]
        raise SpoolStreamError(
            f"method {method!r} stores one camera's frames only; a series with trace streams "
            f"needs method {' or '.join(repr(m) for m in able)} (e.g. method={able[0]!r})"
            if able
            else f"no spool method stores trace streams; drop trace_streams={traces!r}"
        )
    return StreamPlan(frames, frames_name, tuple(specs))


class CameraSource:
    """The frames a series records, seen through the host: its default camera (as before
    named streams existed) or the frames stream the plan names."""

    def __init__(self, host: Any, stream: str | None) -> None:
        self.host = host
        self.stream = stream

    def _kw(self) -> dict[str, str]:
        return {} if self.stream is None else {"stream": self.stream}

    def open_reader(self, name: str) -> Any:
        return self.host.open_reader(name=name, **self._kw())

    def frame_rate_hz(self) -> float:
        return float(self.host.frame_rate_hz(**self._kw()))

    def pixel_size_um(self) -> float:
        return float(self.host.pixel_size_um(**self._kw()))
