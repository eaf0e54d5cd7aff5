"""Dashboard: live view, device panels, traces, spool panel and engine controls in one widget.

Layout (an ipywidgets GridBox, fine in a notebook cell and as a full Voila page)::

    +---------------------------------------------------------------+
    | title | state badge | start | stop | health: fps, fill, drops |
    +--------------------------------------+------------------------+
    | LiveView                             | device panels (tabs)   |
    |                                      | spool panel            |
    +--------------------------------------+------------------------+
    | TracePlot                                                     |
    +---------------------------------------------------------------+

Everything updates from the scope's events (``state``, ``health``, ``error``, ``property``);
``close()`` closes every child and its thread but leaves the scope open (the caller owns it).
"""

from __future__ import annotations

import html
import logging
from typing import Any

import ipywidgets as widgets

from labkit.widgets._device_panel import DevicePanel

__all__ = ["Dashboard"]

logger = logging.getLogger(__name__)

STATE_COLORS = {
    "created": "#757575",
    "ready": "#1565c0",
    "running": "#2e7d32",
    "stopped": "#757575",
    "failed": "#c62828",
    "closed": "#424242",
}


def _placeholder(what: str, exc: BaseException) -> widgets.HTML:
    box = widgets.HTML(
        value=(
            f'<div style="border:1px dashed #c62828;padding:8px;color:#c62828">{html.escape(what)} '
            f"is unavailable: {html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>"
        )
    )
    box.add_class("labkit-placeholder")
    return box


class Dashboard(widgets.GridBox):
    """One widget to run a scope: ``scope.dashboard()`` or ``Dashboard(scope)``.

    Args:
        scope: a ``labkit.Scope`` (thread, process or remote).
        title: heading; default ``"labkit"``.
        live_kw: keyword arguments for the :class:`LiveView` (e.g. ``max_fps``, ``colormap``).
        traces: show the signal's :class:`TracePlot` (when the scope has a trace buffer).
        window_s: trace window in seconds.
        devices: device names that get a panel; default every device of the scope.

    Children that cannot be built (no JS bundle, no spool layer yet) are replaced by a red
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
    ) -> None:
        self._closed = True  # until built
        self.scope = scope
        self.last_error: str | None = None
        self.health: Any = None
        self._children_to_close: list[Any] = []

        # header: state badge, buttons, health line
        self.title = widgets.HTML(value=f"<b style='font-size:1.2em'>{html.escape(title)}</b>")
        self.state_label = widgets.HTML()
        self.state_label.add_class("labkit-state")
        self.start_button = widgets.Button(description="Start", icon="play", button_style="success")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="warning")
        self.start_button.add_class("labkit-start")
        self.stop_button.add_class("labkit-stop")
        self.start_button.on_click(lambda _b: self._run_action("start"))
        self.stop_button.on_click(lambda _b: self._run_action("stop"))
        self.health_label = widgets.HTML(value="")
        self.health_label.add_class("labkit-health")
        header = widgets.HBox(
            [self.title, self.state_label, self.start_button, self.stop_button, self.health_label],
            layout=widgets.Layout(grid_area="header", align_items="center", flex_flow="row wrap"),
        )

        # live view
        self.live: Any = None
        try:
            from labkit.widgets._liveview import LiveView

            self.live = LiveView(scope, **(live_kw or {}))
            live_widget: widgets.Widget = self.live
            self._children_to_close.append(self.live)
        except Exception as exc:
            logger.exception("LiveView could not be built")
            live_widget = _placeholder("The live view", exc)
        live_box = widgets.Box(
            [live_widget], layout=widgets.Layout(grid_area="live", min_width="0")
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
        tabs = widgets.Tab(children=list(self.panels.values()))
        for i, name in enumerate(self.panels):
            tabs.set_title(i, name)

        # spool panel (spool layer's widget)
        self.spool_panel: Any = None
        try:
            from labkit.widgets._spool_panel import SpoolPanel

            self.spool_panel = SpoolPanel(scope)
            spool_widget: widgets.Widget = self.spool_panel
            self._children_to_close.append(self.spool_panel)
        except Exception as exc:
            logger.info("SpoolPanel unavailable: %s", exc)
            spool_widget = _placeholder("The spool panel", exc)
        side = widgets.VBox(
            [tabs, spool_widget], layout=widgets.Layout(grid_area="side", min_width="0")
        )

        # traces
        self.traces: Any = None
        trace_widget: widgets.Widget = widgets.HTML("")
        if traces and getattr(scope, "trace_name", None):
            try:
                from labkit.widgets._traceplot import TracePlot

                self.traces = TracePlot(scope, window_s=window_s, title="signal")
                trace_widget = self.traces
                self._children_to_close.append(self.traces)
            except Exception as exc:
                logger.exception("TracePlot could not be built")
                trace_widget = _placeholder("The trace plot", exc)
        trace_box = widgets.Box(
            [trace_widget], layout=widgets.Layout(grid_area="traces", min_width="0")
        )

        super().__init__(
            children=[header, live_box, side, trace_box],
            layout=widgets.Layout(
                grid_template_columns="minmax(0, 3fr) minmax(300px, 2fr)",
                grid_template_rows="auto auto auto",
                grid_template_areas='"header header" "live side" "traces traces"',
                grid_gap="8px",
                width="100%",
            ),
        )
        self.add_class("labkit-dashboard")
        self._boxes = [header, live_box, side, tabs, trace_box]
        self._closed = False
        self._show_state(_state_value(scope))
        scope.subscribe(self._on_event)

    # ------------------------------------------------------------------ actions
    def _run_action(self, action: str) -> None:
        try:
            getattr(self.scope, action)()
        except Exception as exc:  # shown where the user looks
            logger.warning("scope.%s() failed: %s", action, exc)
            self.last_error = f"{action}: {exc}"
        else:
            self.last_error = None
            if action == "start" and self.live is not None:
                try:
                    self.live.start()
                except Exception:
                    logger.debug("live view not started", exc_info=True)
        self._show_state(_state_value(self.scope))

    # ------------------------------------------------------------------ events
    def _on_event(self, event: Any) -> None:
        if self._closed:
            return
        topic, payload = getattr(event, "topic", ""), getattr(event, "payload", None) or {}
        if topic == "state":
            state = str(payload.get("state", _state_value(self.scope)))
            if state == "running":
                self.last_error = None
            if state == "ready" and payload.get("previous") in ("failed", "stopped", "running"):
                # a restarted engine came back with its factory settings: show them
                for panel in self.panels.values():
                    panel.refresh()
            self._show_state(state)
        elif topic == "error":
            self.last_error = f"{payload.get('type', 'Error')}: {payload.get('message', '')}"
            self._show_state(_state_value(self.scope))
        elif topic == "health":
            self.health = payload
            self._show_health(payload)

    def _show_state(self, state: str) -> None:
        color = STATE_COLORS.get(state, "#757575")
        error = ""
        if self.last_error:
            error = f' <span class="labkit-error" style="color:#c62828">{html.escape(self.last_error)}</span>'
        self.state_label.value = (
            f'<span class="labkit-state-{state}" style="background:{color};color:white;'
            f'padding:2px 8px;border-radius:4px">{html.escape(state)}</span>{error}'
        )
        self.start_button.disabled = state in ("running", "closed")
        self.stop_button.disabled = state != "running"

    def _show_health(self, h: dict) -> None:
        lost = sum(int(r.get("frames_lost", 0)) for r in (h.get("readers") or {}).values())
        parts = [
            f"{float(h.get('fps', 0.0)):.1f} fps",
            f"ring {100 * float(h.get('ring_fill', 0.0)):.0f}% full",
            f"{int(h.get('frames_acquired', 0))} frames",
        ]
        late = int(h.get("frames_late", 0))
        drops = f"{lost} lost, {late} late"
        style = "color:#c62828" if lost else ""
        parts.append(f'<span style="{style}">{drops}</span>')
        if self.live is not None:
            painted = self.live.stats.get("fps_painted")
            if isinstance(painted, (int, float)):
                parts.append(f"view {painted:.0f} fps")
        self.health_label.value = " · ".join(parts)

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
        for w in (
            self.title,
            self.state_label,
            self.start_button,
            self.stop_button,
            self.health_label,
        ):
            w.close()
        for box in self._boxes:
            for child in box.children:
                child.close()
            box.close()
        super().close()

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _state_value(scope: Any) -> str:
    state = getattr(scope, "state", "created")
    return str(getattr(state, "value", state))
