"""Processing nodes: pyacq's lifecycle, fed by a stream, writing a stream of their own.

A node is ``configure(**params)`` → ``initialize(input)`` → ``start()``/``stop()`` (repeatable) →
``close()``; a call in the wrong state raises :class:`NodeStateError` naming the state and what is
allowed. ``process(data, meta)`` is called for every item of the input stream (a frame, or a row
of a trace with ``meta["timestamp_s"]``) and returns the node's output for it — a frame is a
read-only view of its ring slot, valid until ``process`` returns (copy it to keep it): a
``{channel: value}`` dict for a trace output, an array for a frames output, or ``None`` for
nothing. Nodes never run on a camera's thread: the engine runs each in its own thread, or in a
worker process that maps the ring (``mode="process"``, for work that holds the GIL).

Built in: ``roi_stats`` (:class:`RoiStatsNode`), ``frame_stats`` (:class:`FrameStatsNode`),
``downsample`` (:class:`DownsampleNode`), ``bead_tracker`` (``_tracking_node.BeadTrackerNode``);
any function ``fn(frame, meta) -> dict[str, float]``
becomes a :class:`FunctionNode`.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from labkit.engine._state import EngineError
from labkit.engine._streams import StreamInfo
from labkit.processing import Roi, bin_mean, frame_stats, roi_channels, roi_stats

__all__ = [
    "BUILTIN_NODES",
    "DownsampleNode",
    "FrameStatsNode",
    "FunctionNode",
    "Node",
    "NodeError",
    "NodeOutput",
    "NodeState",
    "NodeStateError",
    "RoiStatsNode",
    "plain_params",
]


class NodeState(enum.StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    INITIALIZED = "initialized"
    RUNNING = "running"
    STOPPED = "stopped"
    CLOSED = "closed"
    FAILED = "failed"


class NodeError(EngineError):
    """A node could not be built, configured or fed (the message says why)."""


class NodeStateError(NodeError):
    """A node lifecycle call in the wrong state (names the state and the allowed calls)."""


_ALLOWED: dict[str, tuple[NodeState, ...]] = {
    "configure": (NodeState.CREATED, NodeState.CONFIGURED),
    "initialize": (NodeState.CONFIGURED,),
    "start": (NodeState.INITIALIZED, NodeState.STOPPED),
    "stop": (NodeState.RUNNING,),
    "process": (NodeState.RUNNING,),
}


@dataclass(frozen=True)
class NodeOutput:
    """What a node writes: a ``trace`` with ``channels`` (None: named by the first result), or
    ``frames`` of ``shape`` and ``dtype``."""

    kind: str
    channels: tuple[str, ...] | None = None
    shape: tuple[int, ...] = ()
    dtype: str = ""
    rate_hz: float = 0.0


class Node:
    """Base class of processing nodes; subclasses implement :meth:`_configure`,
    :meth:`_initialize` and :meth:`process`."""

    kind: ClassVar[str] = "node"

    def __init__(self) -> None:
        self.state = NodeState.CREATED
        self.params: dict[str, Any] = {}
        self.input: StreamInfo | None = None
        self.output: NodeOutput | None = None

    def _check(self, call: str) -> None:
        allowed = _ALLOWED.get(call, ())
        if self.state not in allowed:
            can = [c for c, states in _ALLOWED.items() if self.state in states] or ["none"]
            raise NodeStateError(
                f"cannot {call}() a {type(self).__name__} that is {self.state.value!r}; in that "
                f"state it allows: {', '.join(can)}"
            )

    def configure(self, **params: Any) -> None:
        """Set the node's parameters (checked by the node; unknown ones raise TypeError)."""
        self._check("configure")
        signature = inspect.signature(self._configure)
        try:
            signature.bind(**params)
        except TypeError:
            accepted = [n for n, p in signature.parameters.items() if p.kind != p.VAR_KEYWORD]
            raise TypeError(
                f"{type(self).__name__} takes the parameters {accepted}, got {sorted(params)}"
            ) from None
        self._configure(**params)
        self.params = dict(params)
        self.state = NodeState.CONFIGURED

    def initialize(self, input: StreamInfo) -> NodeOutput:
        """Check the input stream and say what the output is."""
        self._check("initialize")
        self.output = self._initialize(input)
        self.input = input
        self.state = NodeState.INITIALIZED
        return self.output

    def start(self) -> None:
        self._check("start")
        self.state = NodeState.RUNNING

    def stop(self) -> None:
        self._check("stop")
        self.state = NodeState.STOPPED

    def close(self) -> None:
        self.state = NodeState.CLOSED

    def _configure(self, **params: Any) -> None:
        """Validate and store parameters (a subclass's signature is the list it accepts)."""
        if params:
            raise TypeError(f"{type(self).__name__} takes no parameters, got {sorted(params)}")

    def _initialize(self, input: StreamInfo) -> NodeOutput:
        raise NotImplementedError

    def process(self, data: np.ndarray, meta: dict[str, Any]) -> Any:
        raise NotImplementedError


def _frames_input(node: Node, input: StreamInfo) -> None:
    if input.kind != "frames":
        raise NodeError(
            f"{type(node).__name__} reads frames; stream {input.name!r} is a {input.kind}"
        )


class RoiStatsNode(Node):
    """Mean (or sum, max, min) of every ROI of each frame: a trace ``<roi>_<stat>``."""

    kind = "roi_stats"

    def _configure(  # type: ignore[override]
        self, rois: list[Any], stats: list[str] | tuple[str, ...] = ("mean",)
    ) -> None:
        self.rois = [Roi.of(r) for r in rois]
        if not self.rois:
            raise ValueError("roi_stats needs at least one ROI")
        self.stats = tuple(stats)
        self.channels = roi_channels(self.rois, self.stats)

    def _initialize(self, input: StreamInfo) -> NodeOutput:
        _frames_input(self, input)
        for roi in self.rois:
            roi.check(input.shape)
        return NodeOutput("trace", channels=self.channels, rate_hz=input.rate_hz)

    def process(self, data: np.ndarray, meta: dict[str, Any]) -> dict[str, float]:
        return roi_stats(data, self.rois, self.stats)


class FrameStatsNode(Node):
    """Min, max, mean and saturated pixels of each frame: a trace."""

    kind = "frame_stats"

    def _configure(self, saturation: float | None = None) -> None:  # type: ignore[override]
        self.saturation = saturation

    def _initialize(self, input: StreamInfo) -> NodeOutput:
        _frames_input(self, input)
        return NodeOutput(
            "trace", channels=("min", "max", "mean", "saturated"), rate_hz=input.rate_hz
        )

    def process(self, data: np.ndarray, meta: dict[str, Any]) -> dict[str, float]:
        return frame_stats(data, self.saturation)


class DownsampleNode(Node):
    """Every ``every``-th frame, binned by ``bin``: a frames stream."""

    kind = "downsample"

    def _configure(self, every: int = 1, bin: int = 1) -> None:  # type: ignore[override]  # noqa: A002
        if int(every) < 1 or int(bin) < 1:
            raise ValueError(f"every and bin must be >= 1, got every={every}, bin={bin}")
        self.every, self.bin = int(every), int(bin)
        self._count = 0

    def _initialize(self, input: StreamInfo) -> NodeOutput:
        _frames_input(self, input)
        h, w = input.shape[-2:]
        if h // self.bin < 1 or w // self.bin < 1:
            raise NodeError(f"bin={self.bin} leaves nothing of {h}x{w} frames")
        return NodeOutput(
            "frames", shape=(h // self.bin, w // self.bin), dtype=input.dtype,
            rate_hz=input.rate_hz / self.every,
        )  # fmt: skip

    def process(self, data: np.ndarray, meta: dict[str, Any]) -> np.ndarray | None:
        self._count += 1
        if (self._count - 1) % self.every:
            return None
        return bin_mean(data, self.bin) if self.bin > 1 else data


class FunctionNode(Node):
    """``fn(frame, meta) -> dict[str, float]`` as a node: a trace whose channels are the keys of
    the first result (later results must have the same keys)."""

    kind = "function"

    def __init__(self, fn: Callable[[np.ndarray, dict], dict[str, float]]) -> None:
        super().__init__()
        if not callable(fn):
            raise TypeError(f"a function node needs a callable(frame, meta), got {fn!r}")
        self.fn = fn

    def _initialize(self, input: StreamInfo) -> NodeOutput:
        return NodeOutput("trace", channels=None, rate_hz=input.rate_hz)

    def process(self, data: np.ndarray, meta: dict[str, Any]) -> dict[str, float]:
        out = self.fn(data, meta)
        if not isinstance(out, dict):
            raise TypeError(
                f"{getattr(self.fn, '__name__', 'the function')} must return a dict of "
                f"channel -> number, got {type(out).__name__}"
            )
        return out


def plain_params(value: Any) -> Any:
    """Node parameters as plain JSON-able values (a :class:`~labkit.processing.Roi` becomes its
    dict), for the wire and for a worker process."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain_params(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain_params(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_params(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# the bead tracker subclasses Node, so it is imported once Node exists
from labkit.engine._tracking_node import BeadTrackerNode  # noqa: E402

BUILTIN_NODES: dict[str, type[Node]] = {
    "roi_stats": RoiStatsNode,
    "frame_stats": FrameStatsNode,
    "downsample": DownsampleNode,
    "bead_tracker": BeadTrackerNode,
}
