"""The nodes of one engine: adding, removing, following their inputs, reporting their health.

A node is given as a built-in name (``"roi_stats"``, ``"frame_stats"``, ``"downsample"``), an
import path ``"package.module:Name"`` (a :class:`~labkit.engine._nodes.Node` subclass, or a
function ``fn(frame, meta) -> dict``), or — in the engine's own process — a Node object or a
function. Import paths run code in the engine, so only the engine's owner may name them (the
``allow_client_code`` rule of user commands).
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any

from labkit.buffers import sweep_stale_segments
from labkit.engine import events
from labkit.engine._node_process import ProcessNodeRunner
from labkit.engine._node_runner import ThreadNodeRunner
from labkit.engine._nodes import BUILTIN_NODES, FunctionNode, Node, NodeState, plain_params
from labkit.engine._streams import StreamInfo
from labkit.engine._user_commands import load_function

if TYPE_CHECKING:
    from labkit.engine._engine import Engine

log = logging.getLogger(__name__)

__all__ = ["NodeTable", "make_node"]

MODES = ("thread", "process")


def make_node(spec: Any, params: dict[str, Any]) -> Node:
    """A configured node from a built-in name, an import path, a Node or a function.

    Raises:
        ValueError: an unknown name or a path that does not load.  TypeError: bad parameters.
    """
    if isinstance(spec, str):
        if spec in BUILTIN_NODES:
            node: Node = BUILTIN_NODES[spec]()
        elif ":" in spec:
            found = load_function(spec)
            if isinstance(found, type) and issubclass(found, Node):
                node = found()
            else:
                node = FunctionNode(found)  # type: ignore[arg-type]
        else:
            raise ValueError(
                f"unknown node {spec!r}: use one of {', '.join(BUILTIN_NODES)}, a "
                "'package.module:Name' path, a Node, or a function fn(frame, meta) -> dict"
            )
    elif isinstance(spec, Node):
        node = spec
    elif callable(spec):
        node = FunctionNode(spec)
    else:
        raise TypeError(
            f"a node is a name, a path, a Node or a function, not {type(spec).__name__}"
        )
    if node.state is NodeState.CREATED:
        node.configure(**params)
    elif params:
        raise TypeError(f"{type(node).__name__} is configured already; pass no parameters")
    return node


class NodeTable:
    """The nodes of one engine (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._runners: dict[str, Any] = {}
        self._kinds: dict[str, str] = {}
        self._definitions: dict[str, dict[str, Any] | None] = {}  # how to add each again
        self._counter = itertools.count(1)

    def add(
        self,
        spec: Any,
        name: str = "",
        input: str = "",
        mode: str = "thread",
        params: dict[str, Any] | None = None,
        from_client: bool = False,
    ) -> dict[str, Any]:
        """Build, initialize and start a node; returns its description.

        Raises:
            PermissionError: a client named code by import path on an engine that refuses it.
            ValueError: an unknown mode, input or node, or a name that is taken.
            NodeError: the node refused its input (e.g. a ROI outside the frame).
        """
        params = dict(params or {})
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        is_path = isinstance(spec, str) and spec not in BUILTIN_NODES
        if from_client and is_path and not self._engine.commands.allow_client_code:
            raise PermissionError(
                "this engine does not run code its clients name; use a built-in node "
                f"({', '.join(BUILTIN_NODES)}) or add nodes where the engine runs"
            )
        if mode == "process" and not isinstance(spec, str):
            raise ValueError(
                "a node in a worker process is named by a built-in name or 'package.module:Name' "
                "(labkit never pickles): define it in an importable module"
            )
        source = self._input(input)
        kind = spec if isinstance(spec, str) else getattr(spec, "kind", type(spec).__name__)
        with self._lock:
            name = name or self._fresh_name(str(kind).rsplit(":", 1)[-1])
            if not name.isidentifier():
                raise ValueError(f"node name {name!r} is not a Python identifier; pick another")
            if name in self._runners or name in self._engine.streams.all():
                raise ValueError(
                    f"a node or stream named {name!r} exists already; pick another name or "
                    "remove it first (scope.nodes.remove)"
                )
            self._runners[name] = None  # reserved while it starts
        try:
            if mode == "thread":
                runner: Any = ThreadNodeRunner(name, make_node(spec, params), source,
                                               self._output, self._failed)  # fmt: skip
            else:
                runner = ProcessNodeRunner(name, spec, params, source, self._output, self._gone,
                                           self._failed)  # fmt: skip
        except BaseException:
            with self._lock:
                self._runners.pop(name, None)
            raise
        with self._lock:
            self._runners[name] = runner
            self._kinds[name] = str(kind)
            self._definitions[name] = (
                {"node": spec, "input": source.name, "mode": mode, "params": plain_params(params)}
                if isinstance(spec, str)
                else None  # a Node object or a function: no text can make it again
            )
        log.info("node %s (%s, %s mode) reads %s", name, kind, mode, source.name)
        return self.describe()[name]

    def _fresh_name(self, kind: str) -> str:
        while True:
            name = f"{kind}{next(self._counter)}"
            if name not in self._runners and name not in self._engine.streams.all():
                return name

    def _input(self, input: str) -> StreamInfo:
        streams = self._engine.streams.all()
        if not input:
            first = next((s for s in streams.values() if s.kind == "frames"), None)
            if first is None:
                raise ValueError("this engine has no frames stream; name the node's input")
            return first
        if input not in streams:
            raise ValueError(
                f"no stream named {input!r} to feed the node; streams: {', '.join(streams)}"
            )
        return streams[input]

    def _output(self, info: StreamInfo) -> None:
        self._engine._put_stream(info)

    def _gone(self, name: str) -> None:
        """A node's worker process died: its output stream and buffers went with it."""
        self._engine._drop_stream(name)
        swept = sweep_stale_segments()
        if swept:
            log.info(
                "removed the shared memory of node %s's dead worker: %s", name, ", ".join(swept)
            )

    def _failed(self, name: str, exc: BaseException) -> None:
        self._engine.emit(
            "error",
            events.ErrorEvent(type=type(exc).__name__, message=str(exc), where=f"node:{name}"),
        )

    def stream_changed(self, info: StreamInfo) -> None:
        """A stream's buffer changed: nodes reading it follow."""
        with self._lock:
            runners = [r for r in self._runners.values() if r is not None]
        for runner in runners:
            if runner.health().get("input") == info.name:
                runner.follow(info)

    def remove(self, name: str) -> None:
        """Stop and close node ``name``; its output stream goes away.

        Raises:
            LookupError: no such node (the message lists them).
        """
        with self._lock:
            runner = self._runners.pop(name, None)
            self._kinds.pop(name, None)
            self._definitions.pop(name, None)
        if runner is None:
            raise LookupError(
                f"no node named {name!r}; nodes: {', '.join(self._runners) or 'none'}"
            )
        runner.close()
        self._engine._drop_stream(name)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            runners = dict(self._runners)
        out = {}
        for name, runner in runners.items():
            if runner is None:
                continue
            info = runner.output_info
            out[name] = {
                "name": name,
                "kind": self._kinds.get(name, ""),
                "mode": runner.mode,
                "output": None if info is None else info.to_json(),
                "definition": self._definitions.get(name),
                **runner.health(),
            }
        return out

    def health(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            runners = dict(self._runners)
        return {n: {**r.health(), "mode": r.mode} for n, r in runners.items() if r is not None}

    def idents(self) -> set[int]:
        with self._lock:
            return {r.ident for r in self._runners.values() if r is not None and r.ident}

    def close(self) -> None:
        with self._lock:
            runners, self._runners = dict(self._runners), {}
        for name, runner in runners.items():
            if runner is None:
                continue
            try:
                runner.close()
            except Exception:
                log.exception("closing node %s failed", name)
            self._engine._drop_stream(name)
