"""ScriptPanel: load a script (YAML), run it in the engine, pause / resume / abort it, and see
the current step, the progress and a failed step's error in red.

A :class:`Form`. The run's ``protocol`` events reach the panel through the scope's event thread
(``ProtocolHandle.add_listener``), so the panel shows what the engine does, also in process mode.
"""

from __future__ import annotations

import logging
from typing import Any

from labkit.widgets._form import Form

__all__ = ["ScriptPanel"]

logger = logging.getLogger(__name__)

_FINAL = ("done", "cancelled", "failed")


def _schema() -> list[dict]:
    r = Form.row
    return [
        r("text", "file", label="script", width="26em", cls="labkit-script-file",
          description="a YAML script (lk.Script.save writes one)"),
        r("label", "script", label="", cls="labkit-script-name"),
        r("buttons", "actions", label="", buttons=[
            {"name": "load", "label": "Load", "cls": "labkit-script-load"},
            {"name": "run", "label": "▶ Run", "style": "success", "cls": "labkit-script-run"},
            {"name": "pause", "label": "❚❚ Pause", "cls": "labkit-script-pause"},
            {"name": "resume", "label": "▶ Resume", "cls": "labkit-script-resume"},
            {"name": "abort", "label": "■ Abort", "style": "danger", "cls": "labkit-script-abort"},
        ]),
        r("progress", "progress", label="", cls="labkit-script-progress"),
        r("label", "step", label="step", cls="labkit-script-step"),
    ]  # fmt: skip


class ScriptPanel(Form):
    """``ScriptPanel(scope, script=None)``: run scripts (:class:`labkit.protocols.Script`).

    ``script`` is a Script, its dict or a YAML path (or set the file field and press Load).
    ``panel.click("run")`` etc. do what the page does; ``panel.handle`` is the running (or last)
    run; ``panel.error`` the red text ("" when none). ``close()`` detaches the panel (a running
    script keeps running in the engine).
    """

    def __init__(self, scope: Any, script: Any = None, **kw: Any) -> None:
        self.scope = scope
        self.script: Any = None
        self.handle: Any = None
        self._closed = True
        super().__init__(
            _schema(),
            values={"file": "", "script": "no script loaded", "step": "",
                    "progress": {"value": 0, "max": 1, "text": ""}},
            title="Script", on_edit=self._apply_edit, on_click=self._on_click,
            css_class="labkit-script-panel", **kw,
        )  # fmt: skip
        self._closed = False
        self._buttons("idle")
        if script is not None:
            self.load(script)

    @property
    def error(self) -> str:
        """The red error text under the rows ("" when none)."""
        level, text = self.status
        return text if level == "error" else ""

    def _apply_edit(self, name: str, value: Any) -> Any:
        if name != "file":
            raise ValueError(f"{name} cannot be edited")
        return str(value)

    def _on_click(self, name: str) -> None:
        actions = {"load": lambda: self.load(self.values.get("file") or ""), "run": self.run,
                   "pause": self.pause, "resume": self.resume, "abort": self.abort}  # fmt: skip
        actions[name]()

    def _buttons(self, state: str) -> None:
        running = state in ("running", "paused")
        self.set_disabled(
            load=running, run=running or self.script is None, pause=state != "running",
            resume=state != "paused", abort=not running,
        )  # fmt: skip

    # -- actions ---------------------------------------------------------------------------------

    def load(self, script: Any) -> Any:
        """Load a Script, its dict or a YAML file; returns the Script (None on error, in red)."""
        from labkit.protocols import Script

        try:
            if isinstance(script, Script):
                loaded = script
            elif isinstance(script, dict):
                loaded = Script.from_dict(script)
            else:
                if not str(script):
                    raise ValueError("type the path of a YAML script in the field, then Load")
                loaded = Script.load(str(script))
                self.set_value("file", str(script))
        except Exception as exc:
            self.set_status(str(exc), "error")
            return None
        self.script = loaded
        self.set_status("")
        self.set_values(
            script=f"{loaded.name}: {len(loaded)} steps", step="",
            progress={"value": 0, "max": max(1, len(loaded)), "text": f"0 / {len(loaded)} steps"},
        )  # fmt: skip
        self._buttons("idle")
        return loaded

    def run(self) -> Any:
        """What Run does: start the loaded script; returns its handle (None on error, in red)."""
        if self.script is None:
            self.set_status("load a script first", "error")
            return None
        self.set_status("")
        try:
            handle = self.scope.run_script(self.script)
        except Exception as exc:
            self.set_status(str(exc), "error")
            return None
        self.handle = handle
        handle.add_listener(self._on_progress)
        self._on_progress(handle.progress)
        return handle

    def _control(self, action: str) -> None:
        if self.handle is None:
            return
        try:
            getattr(self.handle, action)()
        except Exception as exc:
            self.set_status(str(exc), "error")

    def pause(self) -> None:
        """Hold before the next step."""
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def abort(self) -> None:
        """Stop at the next step boundary (or inside a wait); devices are left safe."""
        self._control("cancel")

    # -- progress (the scope's event thread) -----------------------------------------------------

    def _on_progress(self, status: dict) -> None:
        if self._closed:
            return
        try:
            with self.hold_sync():
                self._show(status)
        except Exception:  # the panel must never break event delivery
            logger.exception("updating the script panel failed")

    def _show(self, s: dict) -> None:
        state, total = s["state"], max(1, int(s["steps_total"]))
        done = int(s["steps_done"])
        style = {"failed": "danger", "done": "success", "cancelled": "warning"}.get(state, "")
        self.set_values(
            progress={"value": done, "max": total, "style": style,
                      "text": f"{done} / {s['steps_total']} steps · {state}"},
            step=f"{min(done + 1, total)}: {s['step']}" if s["step"] else "",
        )  # fmt: skip
        if state == "failed":
            self.set_status(f"step {done + 1} failed: {s['error']}", "error")
        elif state == "cancelled":
            self.set_status("aborted; stages stopped, shutters closed", "warning")
        elif state == "done":
            self.set_status("done")
        self._buttons(state if state not in _FINAL else "idle")

    def close(self) -> None:
        """Detach from the run and close the widget (idempotent)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        if self.handle is not None:
            self.handle.remove_listener(self._on_progress)
        super().close()
