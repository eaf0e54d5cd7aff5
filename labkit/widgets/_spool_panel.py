"""SpoolPanel: record series from a scope — settings, start/stop, live progress, errors in red.

The panel talks to ``scope.spool`` (a :class:`labkit.spool.SpoolController`) and listens to its
progress callbacks (called from the spool's writer thread, throttled to ~4 Hz), so a running
series updates the bar, rates, ring fill, time left, free space, dropped frames and last error.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import ipywidgets as widgets

__all__ = ["SpoolPanel"]

logger = logging.getLogger(__name__)

ERROR_STYLE = "color: #c62828;"
_CODECS = ["blosc-lz4", "blosc-zstd", "none"]


def _num(label: str, widget: widgets.Widget, units: str = "") -> widgets.HBox:
    return widgets.HBox(
        [
            widgets.HTML(f"<b>{html.escape(label)}</b>", layout=widgets.Layout(width="110px")),
            widget,
            widgets.HTML(html.escape(units)),
        ]
    )


class SpoolPanel(widgets.VBox):
    """``SpoolPanel(scope)`` (or any object with a ``.spool`` controller, or the controller itself).

    Start uses the fields as settings for one series; the preflight mode dropdown decides what
    a failed preflight does ("abort" shows its message in red). ``close()`` detaches from the
    controller (a running series keeps running).
    """

    def __init__(self, scope: Any, **kw: Any) -> None:
        self.spool = scope.spool if hasattr(scope, "spool") else scope
        s = self.spool.get_settings()
        lay = widgets.Layout(width="260px")
        self.directory = widgets.Text(
            value=self.spool.dirname, layout=widgets.Layout(width="360px")
        )
        self.series = widgets.HTML()
        self.method = widgets.Dropdown(
            options=self.spool.available_spool_methods, value=s["method"], layout=lay
        )
        self.compression = widgets.Dropdown(
            options=_CODECS, value=s["compression"]["codec"], layout=lay
        )
        self.max_frames = widgets.IntText(
            value=s["max_frames"] or 0, layout=widgets.Layout(width="120px")
        )
        self.z_stepped = widgets.Checkbox(
            value=bool(s["z_stepped"]), description="z-stack", indent=False
        )
        self.z_start = widgets.FloatText(value=s["z_start_um"], layout=widgets.Layout(width="80px"))
        self.z_stop = widgets.FloatText(value=s["z_stop_um"], layout=widgets.Layout(width="80px"))
        self.z_step = widgets.FloatText(value=s["z_step_um"], layout=widgets.Layout(width="80px"))
        self.z_dwell = widgets.IntText(value=s["z_dwell"], layout=widgets.Layout(width="60px"))
        self.preflight = widgets.Dropdown(
            options=["abort", "warn", "skip", "interactive"],
            value="abort",
            layout=widgets.Layout(width="120px"),
        )
        self.start_button = widgets.Button(
            description="Start", button_style="success", icon="circle"
        )
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.progress_bar = widgets.FloatProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="360px")
        )
        self.frames = widgets.HTML("0 frames")
        self.stats = widgets.HTML()
        self.path = widgets.HTML()
        self.error = widgets.HTML()
        self.dialog = widgets.VBox()
        for w_, cls in [
            (self.start_button, "labkit-spool-start"),
            (self.stop_button, "labkit-spool-stop"),
            (self.frames, "labkit-spool-frames"),
            (self.stats, "labkit-spool-stats"),
            (self.path, "labkit-spool-path"),
            (self.error, "labkit-spool-error"),
            (self.directory, "labkit-spool-dir"),
            (self.max_frames, "labkit-spool-max-frames"),
            (self.series, "labkit-spool-series"),
            (self.method, "labkit-spool-method"),
        ]:
            w_.add_class(cls)
        z_row = widgets.HBox(
            [
                self.z_stepped,
                widgets.HTML("&nbsp;from"),
                self.z_start,
                widgets.HTML("to"),
                self.z_stop,
                widgets.HTML("step"),
                self.z_step,
                widgets.HTML("µm, dwell"),
                self.z_dwell,
                widgets.HTML("frames"),
            ]
        )
        children = [
            widgets.HTML("<b>Spool</b>"),
            _num("directory", self.directory),
            _num("next series", self.series),
            _num("method", self.method),
            _num("compression", self.compression),
            _num("max frames", self.max_frames, "(0: until Stop)"),
            z_row,
            widgets.HBox(
                [
                    self.start_button,
                    self.stop_button,
                    widgets.HTML("&nbsp;preflight"),
                    self.preflight,
                ]
            ),
            widgets.HBox([self.progress_bar, self.frames]),
            self.stats,
            self.path,
            self.error,
            self.dialog,
        ]
        super().__init__(children, **kw)
        self.add_class("labkit-spool-panel")
        self.start_button.on_click(self._on_start)
        self.stop_button.on_click(self._on_stop)
        self.directory.observe(self._on_directory, names="value")
        self.spool.add_listener(self._on_progress)
        self._refresh_idle()

    # actions ------------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        codec = self.compression.value
        return {
            "method": self.method.value,
            "compression": None if codec == "none" else codec,
            "max_frames": self.max_frames.value or None,
            "z_stepped": self.z_stepped.value,
            "z_start_um": self.z_start.value,
            "z_stop_um": self.z_stop.value,
            "z_step_um": self.z_step.value,
            "z_dwell": self.z_dwell.value,
        }

    def start(self) -> Any:
        """What the Start button does; returns the handle (None on error, shown in red)."""
        self.error.value = ""
        try:
            handle = self.spool.start(
                settings=self._settings(),
                preflight_mode=self.preflight.value,
                show_dialog=self._show_dialog,
            )
        except Exception as exc:
            self._show_error(exc)
            return None
        self.start_button.disabled = True
        self.stop_button.disabled = False
        self.path.value = f"→ <code>{html.escape(str(handle.path))}</code>"
        self._on_progress({"event": "started", **handle.progress.to_dict()})
        return handle

    def _show_dialog(self, box: widgets.Widget) -> None:
        """Interactive preflight: the dialog goes inside the panel (removed once answered)."""
        self.dialog.children = (box,)

    def _on_start(self, _button: Any) -> None:
        self.start()

    def _on_stop(self, _button: Any) -> None:
        self.stop_button.disabled = True
        try:
            self.spool.stop()
        except Exception as exc:
            self._show_error(exc)

    def _on_directory(self, change: dict) -> None:
        self.spool.dir_pattern = change["new"]
        self._refresh_idle()

    def _show_error(self, exc: BaseException | str) -> None:
        text = str(exc)
        self.error.value = (
            f"<pre style='{ERROR_STYLE} white-space: pre-wrap'>{html.escape(text)}</pre>"
        )

    # progress (called from the spool writer thread) ---------------------------------------
    def _refresh_idle(self) -> None:
        try:
            self.series.value = html.escape(self.spool.series_name)
            self.stats.value = f"free space {self.spool.get_free_space():.1f} GB"
        except Exception as exc:  # a bad directory pattern
            self.series.value = f"<span style='{ERROR_STYLE}'>{html.escape(str(exc))}</span>"

    def _on_progress(self, p: dict) -> None:
        try:
            expected = p.get("frames_expected")
            written = p.get("frames_written", 0)
            self.progress_bar.max = max(1, expected or max(written, 1))
            self.progress_bar.value = (
                written if expected else (written % 100) / 100 * self.progress_bar.max
            )
            state = p.get("state", "")
            self.frames.value = (
                f"{written}" + (f" / {expected}" if expected else "") + f" frames · {state}"
            )
            eta = p.get("eta_s")
            free = self.spool.get_free_space()
            self.stats.value = (
                f"in {p.get('mb_s_in', 0):.0f} MB/s · out {p.get('mb_s_out', 0):.0f} MB/s · ring fill "
                f"{100 * p.get('ring_fill', 0):.0f}% · left {'-' if eta is None else f'{eta:.1f} s'} · free "
                f"{free:.1f} GB · dropped <b>{p.get('frames_dropped', 0)}</b>"
            )
            if p.get("error"):
                self._show_error(p["error"])
            if (
                p.get("event") in ("started", "cancelled")
                and state != "waiting"
                and self.dialog.children
            ):
                for child in self.dialog.children:
                    child.close()
                self.dialog.children = ()
            if state in ("finished", "failed", "cancelled"):
                self.progress_bar.bar_style = "danger" if state == "failed" else "success"
                self.start_button.disabled = False
                self.stop_button.disabled = True
                self.series.value = html.escape(self.spool.series_name)
            else:
                self.progress_bar.bar_style = ""
        except Exception:  # the panel must never break the writer thread
            logger.exception("updating the spool panel failed")

    def close(self) -> None:
        """Detach from the controller and close the widgets."""
        self.spool.remove_listener(self._on_progress)
        for child in self._all_children():
            child.close()
        super().close()

    def _all_children(self) -> list[widgets.Widget]:
        out: list[widgets.Widget] = []
        stack = list(self.children)
        while stack:
            w_ = stack.pop()
            out.append(w_)
            stack.extend(getattr(w_, "children", ()))
        return out
