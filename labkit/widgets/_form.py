"""``Form``: one anywidget that renders a form schema as plain HTML controls in every front end.

JupyterLab, Notebook 7, Voila and marimo all render anywidgets natively (marimo renders no
classic ipywidgets), so DevicePanel, SpoolPanel and the dashboard controls are Forms.

The kernel owns the truth. ``schema`` (rows), ``values``, ``errors``, ``disabled``, ``hidden`` and
``status`` are synced traits the browser only reads. The browser sends edits and clicks as custom
messages (``{"type": "edit", "name", "value"}``, ``{"type": "click", "name"}``); the form calls
``on_edit(name, value)`` — which applies the value and returns the accepted one, or raises — and
answers ``{"type": "applied", "name", "value", "error"}`` so the control shows the accepted value
again (also when the value did not change) and the error text in red beside it.

Row kinds (``Form.row(kind, name, **options)``):

=========  ===============================================================  ======================
kind       options                                                          value
=========  ===============================================================  ======================
number     units, low, high, slider ("linear" | "log" | ""), step           float or None
int        units, low, high                                                 int or None
choice     options: [(label, value), ...]                                   one of the values
multi      options: [(label, value), ...] (a checkbox each)                 list of the values
bool                                                                        bool
text       width (CSS)                                                      str
tuple      item ("int" | "float"), units                                    list of numbers
label      units                                                            str / number
badge                                                                       {text, color, cls}
buttons    buttons: [{name, label, style, cls, description}, ...]           (clicks)
progress                                                                    {value, max, style, text}
checks                                                                      [(ok, message), ...]
heading                                                                     (none)
=========  ===============================================================  ======================

Every row accepts ``label``, ``description`` (tooltip) and ``cls`` (extra CSS classes).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import anywidget
import traitlets

from labkit.widgets._frontends import close_with_comm
from labkit.widgets._static import bundle_path

__all__ = ["ROW_KINDS", "Form"]

logger = logging.getLogger(__name__)

ROW_KINDS = (
    "number",
    "int",
    "choice",
    "multi",
    "bool",
    "text",
    "tuple",
    "label",
    "badge",
    "buttons",
    "progress",
    "checks",
    "heading",
)
_OPTIONS = {
    "label",
    "description",
    "cls",
    "units",
    "low",
    "high",
    "slider",
    "step",
    "item",
    "options",
    "buttons",
    "width",
}

EditHandler = Callable[[str, Any], Any]
ClickHandler = Callable[[str], None]


class Form(anywidget.AnyWidget):
    """A form of rows (see the module docstring for the kinds) shown the same way everywhere.

    Args:
        schema: rows made with :meth:`Form.row`.
        values: initial values by row name.
        title: heading above the rows ("" for none).
        on_edit: ``fn(name, value) -> accepted value``; raise (any ``Exception``) to refuse —
            the message is shown in red beside the control and the control shows the last
            accepted value again. Without a handler every edit is accepted as sent.
        on_click: ``fn(button_name)``; an exception is shown in the form's status line in red.
        css_class: extra CSS classes of the form's root element (space separated).

    Thread safety: the ``set_*`` methods may be called from any thread (device listeners, the
    spooler's writer thread); each call sends one update.
    """

    form_id = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    css_class = traitlets.Unicode("").tag(sync=True)
    schema = traitlets.List(traitlets.Dict()).tag(sync=True)
    values = traitlets.Dict().tag(sync=True)
    #: row name -> error text, only rows that have one
    errors = traitlets.Dict().tag(sync=True)
    #: row or button name -> True when disabled
    disabled = traitlets.Dict().tag(sync=True)
    #: row name -> True when hidden
    hidden = traitlets.Dict().tag(sync=True)
    #: (level, text) under the rows: level "ok", "warning" or "error" (red)
    status = traitlets.Tuple(("ok", "")).tag(sync=True)

    def __init__(
        self,
        schema: Iterable[dict] = (),
        *,
        values: dict[str, Any] | None = None,
        title: str = "",
        on_edit: EditHandler | None = None,
        on_click: ClickHandler | None = None,
        css_class: str = "",
        **kwargs: Any,
    ) -> None:
        rows = [dict(r) for r in schema]
        names = [r["name"] for r in rows]
        if len(set(names)) != len(names):
            raise ValueError(f"Form row names must be unique, got {names}")
        self._lock = threading.RLock()
        self._on_edit = on_edit
        self._on_click = on_click
        self._esm = bundle_path("form").read_text(encoding="utf-8")
        super().__init__(
            form_id=f"form{uuid.uuid4().hex[:10]}",
            schema=rows,
            values=dict(values or {}),
            title=title,
            css_class=css_class,
            **kwargs,
        )
        self.on_msg(self._on_custom_msg)
        close_with_comm(self)  # a panel's device listeners end with its comm (marimo cell re-run)

    # ------------------------------------------------------------------ schema
    @staticmethod
    def row(kind: str, name: str, **options: Any) -> dict:
        """A schema row; raises ``ValueError`` for an unknown kind or option (listing the valid ones)."""
        if kind not in ROW_KINDS:
            raise ValueError(f"unknown row kind {kind!r}; choose one of {', '.join(ROW_KINDS)}")
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown row option(s) {sorted(unknown)}; valid: {sorted(_OPTIONS)}")
        if kind in ("choice", "multi"):
            options["options"] = [
                [str(label), value] for label, value in options.get("options", ())
            ]
        if kind == "buttons":
            options["buttons"] = [dict(b) for b in options.get("buttons", ())]
        return {"kind": kind, "name": name, **options}

    def row_names(self) -> list[str]:
        """Names of the rows (and of the buttons of ``buttons`` rows)."""
        out = []
        for r in self.schema:
            out.append(r["name"])
            out.extend(b["name"] for b in r.get("buttons", ()))
        return out

    # ------------------------------------------------------------------ kernel -> browser
    def set_values(self, **values: Any) -> None:
        """Show these values (no handler is called)."""
        with self._lock:
            self.values = {**self.values, **values}

    def set_value(self, name: str, value: Any) -> None:
        """Show ``value`` in row ``name`` (no handler is called)."""
        self.set_values(**{name: value})

    def set_error(self, name: str, message: str | None) -> None:
        """Red ``message`` beside row ``name`` (``""``/None clears it)."""
        with self._lock:
            errors = dict(self.errors)
            if message:
                errors[name] = str(message)
            else:
                errors.pop(name, None)
            if errors != self.errors:
                self.errors = errors

    def set_disabled(self, **disabled: bool) -> None:
        """Enable/disable rows or buttons by name."""
        with self._lock:
            self.disabled = {**self.disabled, **{k: bool(v) for k, v in disabled.items()}}

    def set_hidden(self, **hidden: bool) -> None:
        """Hide/show rows by name."""
        with self._lock:
            self.hidden = {**self.hidden, **{k: bool(v) for k, v in hidden.items()}}

    def set_status(self, text: str, level: str = "ok") -> None:
        """The form's own line under the rows; ``level="error"`` shows it in red."""
        if level not in ("ok", "warning", "error"):
            raise ValueError(f"status level {level!r} unknown; use 'ok', 'warning' or 'error'")
        self.status = (level, str(text))

    def __enter__(self) -> Form:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ browser -> kernel
    def edit(self, name: str, value: Any) -> bool:
        """Apply an edit as if the user made it in the page; True when accepted.

        A refused value keeps the row's previous value and puts the handler's message in
        ``errors[name]``; it never raises.
        """
        try:
            accepted = self._on_edit(name, value) if self._on_edit is not None else value
        except Exception as exc:  # the handler's message says what is allowed
            logger.info("form edit %s=%r refused: %s", name, value, exc)
            self.set_error(name, str(exc))
            self._reply(name, self.values.get(name), str(exc))
            return False
        self.set_error(name, None)
        self.set_value(name, accepted)
        self._reply(name, accepted, "")
        return True

    def click(self, name: str) -> None:
        """Press button ``name`` as the user would; an error goes to the status line in red."""
        if self.disabled.get(name):
            return
        if self._on_click is None:
            return
        try:
            self._on_click(name)
        except Exception as exc:
            logger.warning("form button %r failed: %s", name, exc)
            self.set_status(f"{name}: {exc}", "error")

    def _reply(self, name: str, value: Any, error: str) -> None:
        try:
            self.send({"type": "applied", "name": name, "value": value, "error": error})
        except Exception:  # no front end (closed comm): the traits still hold the state
            logger.debug("form reply not sent", exc_info=True)

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind, name = content.get("type"), content.get("name")
        if not isinstance(name, str) or name not in self.row_names():
            logger.warning("form message for unknown row %r ignored", name)
            return
        if kind == "edit":
            self.edit(name, content.get("value"))
        elif kind == "click":
            self.click(name)
        else:
            logger.warning("form message of unknown type %r ignored", kind)
