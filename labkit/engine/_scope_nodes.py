"""``scope.nodes``: processing nodes of the engine (see ``_nodes``): add, list, remove.

::

    scope.nodes.add("roi_stats", rois=[("bead1", 10, 20, 16, 16)])   # a trace stream "roi_stats1"
    scope.nodes.add(lambda frame, meta: {"mean": frame.mean()}, name="mean")   # thread mode
    scope.nodes.add("mylab.nodes:Tracker", mode="process", input="camera2")
    scope.traces["mean"]             # its output, as xr.DataArray (time, channel)
    scope.health().nodes["mean"]     # frames in/lost, lag, ms per frame, state
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from labkit.engine._nodes import plain_params
from labkit.engine._scope_commands import function_path

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope

__all__ = ["ScopeNodes"]


class ScopeNodes(Mapping[str, dict]):
    """The nodes of a scope's engine, by name (each a description with its health)."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def add(
        self,
        node: Any,
        input: str | None = None,
        name: str | None = None,
        mode: str = "thread",
        **params: Any,
    ) -> dict[str, Any]:
        """Add and start a node reading ``input`` (default: the first camera); returns its
        description (its output is a stream named ``name``).

        ``node``: a built-in name (``"roi_stats"``, ``"frame_stats"``, ``"downsample"``),
        ``"package.module:Name"``, or — with a thread-mode scope — a Node object or a function
        ``fn(frame, meta) -> dict[str, float]``. ``mode="process"`` runs it in a worker process.
        ``params`` configure it (e.g. ``rois=[...]`` for ``roi_stats``).

        Raises:
            ValueError: unknown node, input or mode; a name that is taken; code that another
                process cannot load.  TypeError: unknown parameters (names the accepted ones).
            NodeError: the node refused its input (a ROI outside the frame).
            PermissionError: a remote engine that does not take code from its clients.
        """
        scope = self._scope
        if scope.mode == "thread" and mode == "thread" and not isinstance(node, str):
            return scope._host.engine.nodes.add(node, name or "", input or "", mode, params)
        spec = node if isinstance(node, str) else function_path(node)
        return scope._call(
            "add_node", node=spec, name=name or "", input=input or "", mode=mode,
            params=plain_params(params),
        )  # fmt: skip

    def remove(self, name: str) -> None:
        """Stop and remove node ``name`` (its output stream goes away).

        Raises:
            LookupError: no such node.
        """
        self._scope._call("remove_node", name=name)

    def describe(self) -> dict[str, dict[str, Any]]:
        return self._scope._call("nodes")

    def __getitem__(self, name: str) -> dict[str, Any]:
        found = self.describe()
        if name not in found:
            raise KeyError(f"no node {name!r}; nodes: {', '.join(found) or 'none'}")
        return found[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.describe())

    def __len__(self) -> int:
        return len(self.describe())

    def __repr__(self) -> str:
        return f"<nodes {', '.join(self.describe()) or 'none'}>"
