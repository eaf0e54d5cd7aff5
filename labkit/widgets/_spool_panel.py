"""SpoolPanel: record series from a scope — settings, start/stop, live progress, errors in red.

A :class:`Form`: the panel talks to ``scope.spool`` (a :class:`labkit.spool.SpoolController`)
and listens to its progress callbacks (called from the spool's writer thread, ~4 Hz), so a running
series updates the bar, rates, ring fill, time left, free space, dropped frames and last error.
Settings typed in the panel are checked by the controller as they are edited (a refused value
shows the controller's message in red beside the field) and used for the next series only.
"""

from __future__ import annotations

import logging
from typing import Any

from labkit.widgets._form import Form

__all__ = ["SpoolPanel"]

logger = logging.getLogger(__name__)

_SETTING_ROWS = (
    "frames_stream",
    "trace_streams",
    "method",
    "compression",
    "max_frames",
    "z_stepped",
    "z_start_um",
    "z_stop_um",
    "z_step_um",
    "z_dwell",
)
_Z_ROWS = ("z_start_um", "z_stop_um", "z_step_um", "z_dwell")
_DIALOG_ROWS = ("preflight_checks", "preflight_answer")


def _codecs(spool: Any, method: str) -> list[str]:
    """Codecs ``method`` can store, as the controller says (``supported_compression``)."""
    supported = getattr(spool, "supported_compression", None)
    if supported is not None:
        return list(supported(method))
    return ["none", "blosc-lz4", "blosc-zstd"]  # controllers older than supported_compression


def _streams(spool: Any) -> tuple[list[str], list[str]]:
    """(frames streams, trace streams) the controller's host has; ([], []) without streams."""
    streams = getattr(getattr(spool, "host", None), "streams", None)
    if streams is None:
        return [], []
    try:
        found = streams()
    except Exception:  # noqa: BLE001 - a closed engine has no streams to offer
        return [], []
    frames = [n for n, s in found.items() if s.kind == "frames"]
    return frames, [n for n, s in found.items() if s.kind == "trace"]


def _stream_rows(spool: Any) -> list[dict]:
    frames, traces = _streams(spool)
    r = Form.row
    return [
        r("choice", "frames_stream", label="camera", options=[(n, n) for n in frames],
          cls="labkit-spool-camera", description="whose frames the series records"),
        r("multi", "trace_streams", label="traces", options=[(n, n) for n in traces],
          cls="labkit-spool-traces",
          description="signals and node outputs recorded beside the frames, on the same clock"),
    ]  # fmt: skip


def _schema(spool: Any, method: str) -> list[dict]:
    from labkit.spool import PREFLIGHT_MODES

    modes = ["abort", *(m for m in PREFLIGHT_MODES if m != "abort")]
    r = Form.row
    return [
        r("text", "directory", cls="labkit-spool-dir", width="26em"),
        r("label", "series", label="next series", cls="labkit-spool-series"),
        *_stream_rows(spool),
        r("choice", "method", options=[(m, m) for m in spool.available_spool_methods],
          cls="labkit-spool-method"),
        r("choice", "compression", options=[(c, c) for c in _codecs(spool, method)],
          cls="labkit-spool-compression"),
        r("int", "max_frames", label="max frames", low=0, units="(0: until Stop)",
          cls="labkit-spool-max-frames"),
        r("bool", "z_stepped", label="z-stack", cls="labkit-spool-z"),
        r("number", "z_start_um", label="z from", units="µm"),
        r("number", "z_stop_um", label="z to", units="µm"),
        r("number", "z_step_um", label="z step", units="µm"),
        r("int", "z_dwell", label="dwell", low=1, units="frames per z"),
        r("choice", "preflight", options=[(m, m) for m in modes], cls="labkit-spool-preflight",
          description="what a failed preflight check does"),
        r("buttons", "actions", label="", buttons=[
            {"name": "start", "label": "● Start", "style": "success", "cls": "labkit-spool-start"},
            {"name": "stop", "label": "■ Stop", "cls": "labkit-spool-stop"},
        ]),
        r("progress", "frames", label="", cls="labkit-spool-frames"),
        r("label", "stats", label="", cls="labkit-spool-stats"),
        r("label", "path", label="", cls="labkit-spool-path"),
        r("checks", "preflight_checks", label="preflight", cls="labkit-preflight-dialog"),
        r("buttons", "preflight_answer", label="", cls="labkit-preflight-dialog", buttons=[
            {"name": "record_anyway", "label": "Record anyway", "style": "warning",
             "cls": "labkit-preflight-record"},
            {"name": "cancel", "label": "Cancel", "cls": "labkit-preflight-cancel"},
        ]),
    ]  # fmt: skip


class SpoolPanel(Form):
    """``SpoolPanel(scope)`` (or any object with a ``.spool`` controller, or the controller itself).

    Start uses the fields as settings for one series; the preflight dropdown decides what a
    failed preflight does ("abort" shows its message in red, "interactive" shows the failed
    checks with Record anyway / Cancel in the panel). ``panel.edit(name, value)`` and
    ``panel.click("start")`` do what the page does; ``panel.start()`` returns the handle (None
    on error, shown in red: ``panel.error``). ``close()`` detaches from the controller (a running
    series keeps running).
    """

    def __init__(self, scope: Any, **kw: Any) -> None:
        self.spool = scope.spool if hasattr(scope, "spool") else scope
        s = self.spool.get_settings()
        self._answers: dict[str, Any] | None = (
            None  # Record anyway / Cancel while a preflight waits
        )
        self._closed = True
        frames, _traces = _streams(self.spool)
        values = {
            "directory": self.spool.dir_pattern,
            "frames_stream": s["frames_stream"] or (frames[0] if frames else None),
            "trace_streams": list(s["trace_streams"]),
            "method": s["method"],
            "compression": s["compression"]["codec"],
            "max_frames": s["max_frames"] or 0,
            "z_stepped": bool(s["z_stepped"]),
            "z_start_um": s["z_start_um"],
            "z_stop_um": s["z_stop_um"],
            "z_step_um": s["z_step_um"],
            "z_dwell": s["z_dwell"],
            "preflight": "abort",
            "frames": {"value": 0, "max": 1, "text": "0 frames"},
            "preflight_checks": [],
        }
        super().__init__(
            _schema(self.spool, s["method"]),
            values=values,
            title="Spool",
            on_edit=self._apply_edit,
            on_click=self._on_click,
            css_class="labkit-spool-panel",
            **kw,
        )
        self.set_disabled(stop=True)
        self.set_hidden(**dict.fromkeys(_DIALOG_ROWS, True))
        self._show_z_rows()
        self._show_stream_rows()
        self._closed = False
        self.spool.add_listener(self._on_progress)
        self._events = scope if hasattr(scope, "subscribe") else None
        if self._events is not None:  # nodes added or removed change the streams offered
            self._events.subscribe(self._on_event)
        self._refresh_idle()

    # settings ------------------------------------------------------------------------------
    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The series settings the fields hold (``overrides`` replace fields)."""
        v = {**self.values, **overrides}
        streams = {"frames_stream": v["frames_stream"], "trace_streams": list(v["trace_streams"])}
        return {
            **(streams if self._has_streams else {}),
            "method": v["method"],
            "compression": None if v["compression"] == "none" else v["compression"],
            "max_frames": v["max_frames"] or None,
            "z_stepped": bool(v["z_stepped"]),
            "z_start_um": v["z_start_um"],
            "z_stop_um": v["z_stop_um"],
            "z_step_um": v["z_step_um"],
            "z_dwell": v["z_dwell"],
        }

    def _apply_edit(self, name: str, value: Any) -> Any:
        if name == "directory":
            old = self.spool.dir_pattern
            self.spool.dir_pattern = str(value)
            try:
                self.spool.series_name  # noqa: B018 - raises for a pattern it cannot expand
            except Exception:
                self.spool.dir_pattern = old
                raise
            self._refresh_idle()
            return str(value)
        if name == "preflight":
            return value
        if name not in _SETTING_ROWS:
            raise ValueError(f"{name} is not a spool setting")
        if name == "max_frames" and value is None:
            value = 0
        if name == "method":  # offer the codecs of the new method; keep the codec if it has it
            codecs = _codecs(self.spool, value)
            codec = self.values["compression"] if self.values["compression"] in codecs else "none"
            self.spool.estimate_spool_time(**self.settings(method=value, compression=codec))
            with self.hold_sync():
                self.schema = [
                    {**row, "options": [[c, c] for c in codecs]}
                    if row["name"] == "compression"
                    else row
                    for row in self.schema
                ]
                self.set_value("compression", codec)
            return value
        # the controller validates (it raises SpoolError naming the problem)
        self.spool.estimate_spool_time(**self.settings(**{name: value}))
        if name == "z_stepped":
            self._show_z_rows(bool(value))
        return value

    @property
    def _has_streams(self) -> bool:
        return bool(_streams(self.spool)[0])

    def _show_stream_rows(self) -> None:
        """The camera row only when there is a choice; the traces row when there are streams."""
        frames, _traces = _streams(self.spool)
        self.set_hidden(frames_stream=len(frames) < 2, trace_streams=not frames)

    def _on_event(self, event: Any) -> None:
        if self._closed or getattr(event, "topic", None) != "streams":
            return
        frames, traces = _streams(self.spool)
        with self.hold_sync():
            rows = {r["name"]: r for r in _stream_rows(self.spool)}
            self.schema = [rows.get(row["name"], row) for row in self.schema]
            kept = [t for t in self.values.get("trace_streams") or [] if t in traces]
            camera = self.values.get("frames_stream")
            self.set_values(
                trace_streams=kept,
                frames_stream=camera if camera in frames else (frames[0] if frames else None),
            )
            self._show_stream_rows()

    def _show_z_rows(self, on: bool | None = None) -> None:
        on = bool(self.values.get("z_stepped")) if on is None else on
        self.set_hidden(**dict.fromkeys(_Z_ROWS, not on))

    @property
    def error(self) -> str:
        """The red error text shown under the fields ("" when none)."""
        level, text = self.status
        return text if level == "error" else ""

    # actions -------------------------------------------------------------------------------
    def _on_click(self, name: str) -> None:
        if name == "start":
            self.start()
        elif name == "stop":
            self.stop()
        elif name in ("record_anyway", "cancel"):
            self._answer_dialog(name)

    def start(self) -> Any:
        """What the Start button does; returns the handle (None on error, shown in red)."""
        self.set_status("")
        try:
            handle = self.spool.start(
                settings=self.settings(),
                preflight_mode=self.values["preflight"],
                confirm=self._confirm,
            )
        except Exception as exc:
            self._answers = None
            self._show_error(exc)
            return None
        self.set_disabled(start=True, stop=False)
        self.set_value("path", f"→ {handle.path}")
        self._on_progress({"event": "started", **handle.progress.to_dict()})
        return handle

    def stop(self) -> None:
        """What the Stop button does (errors shown in red)."""
        self.set_disabled(stop=True)
        try:
            self.spool.stop()
        except Exception as exc:
            self._show_error(exc)

    def _confirm(self, report: Any, on_confirm: Any, on_cancel: Any) -> bool:
        """Interactive preflight: the failed checks and Record anyway / Cancel show in this form."""
        self._answers = {"record_anyway": on_confirm, "cancel": on_cancel}
        self.set_values(preflight_checks=[[bool(ok), str(m)] for ok, m in report.checks])
        self.set_hidden(**dict.fromkeys(_DIALOG_ROWS, False))
        self.set_disabled(record_anyway=False, cancel=False)
        return True

    def _answer_dialog(self, answer: str) -> None:
        answers, self._answers = self._answers, None
        if answers is None:
            return
        self._close_dialog()
        try:
            answers[answer]()  # the controller's on_confirm (starts the series) or on_cancel
        except Exception as exc:  # the controller could not start the series
            self._show_error(exc)
            self.set_disabled(start=False, stop=True)

    def _close_dialog(self) -> None:
        self.set_disabled(record_anyway=True, cancel=True)
        self.set_hidden(**dict.fromkeys(_DIALOG_ROWS, True))

    def _show_error(self, exc: BaseException | str) -> None:
        self.set_status(str(exc), "error")

    # progress (called from the spool writer thread) ---------------------------------------
    def _refresh_idle(self) -> None:
        try:
            series = self.spool.series_name
            free = self.spool.get_free_space()
        except Exception as exc:  # a bad directory pattern
            self.set_value("series", "")
            self.set_error("series", str(exc))
            return
        self.set_error("series", None)
        self.set_values(series=series, stats=f"free space {free:.1f} GB")

    def _on_progress(self, p: dict) -> None:
        if self._closed:
            return
        try:
            with self.hold_sync():  # one message: text, bar, buttons and dialog change together
                self._show_progress(p)
        except Exception:  # the panel must never break the writer thread
            logger.exception("updating the spool panel failed")

    def _show_progress(self, p: dict) -> None:
        expected = p.get("frames_expected")
        written = int(p.get("frames_written", 0))
        state = p.get("state", "")
        done = state in ("finished", "failed", "cancelled")
        bar_max = max(1, expected or max(written, 1))
        bar_value = written if expected else (written % 100) / 100 * bar_max
        text = f"{written}" + (f" / {expected}" if expected else "") + f" frames · {state}"
        style = ("danger" if state == "failed" else "success") if done else ""
        eta = p.get("eta_s")
        free = self.spool.get_free_space()
        stats = (
            f"in {p.get('mb_s_in', 0):.0f} MB/s · out {p.get('mb_s_out', 0):.0f} MB/s · ring fill "
            f"{100 * p.get('ring_fill', 0):.0f}% · left {'-' if eta is None else f'{eta:.1f} s'} · "
            f"free {free:.1f} GB · dropped {p.get('frames_dropped', 0)}"
        )
        frames = {"value": bar_value, "max": bar_max, "style": style, "text": text}
        shown: dict[str, Any] = {"frames": frames, "stats": stats}
        if p.get("path"):  # a series started from code too shows where it goes
            shown["path"] = f"→ {p['path']}"
        self.set_values(**shown)
        if state == "running":  # started here or from code: Stop works, Start waits for the end
            self.set_disabled(start=True, stop=False)
        if p.get("error"):
            self._show_error(p["error"])
        if p.get("event") in ("started", "cancelled") and state != "waiting" and self._answers:
            self._answers = None
            self._close_dialog()
        if done:
            self.set_disabled(start=False, stop=True)
            self.set_value("series", self.spool.series_name)

    def close(self) -> None:
        """Detach from the controller and close the widget (idempotent)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self.spool.remove_listener(self._on_progress)
        if self._events is not None:
            self._events.unsubscribe(self._on_event)
        self._answers = None
        super().close()
