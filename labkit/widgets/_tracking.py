"""TrackingPanel: bead tracking on a scope from the page — pick beads, record a z table, track,
lock.

::

    panel = TrackingPanel(scope, live=scope.live())     # or Dashboard(scope, tracking=True)

- **Beads**: *Find beads* detects them in a snap; with a live view, its *Pick* button turns clicks
  on the image into bead ROIs (``roi_size`` px squares), and every bead ROI is drawn over the
  image. The ROIs are the scope's ``scope.tracking.rois`` setting.
- **z table**: *Scan* steps the focus through ``z_range_um`` in ``step_um`` steps (a background
  thread: the kernel stays free; the progress bar follows, *Cancel* stops it); the table appears
  below (:class:`~labkit.widgets._zlut_view.ZLUTView`: its profiles and quality).
- **Tracking**: *Track* adds the ``bead_tracker`` node (named ``tracker``) with the table and the
  chosen reference beads; x, y (from where each bead started) and z of up to eight beads are
  plotted (TracePlots on its trace).
- **Lock**: *Lock* holds the chosen bead's focus through the stage; the badge shows the lock's
  state (grey off, amber searching, green locked, red lost, with the reason).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import ipywidgets as widgets
import numpy as np

from labkit.widgets._dashboard_live import TRACE_KW
from labkit.widgets._form import Form
from labkit.widgets._frontends import close_with_comm

__all__ = ["LOCK_COLORS", "TrackingPanel"]

logger = logging.getLogger(__name__)

LOCK_COLORS = {"off": "#757575", "searching": "#f9a825", "locked": "#2e7d32", "lost": "#c62828"}
_PLOTTED_BEADS = 8  # one colour each in the trace plots


class BeadChannels:
    """Some channels of a tracker's trace as a TracePlot source (``read_new``), each relative
    to its first finite value when ``relative`` (x, y: the motion, not the place on the chip).
    Owns its trace reader: ``close()``."""

    def __init__(self, reader: Any, channels: list[str], relative: bool) -> None:
        self.reader = reader
        self.channels = tuple(channels)
        self._columns = [list(reader.channels).index(c) for c in channels]
        self._origin = np.full(len(channels), np.nan) if relative else None

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]:
        t, v, lost = self.reader.read_new()
        v = np.asarray(v, dtype=float)[:, self._columns]
        if self._origin is not None and len(t):
            unset = np.isnan(self._origin)
            if unset.any():
                first = np.array([c[np.isfinite(c)][0] if np.isfinite(c).any() else np.nan
                                  for c in v.T])  # fmt: skip
                self._origin[unset] = first[unset]
            v = v - self._origin
        return t, v, lost

    def close(self) -> None:
        self.reader.close()


def _form() -> Form:
    r = Form.row

    def buttons(name: str, *specs: tuple[str, str, str]) -> dict:
        return r("buttons", name, label="", buttons=[
            {"name": n, "label": label, "style": style, "cls": f"labkit-{n}"}
            for n, label, style in specs
        ])  # fmt: skip

    return Form(
        [
            r("heading", "h_beads", label="Beads"),
            r("label", "beads", label="beads"),
            r("int", "roi_size", label="ROI size", units="px", low=8, high=256),
            buttons("bead_buttons", ("find", "Find beads", ""), ("clear", "Clear beads", "")),
            r("heading", "h_zlut", label="z table"),
            r("tuple", "z_range_um", label="z range", item="float", units="µm"),
            r("number", "step_um", label="step", units="µm", low=0.001, high=10),
            r("int", "frames_per_plane", label="frames per plane", low=1, high=1000),
            buttons("scan_buttons", ("scan", "Scan", "primary"), ("cancel", "Cancel", "warning")),
            r("progress", "scan_progress", label="scan"),
            r("heading", "h_track", label="Tracking"),
            r("multi", "reference", label="reference beads", options=[]),
            buttons("track_buttons", ("track", "Track", "success"), ("untrack", "Stop", "")),
            r("heading", "h_lock", label="Bead lock"),
            r("choice", "lock_bead", label="lock on", options=[]),
            buttons("lock_buttons", ("lock", "Lock", "success"), ("unlock", "Unlock", "")),
            r("badge", "lock_state", label="state", cls="labkit-lock-state"),
        ],
        values={
            "roi_size": 50,
            "z_range_um": [-1.5, 1.5],
            "step_um": 0.05,
            "frames_per_plane": 5,
            "scan_progress": {"value": 0, "max": 1, "text": "no table yet"},
            "reference": [],
        },  # fmt: skip
        title="bead tracking",
        css_class="labkit-tracking",
    )


class TrackingPanel(widgets.VBox):
    """Bead picking, z table, tracker and lock controls for ``scope`` (see the module doc).

    Args:
        scope: a ``labkit.Scope``.
        live: a :class:`LiveView` of the camera to draw bead ROIs on and pick beads in.
        tracker: name of the tracker node (and its trace stream).
        window_s: seconds the trace plots show.

    ``panel.form`` is the controls :class:`Form` (``panel.form.click("scan")`` does what the
    page does); ``panel.zlut`` the last table recorded; ``close()`` closes plots and views and
    leaves the scope, its tracker and lock as they are.
    """

    def __init__(
        self, scope: Any, live: Any = None, tracker: str = "beads", window_s: float = 10.0
    ) -> None:
        self.scope, self.live, self.tracker, self.window_s = scope, live, tracker, window_s
        self.zlut: Any = None
        self.zlut_view: Any = None
        self.plots: list[Any] = []
        self._sources: list[BeadChannels] = []
        self._scan: threading.Thread | None = None
        self._closed = False
        self.form = _form()
        self.form._on_edit = self._on_edit
        self.form._on_click = self._on_click
        self.plot_box = widgets.VBox([], layout=widgets.Layout(width="100%"))
        self.zlut_box = widgets.VBox([], layout=widgets.Layout(width="100%"))
        if live is not None:
            live.on_pick(self._pick)
        self._show_rois(scope.tracking.rois)
        self._show_lock(scope.tracking.lock_status())
        scope.subscribe(self._on_event)
        super().__init__([self.form, self.plot_box, self.zlut_box],
                         layout=widgets.Layout(width="100%"))  # fmt: skip
        self.add_class("labkit-tracking-panel")
        close_with_comm(self)

    # ------------------------------------------------------------------ from the engine
    def _on_event(self, event: Any) -> None:
        if self._closed:
            return
        payload = event.payload
        if event.topic == "tracking" and isinstance(payload, dict) and "rois" in payload:
            self._show_rois(payload["rois"])
        elif event.topic == "bead_lock" and isinstance(payload, dict):
            self._show_lock(payload)

    def _show_rois(self, rois: list[dict[str, Any]]) -> None:
        names = [r["name"] for r in rois]
        self.form.set_values(beads=f"{len(rois)}: {', '.join(names)}" if rois else "none yet")
        schema = []
        for row in self.form.schema:
            if row["name"] in ("reference", "lock_bead"):
                row = {**row, "options": [[n, n] for n in names]}
            schema.append(row)
        self.form.schema = schema
        keep = [n for n in self.form.values.get("reference", []) if n in names]
        lock_bead = self.form.values.get("lock_bead")
        self.form.set_values(reference=keep, lock_bead=lock_bead if lock_bead in names else
                             (names[0] if names else None))  # fmt: skip
        if self.live is not None:
            self.live.marks = [
                {"name": r["name"], "x": r["x"], "y": r["y"], "w": r["w"], "h": r["h"]}
                for r in rois
            ]

    def _show_lock(self, status: dict[str, Any]) -> None:
        state = str(status.get("state", "off"))
        text = state if not status.get("reason") else f"{state}: {status['reason']}"
        if status.get("bead") and state != "off":
            text = f"{status['bead']} {text}"
        self.form.set_value(
            "lock_state", {"text": text, "color": LOCK_COLORS.get(state, "#757575"),
                           "cls": f"labkit-lock-{state}"},
        )  # fmt: skip

    # ------------------------------------------------------------------ from the page
    def _on_edit(self, name: str, value: Any) -> Any:
        if name == "z_range_um":
            lo, hi = (float(v) for v in value)
            if not hi > lo:
                raise ValueError("give (low, high) µm about the focus with low < high")
            return [lo, hi]
        return value

    def _pick(self, y: float, x: float) -> None:
        self.scope.tracking.add_bead(y, x, size=int(self.form.values["roi_size"]))

    def _on_click(self, name: str) -> None:
        tracking = self.scope.tracking
        self.form.set_status("")
        if name == "find":
            found = tracking.find_beads(roi_size=int(self.form.values["roi_size"]))
            self.form.set_status(f"found {len(found)} beads")
        elif name == "clear":
            tracking.rois = []
        elif name == "scan":
            self.start_scan()
        elif name == "cancel":
            tracking.cancel_zlut()
        elif name == "track":
            self.start_tracking()
        elif name == "untrack":
            self.stop_tracking()
        elif name == "lock":
            bead = self.form.values.get("lock_bead")
            if not bead:
                raise ValueError("pick beads first, then choose the bead to lock on")
            self._show_lock(tracking.lock(bead, tracker=self.tracker))
        elif name == "unlock":
            self._show_lock(tracking.unlock())

    # ------------------------------------------------------------------ z table
    def start_scan(self) -> threading.Thread:
        """Start a z table scan with the form's settings, in a background thread."""
        if self._scan is not None and self._scan.is_alive():
            raise RuntimeError("a scan is running; cancel it first")
        values = dict(self.form.values)
        self._scan = threading.Thread(target=self._run_scan, args=(values,), daemon=True,
                                      name="labkit-zlut-scan")  # fmt: skip
        self.form.set_disabled(scan=True)
        self._scan.start()
        return self._scan

    def _run_scan(self, values: dict[str, Any]) -> None:
        def progress(fraction: float, message: str) -> None:
            self.form.set_value("scan_progress", {"value": fraction, "max": 1, "text": message})

        try:
            zlut = self.scope.tracking.acquire_zlut(
                z_range_um=values["z_range_um"], step_um=float(values["step_um"]),
                frames_per_plane=int(values["frames_per_plane"]), progress=progress,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - shown where the user looks
            logger.warning("z table scan failed: %s", exc)
            self.form.set_value("scan_progress", {"value": 0, "max": 1, "style": "danger",
                                                  "text": f"{type(exc).__name__}: {exc}"})  # fmt: skip
            self.form.set_status(f"scan: {exc}", "error")
        else:
            self.show_zlut(zlut)
        finally:
            self.form.set_disabled(scan=False)

    def show_zlut(self, zlut: Any) -> None:
        """Use ``zlut`` for tracking and show it (its profiles and quality)."""
        from labkit.widgets._zlut_view import ZLUTView

        self.zlut = zlut
        self.form.set_value("scan_progress", {"value": 1, "max": 1, "style": "success",
                                              "text": repr(zlut)})  # fmt: skip
        old, self.zlut_view = self.zlut_view, ZLUTView(zlut)
        self.zlut_box.children = [self.zlut_view]
        if old is not None:
            old.close()

    # ------------------------------------------------------------------ tracker
    def start_tracking(self, reference: list[str] | None = None) -> dict[str, Any]:
        """Add the tracker node (replacing one of the same name: a lock on it is lost) with
        ``reference`` beads (default: those ticked in the form) and plot its x, y, z."""
        from labkit.widgets._traceplot import TracePlot

        self.stop_tracking()
        if reference is not None:
            self.form.set_values(reference=list(reference))
        reference = list(self.form.values.get("reference") or [])
        described = self.scope.tracking.add_tracker(zlut=self.zlut, reference=reference,
                                                    name=self.tracker)  # fmt: skip
        beads = [c[: -len("_quality")] for c in described["output"]["channels"]
                 if c.endswith("_quality")][:_PLOTTED_BEADS]  # fmt: skip
        coords = ("x", "y", "z") if self.zlut is not None else ("x", "y")
        for coord in coords:
            source = BeadChannels(self.scope.open_trace_reader(self.tracker),
                                  [f"{b}_{coord}" for b in beads], relative=coord != "z")  # fmt: skip
            self._sources.append(source)
            title = f"bead {coord} − start (px)" if coord != "z" else "bead z (µm)"
            # drawn like the dashboard's plots: cheap for the live view beside them
            plot = TracePlot(source, channels=beads, window_s=self.window_s, title=title,
                             **TRACE_KW)  # fmt: skip
            plot.layout.width = "100%"
            plot.add_class(f"labkit-bead-{coord}")
            self.plots.append(plot)
        self.plot_box.children = list(self.plots)
        return described

    def stop_tracking(self) -> None:
        """Remove the tracker node (if this panel's name has one) and its plots."""
        plots, self.plots = self.plots, []
        sources, self._sources = self._sources, []
        self.plot_box.children = []
        for plot in plots:
            plot.close()
        for source in sources:
            source.close()
        if self.tracker in self.scope.nodes:
            self.scope.nodes.remove(self.tracker)

    # ------------------------------------------------------------------ display and lifetime
    def marimo_parts(self) -> list[Any]:
        """The plots and the z table view as marimo elements (each plot in a ``div`` with its
        class, as in Jupyter): what exists now — marimo lays a cell out when it runs."""
        import marimo as mo

        parts: list[Any] = []
        for plot in self.plots:
            cls = " ".join(c for c in plot._dom_classes if c.startswith("labkit-bead-"))
            parts.append(mo.Html(f'<div class="{cls}">{mo.as_html(plot).text}</div>'))
        if self.zlut_view is not None:
            parts.append(self.zlut_view._display_())
        return parts

    def _display_(self) -> Any:
        import marimo as mo

        return mo.vstack([self.form, *self.marimo_parts()])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.scope.unsubscribe(self._on_event)
        except Exception:  # noqa: BLE001 - a closed scope has no subscribers left
            logger.debug("tracking panel: unsubscribe failed", exc_info=True)
        if self._scan is not None and self._scan.is_alive():
            self.scope.tracking.cancel_zlut()
            self._scan.join(30)
        for plot in self.plots:
            plot.close()
        for source in self._sources:
            source.close()
        if self.zlut_view is not None:
            self.zlut_view.close()
        self.form.close()
        super().close()
