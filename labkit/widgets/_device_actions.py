"""The actions part of a DevicePanel: an argument field per action argument, a button, progress.

For an action ``home(speed_mm_s: float = 20)`` the panel gets the rows ``home.speed_mm_s`` (a
number box with the argument's units and limits, checked like a property: a bad value shows the
error in red and is not kept) and ``home:run`` (the button ``home()``), then ``home:status`` (a
progress bar with the action's progress messages, then its result, or its error in red).

Actions run on one worker thread of the panel, one at a time (every action button is disabled
while one runs), so a long action (homing a magnet) never blocks the kernel's message loop and
the page keeps updating. Closing the panel does not abort an action already sent to the device.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from labkit.devices import PropertySpec
from labkit.widgets._form import Form

__all__ = ["ActionRows"]

logger = logging.getLogger(__name__)


def _arg_row(action: str, spec: dict) -> dict:
    from labkit.widgets._device_panel import row_for  # shared with the property rows

    row = row_for(f"{action}.{spec['name']}", spec)
    row["label"] = spec["name"]
    row["cls"] = f"labkit-action-arg labkit-arg-{action}-{spec['name']}"
    return row


class ActionRows:
    """Rows, values and click handling of a device's actions (``describe()["actions"]``)."""

    def __init__(self, device: Any, actions: dict[str, dict]) -> None:
        self.device = device
        self.actions = actions
        self.args: dict[str, tuple[str, PropertySpec]] = {}  # row name -> (action, spec)
        self.running: str | None = None
        self.results: dict[str, Any] = {}  # action -> last result (or the exception)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._form: Form | None = None
        for action, info in actions.items():
            for arg in info.get("args", []):
                self.args[f"{action}.{arg['name']}"] = (action, PropertySpec.from_json(arg))

    # ------------------------------------------------------------------ schema
    def rows(self) -> list[dict]:
        if not self.actions:
            return []
        rows = [Form.row("heading", "actions:heading", label="actions")]
        for action, info in self.actions.items():
            rows.extend(_arg_row(action, arg) for arg in info.get("args", []))
            button = {
                "name": f"{action}()",
                "label": f"{action}()",
                "description": info.get("description") or action,
                "cls": f"labkit-action labkit-action-{action}",
            }
            rows.append(Form.row("buttons", f"{action}:run", label="", buttons=[button]))
            rows.append(
                Form.row("progress", f"{action}:status", label="", cls="labkit-action-status")
            )
        return rows

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for row, (_action, spec) in self.args.items():
            out[row] = list(spec.default) if isinstance(spec.default, tuple) else spec.default
        return out

    def hidden(self) -> dict[str, bool]:
        return {f"{a}:status": True for a in self.actions}

    def bind(self, form: Form) -> None:
        self._form = form

    # ------------------------------------------------------------------ edits and clicks
    def owns_edit(self, name: str) -> bool:
        return name in self.args

    def check_edit(self, name: str, value: Any) -> Any:
        """An argument field was edited: the value checked like a property (raises what the
        spec raises: the form shows it in red)."""
        action, spec = self.args[name]
        if spec.kind == "tuple" and isinstance(value, list):
            value = tuple(value)
        checked = spec.validate(value, owner=f"{action}()")
        return list(checked) if isinstance(checked, tuple) else checked

    def owns_click(self, name: str) -> bool:
        return name.endswith("()") and name[:-2] in self.actions

    def click(self, name: str) -> Future | None:
        """Run the action of button ``name`` with the fields' values on the panel's worker
        thread; returns its future (None when another action is still running)."""
        form = self._form
        assert form is not None, "bind() the form first"
        action = name[:-2]
        with self._lock:
            if self.running is not None:
                return None
            kwargs = {}
            for row, (owner, spec) in self.args.items():
                value = form.values.get(row)
                if owner == action and value is not None:
                    kwargs[spec.name] = tuple(value) if isinstance(value, list) else value
            self.running = action
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="labkit-action")
            with form.hold_sync():
                form.set_disabled(**{f"{a}()": True for a in self.actions})
                form.set_error(f"{action}:run", None)
                form.set_hidden(**{f"{action}:status": False})
                form.set_value(f"{action}:status", {"value": 0, "max": 1, "text": "running…"})
            return self._executor.submit(self._run, action, kwargs)

    def _run(self, action: str, kwargs: dict[str, Any]) -> Any:
        form = self._form
        assert form is not None
        status = f"{action}:status"

        def progress(fraction: float, message: str = "") -> None:
            text = message or f"{100 * float(fraction):.0f} %"
            form.set_value(status, {"value": float(fraction), "max": 1, "text": text})

        try:
            call = getattr(self.device, "call_action", None)
            if call is not None:
                result = call(action, kwargs, progress)
            else:
                result = getattr(self.device, action)(progress=progress, **kwargs)
        except Exception as exc:  # shown in red under the button, and kept for code to see
            logger.info("action %s() refused or failed: %s", action, exc)
            self.results[action] = exc
            with form.hold_sync():
                form.set_error(f"{action}:run", f"{type(exc).__name__}: {exc}")
                form.set_value(status, {"value": 0, "max": 1, "style": "danger", "text": "failed"})
                self._done()
            raise
        self.results[action] = result
        shown = (
            "" if result is None
            else f" → {result:.4g}" if isinstance(result, float)
            else f" → {result}"
        )  # fmt: skip
        with form.hold_sync():
            form.set_value(
                status, {"value": 1, "max": 1, "style": "success", "text": f"done{shown}"}
            )
            self._done()
        return result

    def _done(self) -> None:
        form = self._form
        assert form is not None
        with self._lock:
            self.running = None
        form.set_disabled(**{f"{a}()": False for a in self.actions})

    def close(self) -> None:
        """Let the worker thread end (an action already sent runs to its end on the device)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
