"""The dashboard's live area: one LiveView per camera (side by side or in tabs) and the ROI
statistics each view's drawn ROI feeds.

Drawing a ROI in a camera's live view adds (or replaces) an engine ``roi_stats`` node named
``roi_<camera>`` reading that camera's stream: the ROI's mean and max per frame, computed in the
engine beside the camera — also for frames the browser never painted — and plotted in the
dashboard's ROI plot. Clearing the ROI removes the node. A ROI the engine refuses (outside the
frame after a binning change) is shown as the dashboard's error, where the user looks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

__all__ = ["LAYOUTS", "TRACE_KW", "LiveArea", "camera_streams", "roi_node_name"]

logger = logging.getLogger(__name__)

LAYOUTS = ("grid", "tabs")
#: how the dashboard's trace plots draw: on a canvas (a bqplot SVG redrawn 10 times a second
#: costs the page ~800 DOM mutations a second, which cut the live view's painted rate by a
#: quarter to a third in Voila: 28 vs 38 fps painted at load 5, bare live view 41), 10 times a
#: second (each redraw is a page frame the compositor makes beside the live view's; at 20 Hz the
#: live view beside it painted ~2-5 fps fewer than at 10 Hz, `labkit bench live`)
TRACE_KW: dict[str, Any] = {"renderer": "canvas", "refresh_hz": 10.0}
#: statistics the dashboard's ROI node computes
ROI_STATS = ("mean", "max")


def roi_node_name(stream: str | None) -> str:
    """The node (and trace stream) a camera's drawn ROI feeds (None: the first camera)."""
    return f"roi_{stream}" if stream else "roi"


def camera_streams(scope: Any) -> list[str]:
    """The frames streams a device writes (cameras, not node outputs), in engine order."""
    devices = set(getattr(scope, "devices", {}) or {})
    streams = getattr(scope, "streams", None) or {}
    return [n for n, s in streams.items() if s.kind == "frames" and s.owner in devices]


class LiveArea:
    """Live views of ``cameras`` (stream names) laid out as ``layout`` ("grid" or "tabs"), and
    the ROI nodes and plot their ROIs drive.

    ``on_error(message | None)`` receives what went wrong with a ROI (None when a later ROI
    worked). ``widget`` is the box to place; ``close()`` closes views, plot and ROI nodes.
    """

    def __init__(
        self,
        scope: Any,
        cameras: list[str | None],
        layout: str,
        live_kw: dict[str, Any],
        window_s: float,
        on_error: Callable[[str | None], None],
    ) -> None:
        from labkit.widgets._liveview import LiveView

        if layout not in LAYOUTS:
            raise ValueError(f"cameras_layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.scope = scope
        self.layout = layout
        self.window_s = window_s
        self._on_error = on_error
        self.views: dict[str | None, Any] = {}
        self.roi_nodes: dict[str | None, str] = {}  # camera stream -> its ROI node
        self.roi_plot: Any = None
        self.roi_box = widgets.Box([], layout=widgets.Layout(width="100%", min_width="0"))
        try:
            for stream in cameras:
                view = LiveView(scope, stream=stream, **live_kw)
                self.views[stream] = view
                view.observe(lambda change, s=stream: self._on_roi(s, change["new"]), names="roi")
        except BaseException:
            self.close()
            raise
        self.widget = self._layout_views()

    def _layout_views(self) -> widgets.Widget:
        views = list(self.views.values())
        if len(views) == 1:
            return views[0]
        if self.layout == "tabs":
            tabs = widgets.Tab(children=views)
            for i, stream in enumerate(self.views):
                tabs.set_title(i, str(stream))
            tabs.add_class("labkit-live-tabs")
            return tabs
        for view in views:
            view.layout = widgets.Layout(flex="1 1 0", min_width="0")
        box = widgets.Box(views, layout=widgets.Layout(width="100%", align_items="flex-start"))
        box.add_class("labkit-live-grid")
        return box

    # ------------------------------------------------------------------ ROI -> node
    def _on_roi(self, stream: str | None, roi: Any) -> None:
        """A ROI was drawn (``(x, y, w, h)`` in frame pixels) or cleared (None) in ``stream``'s
        view: replace its node and point the ROI plot at it."""
        name = roi_node_name(stream)
        try:
            if self.roi_nodes.pop(stream, None) is not None:
                try:
                    self.scope.nodes.remove(name)
                except LookupError:  # the engine restarted since: its nodes went with it
                    logger.debug("ROI node %s was already gone", name)
            if roi is None:
                self._drop_plot_if_unused()
                self._on_error(None)
                return
            x, y, w, h = (int(v) for v in roi)
            self.scope.nodes.add(
                "roi_stats", input=stream, name=name, rois=[("roi", y, x, h, w)], stats=ROI_STATS
            )
            self.roi_nodes[stream] = name
            self._show_plot(name, stream)
            self._on_error(None)
        except Exception as exc:  # shown in the dashboard, where the user looks
            logger.warning("ROI of %s not applied: %s", stream, exc)
            self._on_error(f"ROI of {stream}: {type(exc).__name__}: {exc}")

    def _show_plot(self, node: str, stream: str | None) -> None:
        title = f"ROI of {stream or 'the camera'}"
        if self.roi_plot is None:
            from labkit.widgets._traceplot import TracePlot

            self.roi_plot = TracePlot(
                self.scope, stream=node, window_s=self.window_s, title=title, **TRACE_KW
            )
            self.roi_plot.layout.width = "100%"
            self.roi_plot.add_class("labkit-roi-plot")
            self.roi_box.children = [self.roi_plot]
        else:
            self.roi_plot.stream = node
            self.roi_plot.title = title

    def _drop_plot_if_unused(self) -> None:
        """After a ROI was cleared: plot another camera's ROI if one is left, else no plot."""
        if self.roi_plot is None:
            return
        if self.roi_nodes:
            stream, node = next(reversed(self.roi_nodes.items()))
            if self.roi_plot.stream != node:
                self._show_plot(node, stream)
            return
        plot, self.roi_plot = self.roi_plot, None
        self.roi_box.children = []
        plot.close()

    # ------------------------------------------------------------------ lifetime
    def start(self) -> None:
        for view in self.views.values():
            view.start()

    def close(self) -> None:
        """Remove the ROI nodes (the engine may be gone: then they went with it) and close
        every view and the plot."""
        for stream, node in list(self.roi_nodes.items()):
            try:
                self.scope.nodes.remove(node)
            except Exception:  # noqa: BLE001 - a closed or failed engine has no nodes left
                logger.debug("ROI node %s of %s not removed", node, stream, exc_info=True)
        self.roi_nodes.clear()
        for view in self.views.values():
            view.close()
        if self.roi_plot is not None:
            self.roi_plot.close()
            self.roi_plot = None
        self.roi_box.close()
        widget = getattr(self, "widget", None)
        if widget is not None and widget not in self.views.values():
            widget.close()
