"""Dashboard: live view, device panels, traces, spool panel and engine controls in one widget.

Layout (an ipywidgets GridBox in Jupyter and Voila; a marimo vstack/hstack in marimo)::

    +---------------------------------------------------------------+
    | title | state badge | start | stop | health: fps, fill, losses|   controls (a Form)
    +--------------------------------------+------------------------+
    | LiveView                             | device panels (tabs)   |
    |                                      | spool panel            |
    |                                      | settings file: export  |
    |                                      |                import  |
    |                                      +------------------------+
    |                                      | TracePlot              |
    +--------------------------------------+------------------------+

The live image is as big as the window's height allows (and no wider than leaves the side
column its minimum); the side column takes the rest of the width, with the device tabs and the
spool panel side by side when it is wide enough.

The controls, device panels and spool panel are :class:`Form` anywidgets and the live view is an
anywidget, so every part renders in JupyterLab, Notebook 7, Voila and marimo. marimo renders no
classic ipywidgets boxes: there ``_display_()`` lays the same child widgets out with marimo's
own layout. Everything updates from the scope's events (``state``, ``health``, ``error``,
``property``); ``close()`` closes every child and its thread but leaves the scope open.
"""

from __future__ import annotations

import html
import logging
import os
from typing import Any

import ipywidgets as widgets

from labkit.engine import events
from labkit.widgets._dashboard_live import TRACE_KW, LiveArea, camera_streams
from labkit.widgets._dashboard_settings import SettingsRow
from labkit.widgets._device_panel import DevicePanel
from labkit.widgets._form import Form
from labkit.widgets._frontends import close_with_comm

__all__ = ["Dashboard"]

logger = logging.getLogger(__name__)

#: CSS px the side column (device panels, spool panel) needs at least; it takes what the live
#: image leaves over
SIDE_MIN_PX = 440
#: CSS px of the window height the live view keeps for its toolbar and histogram, and of its
#: profile strip (``js/src/liveview/layout.ts``: CHROME_H, PROFILE_STRIP_W)
_LIVE_CHROME_PX, _LIVE_STRIP_PX = 170, 66

STATE_COLORS = {
    "created": "#757575",
    "ready": "#1565c0",
    "running": "#2e7d32",
    "stopped": "#757575",
    "failed": "#c62828",
    "closed": "#424242",
}


def _placeholder_html(what: str, exc: BaseException) -> str:
    return (
        f'<div class="labkit-placeholder" style="border:1px dashed #c62828;padding:8px;'
        f'color:#c62828">{html.escape(what)} is unavailable: {html.escape(type(exc).__name__)}: '
        f"{html.escape(str(exc))}</div>"
    )


def _controls(title: str) -> Form:
    r = Form.row
    return Form(
        [
            r("badge", "state", label="", cls="labkit-state"),
            r(
                "buttons",
                "actions",
                label="",
                buttons=[
                    {
                        "name": "start",
                        "label": "▶ Start",
                        "style": "success",
                        "cls": "labkit-start",
                    },
                    {"name": "stop", "label": "■ Stop", "style": "warning", "cls": "labkit-stop"},
                ],
            ),
            r("label", "health", label="", cls="labkit-health"),
        ],  # fmt: skip
        title=title,
        css_class="labkit-inline labkit-dashboard-controls",
    )


class Dashboard(widgets.GridBox):
    """One widget to run a scope: ``scope.dashboard()`` or ``Dashboard(scope)``.

    Args:
        scope: a ``labkit.Scope`` (thread, process or remote).
        title: heading; default ``"labkit"``.
        live_kw: keyword arguments for the :class:`LiveView` (e.g. ``max_fps``, ``colormap``).
        traces: show the signal's :class:`TracePlot` (when the scope has a trace buffer).
        window_s: trace window in seconds.
        devices: device names that get a panel; default every device of the scope.
        cameras: camera streams that get a live view (``scope.streams``); default every camera.
        cameras_layout: ``"grid"`` (side by side) or ``"tabs"`` (one tab per camera).
        settings_dir: the folder the settings row exports YAML files to and imports them from
            (``dash.settings``; default the kernel's working folder).
        tracking: add bead tracking (:class:`~labkit.widgets._tracking.TrackingPanel`): a
            ``tracking`` tab beside the devices, bead ROIs drawn over the first camera's view
            (its Pick button adds beads), the beads' x/y/z traces and the z table below.

    A ROI drawn in a live view (the ROI button, or shift-drag) becomes an engine ``roi_stats``
    node (``roi_<camera>``) whose mean and max per frame the ROI plot under the traces shows;
    clearing the ROI removes it.

    ``dash.controls`` is the header :class:`Form` (``values["state"]``, ``values["health"]``,
    buttons ``start``/``stop``; ``dash.controls.click("stop")`` does what the page does).
    Children that cannot be built (no JS bundle, no spool layer) are replaced by a red
    placeholder naming the error, so the rest of the dashboard still works.
    """

    def __init__(
        self,
        scope: Any,
        *,
        title: str = "labkit",
        live_kw: dict | None = None,
        traces: bool = True,
        window_s: float = 10.0,
        devices: list[str] | None = None,
        cameras: list[str | None] | None = None,
        cameras_layout: str = "grid",
        settings_dir: str | os.PathLike | None = None,
        tracking: bool = False,
    ) -> None:
        self._closed = True  # until built
        self.scope = scope
        self.last_error: str | None = None
        self.health: Any = None
        #: frames each ring reader lost (the most seen): kept after the reader is gone, so a
        #: loss stays on screen in red after the series that had it has finished
        self.frames_lost: dict[str, int] = {}
        self._children_to_close: list[Any] = []
        self._placeholders: dict[str, str] = {}  # part -> red HTML, for marimo

        self.controls = _controls(title)
        self.controls._on_click = self._run_action
        self._children_to_close.append(self.controls)

        # live views, one per camera, and the ROI statistics drawn in them
        self.live: Any = None  # the first camera's view
        self.lives: dict[str | None, Any] = {}  # by camera stream (None: the only camera)
        self.live_area: LiveArea | None = None
        shown: list[str | None] = list(cameras or camera_streams(scope)) or [None]
        try:
            self.live_area = LiveArea(
                scope, shown, cameras_layout, dict(live_kw or {}), window_s, self._roi_error
            )
            self.lives = dict(self.live_area.views)
            self.live = next(iter(self.lives.values()))
            self._children_to_close.append(self.live_area)
        except (TypeError, ValueError, LookupError):
            raise  # the caller's own mistake (a bad live_kw, layout or camera name)
        except Exception as exc:
            logger.exception("LiveView could not be built")
            self._placeholders["live"] = _placeholder_html("The live view", exc)
        live_box = widgets.Box(
            [self._part("live", self.live_area.widget if self.live_area else None)],
            layout=widgets.Layout(grid_area="live", min_width="0"),
        )

        # device panels
        names = devices if devices is not None else list(getattr(scope, "devices", {}))
        self.panels: dict[str, DevicePanel] = {}
        for name in names:
            try:
                self.panels[name] = DevicePanel(scope.devices[name], events=scope)
            except Exception:
                logger.exception("no panel for device %r", name)
        self._children_to_close.extend(self.panels.values())
        # bead tracking: its controls are a tab beside the devices, its plots and table below
        self.tracking: Any = None
        if tracking:
            from labkit.widgets._tracking import TrackingPanel

            self.tracking = TrackingPanel(scope, live=self.live, window_s=window_s)
            self._children_to_close.append(self.tracking)
        side_tabs = {**self.panels, **({"tracking": self.tracking.form} if tracking else {})}
        tabs = widgets.Tab(children=list(side_tabs.values()))
        for i, name in enumerate(side_tabs):
            tabs.set_title(i, name)

        # spool panel
        self.spool_panel: Any = None
        try:
            from labkit.widgets._spool_panel import SpoolPanel

            self.spool_panel = SpoolPanel(scope)
            self._children_to_close.append(self.spool_panel)
        except Exception as exc:
            logger.info("SpoolPanel unavailable: %s", exc)
            self._placeholders["spool"] = _placeholder_html("The spool panel", exc)
        spool_part = self._part("spool", self.spool_panel)
        #: export / import the scope's settings as YAML (docs/settings.md)
        self.settings = SettingsRow(scope, settings_dir)
        self._children_to_close.append(self.settings)
        for part in (tabs, spool_part):  # side by side when the column is wide enough for both
            part.layout.flex = f"1 1 {SIDE_MIN_PX - 10}px"
            part.layout.min_width = "0"
        self.settings.layout.flex = "1 1 100%"
        side = widgets.Box(
            [tabs, spool_part, self.settings],
            layout=widgets.Layout(
                grid_area="side", min_width="0", flex_flow="row wrap", align_items="flex-start"
            ),
        )

        # traces
        self.traces: Any = None
        if traces and getattr(scope, "trace_name", None):
            try:
                from labkit.widgets._traceplot import TracePlot

                self.traces = TracePlot(scope, window_s=window_s, title="signal", **TRACE_KW)
                self.traces.layout.width = "100%"  # the whole row, not the plot's own size
                self._children_to_close.append(self.traces)
            except Exception as exc:
                logger.exception("TracePlot could not be built")
                self._placeholders["traces"] = _placeholder_html("The trace plot", exc)
        trace_part = (
            self._part("traces", self.traces)
            if self.traces is not None or "traces" in self._placeholders
            else widgets.HTML("")
        )
        roi_part = self.live_area.roi_box if self.live_area else widgets.HTML("")
        tracking_parts = [self.tracking.plot_box, self.tracking.zlut_box] if tracking else []
        trace_box = widgets.Box(
            [trace_part, roi_part, *tracking_parts],
            layout=widgets.Layout(
                grid_area="traces", min_width="0", width="100%", align_self="flex-start",
                flex_flow="column",
            ),
        )  # fmt: skip

        super().__init__(
            children=[self.controls, live_box, side, trace_box],
            layout=widgets.Layout(
                grid_template_columns=_grid_columns(
                    scope, list(self.lives)[: None if cameras_layout == "grid" else 1]
                ),
                grid_template_rows="auto auto 1fr",
                grid_template_areas='"header header" "live side" "live traces"',
                grid_gap="8px",
                width="100%",
            ),
        )
        self.controls.layout = widgets.Layout(grid_area="header")
        self.add_class("labkit-dashboard")
        self._boxes = [live_box, side, tabs, trace_box]
        self._closed = False
        self._show_state(_state_value(scope))
        scope.subscribe(self._on_event)
        close_with_comm(self)  # marimo re-running the cell closes the comm: close the children too

    def _roi_error(self, message: str | None) -> None:
        """A ROI the engine refused (or, None, one it took): the header shows it in red."""
        self.last_error = message
        if not self._closed:
            self._show_state(_state_value(self.scope))

    def _part(self, name: str, widget: Any) -> widgets.Widget:
        if widget is not None:
            return widget
        box = widgets.HTML(value=self._placeholders[name])
        box.add_class("labkit-placeholder")
        return box

    # ------------------------------------------------------------------ marimo
    def _display_(self) -> Any:
        """marimo's display hook: the same child widgets in a marimo layout (marimo renders
        anywidgets but no ipywidgets boxes)."""
        import marimo as mo

        def part(name: str, widget: Any) -> Any:
            return widget if widget is not None else mo.Html(self._placeholders.get(name, ""))

        side: list[Any] = []
        if self.panels or self.tracking is not None:
            extra = {"tracking": self.tracking.form} if self.tracking is not None else {}
            side.append(mo.ui.tabs({**self.panels, **extra}))
        side.append(part("spool", self.spool_panel))
        side.append(self.settings)
        views = list(self.lives.values())
        live: Any
        if len(views) > 1 and self.live_area is not None and self.live_area.layout == "tabs":
            live = mo.ui.tabs({str(s): v for s, v in self.lives.items()})
        elif len(views) > 1:
            live = mo.hstack(views, gap=1)
        else:
            live = part("live", self.live)
        body = mo.hstack([live, mo.vstack(side)], widths=[3, 2], align="start", gap=1)
        rows: list[Any] = [self.controls, body]
        if self.traces is not None or "traces" in self._placeholders:
            traces_html = mo.as_html(part("traces", self.traces)).text
            rows.append(mo.Html(f'<div class="labkit-dashboard-traces">{traces_html}</div>'))
        if self.tracking is not None:
            rows.extend(self.tracking.marimo_parts())
        return mo.Html(f'<div class="labkit-dashboard">{mo.vstack(rows, gap=1).text}</div>')

    # ------------------------------------------------------------------ actions
    def _run_action(self, action: str) -> None:
        try:
            getattr(self.scope, action)()
        except Exception as exc:  # shown where the user looks
            logger.warning("scope.%s() failed: %s", action, exc)
            self.last_error = f"{action}: {exc}"
        else:
            self.last_error = None
            if action == "start" and self.live_area is not None:
                try:
                    self.live_area.start()
                except Exception:
                    logger.debug("live view not started", exc_info=True)
        self._show_state(_state_value(self.scope))

    # ------------------------------------------------------------------ events
    def _on_event(self, event: Any) -> None:
        if self._closed:
            return
        state = events.parse(event, events.StateEvent)
        error = events.parse(event, events.ErrorEvent)
        if state is not None:
            if state.state == "running":
                self.last_error = None
            if state.state == "ready" and state.previous in ("failed", "stopped", "running"):
                # a restarted engine came back with its factory settings: show them
                for panel in self.panels.values():
                    panel.refresh()
            self._show_state(state.state.value)
        elif error is not None:
            self.last_error = f"{error.type}: {error.message}"
            self._show_state(_state_value(self.scope))
        elif event.topic == "health":
            self.health = event.payload
            self._show_health(event.payload)
        elif (link := events.parse(event, events.LinkEvent)) is not None:
            # a remote engine's network link (the engine itself goes on)
            down = link.state == "down"
            self.last_error = f"link to {link.address} down: reconnecting" if down else None
            self._show_state(_state_value(self.scope))

    def _show_state(self, state: str) -> None:
        color = STATE_COLORS.get(state, "#757575")
        with self.controls.hold_sync():
            self.controls.set_value(
                "state", {"text": state, "color": color, "cls": f"labkit-state-{state}"}
            )
            self.controls.set_error("state", self.last_error)
            self.controls.set_disabled(
                start=state in ("running", "closed"), stop=state != "running"
            )

    def _show_health(self, h: dict) -> None:
        for name, reader in (h.get("readers") or {}).items():
            lost = int(reader.get("frames_lost", 0))
            if lost > self.frames_lost.get(name, 0):
                self.frames_lost[name] = lost
        cameras = [s for s in self.lives if s is not None]
        per_camera = h.get("streams") or {}
        if len(cameras) > 1:  # one rate per camera: each runs at its own
            fps = " · ".join(
                f"{s} {float(per_camera.get(s, {}).get('fps', 0.0)):.1f} fps" for s in cameras
            )
        else:
            fps = f"{float(h.get('fps', 0.0)):.1f} fps"
        parts = [
            fps,
            f"ring {100 * float(h.get('ring_fill', 0.0)):.0f}% full",
            f"{int(h.get('frames_acquired', 0))} frames",
            f"{int(h.get('frames_late', 0))} late",
        ]
        painted = [view.stats.get("fps_painted") for view in self.lives.values()]
        if painted and all(isinstance(p, (int, float)) for p in painted):
            parts.append(f"display {' · '.join(f'{p:.0f}' for p in painted)} fps")
        with self.controls.hold_sync():
            self.controls.set_value("health", " · ".join(parts))
            self.controls.set_error("health", _lost_text(self.frames_lost))

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Unsubscribe from the scope and close every child widget and its thread (idempotent)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            self.scope.unsubscribe(self._on_event)
        except Exception:
            logger.debug("unsubscribe failed", exc_info=True)
        for child in self._children_to_close:
            try:
                child.close()
            except Exception:
                logger.exception("closing %r failed", type(child).__name__)
        for box in self._boxes:
            for child in box.children:
                child.close()
            box.close()
        super().close()

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lost_text(frames_lost: dict[str, int]) -> str | None:
    """``"frames lost: spool 12, tracker 3"`` (readers that lost frames), None if none did."""
    lost = [f"{name} {n}" for name, n in sorted(frames_lost.items()) if n > 0]
    return f"frames lost: {', '.join(lost)}" if lost else None


def _grid_columns(scope: Any, cameras: list[str | None]) -> str:
    """The live column is as wide as the images side by side that fit the window's height need
    (each camera's aspect at build time, plus its profile strip), and never leaves the side
    column less than :data:`SIDE_MIN_PX`; the side column takes the rest. So a wide window gives
    the images their height and the panels the width that is left, instead of an empty area
    beside the images."""
    widths = []
    for stream in cameras or [None]:
        aspect = _aspect(scope, stream)
        widths.append(f"(100vh - {_LIVE_CHROME_PX}px) / {aspect:.4f} + {_LIVE_STRIP_PX}px")
    live = f"min(calc(100% - {SIDE_MIN_PX + 8}px), calc({' + '.join(widths)}))"
    return f"minmax(0, {live}) minmax({SIDE_MIN_PX}px, 1fr)"


def _aspect(scope: Any, stream: str | None) -> float:
    """Height / width of a camera stream's frames (the first camera's for None); 1 if unknown."""
    try:
        if stream is None:
            height, width = (int(n) for n in scope.camera.shape)
        else:
            height, width = (int(n) for n in scope.streams[stream].shape[-2:])
    except Exception:  # noqa: BLE001 - no camera: a square guess
        return 1.0
    return height / width if height > 0 and width > 0 else 1.0


def _state_value(scope: Any) -> str:
    state = getattr(scope, "state", "created")
    return str(getattr(state, "value", state))
