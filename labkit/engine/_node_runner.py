"""Running a node: a thread that reads its input stream and writes its output stream.

The same :class:`NodeLoop` runs in an engine thread (:class:`ThreadNodeRunner`) or in a worker
process (``_node_worker``, driven by :class:`ProcessNodeRunner` in ``_node_process``). It reads
with its own ring reader (never on the camera's path: a slow node loses frames, counted, and the
camera never waits), times each ``process`` call, and follows its input when the ring is remade.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.buffers import FrameRing, RingError, RingReader, TraceBuffer, TraceReader
from labkit.engine._nodes import Node, NodeError, NodeOutput, NodeState
from labkit.engine._streams import StreamInfo

log = logging.getLogger(__name__)

__all__ = ["NodeLoop", "ThreadNodeRunner"]

_POLL_S = 0.2
_TRACE_CAPACITY = 100_000
_FRAME_SLOTS = 16
_META_FIELDS = tuple(n for n in RingReader.meta_dtype.names or () if n != "index")


class NodeLoop:
    """Feeds one node from its input and writes its output; counts what it did.

    ``on_output(info)`` is called when the output stream exists (or changed); ``on_error(exc)``
    when the node fails (the loop stops then).
    """

    def __init__(
        self,
        name: str,
        node: Node,
        input: StreamInfo,
        on_output: Callable[[StreamInfo], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.name, self.node, self.input = name, node, input
        self._on_output, self._on_error = on_output, on_error
        self._stop = threading.Event()
        self._new_input: StreamInfo | None = None
        self.output: TraceBuffer | FrameRing | None = None
        self.output_info: StreamInfo | None = None
        self._channels: tuple[str, ...] | None = None
        self.frames_in = 0
        self.frames_out = 0
        self._lost_before = 0
        self._reader: Any = None
        self._meta = np.zeros(1, RingReader.meta_dtype)
        self.torn = 0  # frames read in place that the camera overwrote before process() ended
        self.ms_per_frame = 0.0
        self.error = ""
        spec = node.initialize(input)
        self._make_output(spec)

    # -- output ----------------------------------------------------------------------------------

    def _make_output(self, spec: NodeOutput) -> None:
        old = self.output
        if spec.kind == "frames":
            ring = FrameRing.create(spec.shape, np.dtype(spec.dtype), n_slots=_FRAME_SLOTS)
            self.output = ring
            info = StreamInfo(
                name=self.name, kind="frames", owner=self.name, buffer=ring.name,
                shape=tuple(spec.shape), dtype=np.dtype(spec.dtype).str, rate_hz=spec.rate_hz,
            )  # fmt: skip
        elif spec.channels is None:
            self.output, info = None, None  # a trace named by the first result
        else:
            self._channels = tuple(spec.channels)
            buffer = TraceBuffer.create(self._channels, capacity=_TRACE_CAPACITY)
            self.output = buffer
            info = StreamInfo(
                name=self.name, kind="trace", owner=self.name, buffer=buffer.name,
                channels=self._channels, rate_hz=spec.rate_hz,
            )  # fmt: skip
        if old is not None:
            old.close()
        self.output_info = info
        if info is not None:
            self._on_output(info)

    def _write(self, result: Any, meta: dict[str, Any]) -> None:
        if result is None:
            return
        t = float(meta.get("timestamp_s") or time.time())
        if isinstance(result, np.ndarray):
            assert isinstance(self.output, FrameRing)
            self.output.write(result, timestamp_s=t)
        else:
            if self._channels is None:  # the first result names the channels
                self._channels = tuple(str(k) for k in result)
                self._make_output(
                    NodeOutput("trace", channels=self._channels, rate_hz=self.input.rate_hz)
                )
            if tuple(result) != self._channels:
                raise NodeError(
                    f"node {self.name!r} returned channels {list(result)}, not the "
                    f"{list(self._channels)} of its first result"
                )
            assert isinstance(self.output, TraceBuffer)
            row = np.array([[float(result[c]) for c in self._channels]])
            self.output.write(np.array([t]), row)
        self.frames_out += 1

    # -- input -----------------------------------------------------------------------------------

    def follow(self, info: StreamInfo) -> None:
        """The input stream changed (a new ring): re-attach before the next frame (thread-safe)."""
        self._new_input = info

    def _attach(self) -> None:
        if self._reader is not None:
            self._lost_before += int(getattr(self._reader, "frames_lost", 0))
            self._reader.close()
        if self.input.kind == "frames":
            self._reader = RingReader.attach(self.input.buffer, f"node:{self.name}")
        else:
            self._reader = TraceReader.attach(self.input.buffer)

    def _switch_input(self) -> None:
        info, self._new_input = self._new_input, None
        if info is None or info.buffer == self.input.buffer:
            return
        spec = self.node._initialize(info)  # the node checks the new shape (ROIs inside?)
        self.input = info
        if spec != self.node.output:
            self.node.output = spec
            self._make_output(spec)
        self._attach()

    # -- the loop --------------------------------------------------------------------------------

    def attach(self) -> None:
        """Open the input reader now, on the caller's thread: a node added before the camera
        starts sees its first frame however late its thread gets going (the reader starts at
        the ring's next frame). :meth:`run` opens it if this was not called."""
        if self._reader is None:
            self._attach()

    def run(self) -> None:
        try:
            self.attach()
            while not self._stop.is_set():
                if self._new_input is not None:
                    self._switch_input()
                if self.input.kind == "frames":
                    self._frame()
                else:
                    self._rows()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.node.state = NodeState.FAILED
            log.warning("node %s failed: %s", self.name, self.error)
            self._on_error(exc)
        finally:
            if self._reader is not None:
                self._lost_before += int(getattr(self._reader, "frames_lost", 0))
                self._reader.close()
                self._reader = None

    def _frame(self) -> None:
        """One frame, read in place: ``process`` gets a read-only view of the ring slot (no
        copy of a 2048² frame per node), and its result is kept only if the slot still held
        that frame when it returned (else the frame counts as lost: the camera overwrote it)."""
        reader = self._reader
        try:
            index = reader.next_meta_into(self._meta, timeout=_POLL_S)
        except TimeoutError:
            return
        except RingError:
            if self._new_input is None:  # the owner closed the ring: wait to be told the new one
                self._stop.wait(_POLL_S)
            return
        record = self._meta[0]
        meta = {name: float(record[name]) for name in _META_FIELDS}
        self._step(reader.frame_view(index), meta, lambda: reader.is_intact(index))

    def _rows(self) -> None:
        t, v, lost = self._reader.read_new()
        self._lost_before += lost
        if not len(t):
            self._stop.wait(_POLL_S / 4)
            return
        for k in range(len(t)):
            self._step(v[k], {"timestamp_s": float(t[k])})

    def _step(
        self, data: np.ndarray, meta: dict[str, Any], intact: Callable[[], bool] | None = None
    ) -> None:
        t0 = time.perf_counter()
        result = self.node.process(data, meta)
        if intact is not None and not intact():
            self.torn += 1  # computed from a slot the camera reused meanwhile: not written
            return
        self._write(result, meta)
        elapsed_ms = (time.perf_counter() - t0) * 1e3
        self.frames_in += 1
        self.ms_per_frame = (
            elapsed_ms if self.frames_in == 1 else 0.9 * self.ms_per_frame + 0.1 * elapsed_ms
        )

    def stop(self) -> None:
        self._stop.set()

    def health(self) -> dict[str, Any]:
        reader = self._reader
        lost = self._lost_before + int(getattr(reader, "frames_lost", 0) or 0) + self.torn
        lag = 0
        if isinstance(reader, RingReader):
            try:
                lag = max(0, reader.ring.frames_written - reader.cursor)
            except RingError:
                lag = 0
        return {
            "state": self.node.state.value,
            "input": self.input.name,
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_lost": lost,
            "lag": lag,
            "ms_per_frame": round(self.ms_per_frame, 4),
            "error": self.error,
        }

    def close(self) -> None:
        if self.output is not None:
            self.output.close()
            self.output = None


class ThreadNodeRunner:
    """A node running on its own thread of the engine's process."""

    mode = "thread"

    def __init__(
        self,
        name: str,
        node: Node,
        input: StreamInfo,
        on_output: Callable[[StreamInfo], None],
        on_error: Callable[[str, BaseException], None],
    ) -> None:
        self.name = name
        self.loop = NodeLoop(name, node, input, on_output, lambda exc: on_error(name, exc))
        self.loop.attach()
        node.start()
        self._thread = threading.Thread(
            target=self.loop.run, name=f"labkit-node-{name}", daemon=True
        )
        self._thread.start()

    def follow(self, info: StreamInfo) -> None:
        self.loop.follow(info)

    def health(self) -> dict[str, Any]:
        return {**self.loop.health(), "mode": self.mode}

    @property
    def output_info(self) -> StreamInfo | None:
        return self.loop.output_info

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def close(self) -> None:
        self.loop.stop()
        self._thread.join(10.0)
        node = self.loop.node
        if node.state is NodeState.RUNNING:
            node.stop()
        node.close()
        self.loop.close()
