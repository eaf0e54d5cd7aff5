"""The "interactive" preflight mode: a dialog in the notebook that starts the series on "Record anyway"."""

from __future__ import annotations

import logging
from collections.abc import Callable

from labkit.spool._preflight import PreflightReport

log = logging.getLogger(__name__)

#: ``confirm(report, on_confirm, on_cancel) -> bool``: ask the user about a failed preflight; call
#: ``on_confirm()`` to record (it may raise) or ``on_cancel()``; return False if nobody can be asked.
Confirm = Callable[[PreflightReport, Callable[[], None], Callable[[], None]], bool]


def has_frontend() -> bool:
    """True inside a Jupyter kernel (a front end can show widgets)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def confirm_in_notebook(
    report: PreflightReport,
    on_confirm: Callable[[], None],
    on_cancel: Callable[[], None],
) -> bool:
    """Show the failed checks with "Record anyway" / "Cancel" buttons; False without a Jupyter front end.

    The default :data:`Confirm` of ``SpoolController.start(preflight_mode="interactive")``; the
    SpoolPanel passes its own that shows the checks inside the panel.
    """
    if not has_frontend():
        return False
    import ipywidgets as w
    from IPython.display import display

    lines = [
        f"<div style='color:{'#2a7' if ok else '#c22'}'>{'✔' if ok else '✘'} {msg}</div>"
        for ok, msg in report.checks
    ]
    record = w.Button(description="Record anyway", button_style="warning")
    cancel = w.Button(description="Cancel")
    status = w.HTML()
    box = w.VBox(
        [
            w.HTML("<b>Spool preflight found problems</b>" + "".join(lines)),
            w.HBox([record, cancel]),
            status,
        ]
    )

    def _record(_):
        record.disabled = cancel.disabled = True
        try:
            on_confirm()
            status.value = "recording…"
        except Exception as exc:
            status.value = f"<span style='color:#c22'>{exc}</span>"

    def _cancel(_):
        record.disabled = cancel.disabled = True
        on_cancel()
        status.value = "cancelled"

    record.on_click(_record)
    cancel.on_click(_cancel)
    box.add_class("labkit-preflight-dialog")
    record.add_class("labkit-preflight-record")
    cancel.add_class("labkit-preflight-cancel")
    display(box)
    return True
