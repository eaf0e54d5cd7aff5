"""Notebook files and Playwright helpers for driving JupyterLab, Notebook 7 and Voila pages.

Use them in your own widget tests::

    write_notebook(lab_server.root / "t.ipynb", ["import ipywidgets as w", "w.IntSlider(3)"])
    page.goto(lab_server.notebook_url("t.ipynb"))
    run_all_cells(page)
    wait_for_widget(page, ".widget-slider")
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "KERNELSPEC",
    "POLL_MS",
    "attach_console_errors",
    "poll_on_timer",
    "run_all_cells",
    "wait_for_kernel_idle",
    "wait_for_widget",
    "write_notebook",
]

# how often ``page.wait_for_function`` checks its condition: on a timer, not Playwright's default
# requestAnimationFrame polling, which a page painting a live view on SwiftShader under load can
# starve (a bench run waited 120 s for a first paint while its view painted 1,743 frames)
POLL_MS = 200

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

# benign console noise of the Jupyter front ends (not errors of the page under test)
_IGNORED_CONSOLE = (
    "favicon",
    "Failed to load resource",
    "[Violation]",
    "DevTools",
    "lab/api/workspaces",
    "Could not find a",
)


def write_notebook(path: Path | str, cells: Sequence[str], *, markdown: Sequence[str] = ()) -> Path:
    """Write an nbformat v4 notebook of code ``cells`` (without outputs) with a python3 kernelspec.

    ``markdown`` cells, if given, go first. The kernelspec stops JupyterLab from asking
    "Select Kernel". Returns the path.
    """
    path = Path(path)

    def cell(kind: str, source: str, i: int) -> dict[str, Any]:
        c: dict[str, Any] = {
            "cell_type": kind,
            "id": f"cell-{kind}-{i}",
            "metadata": {},
            "source": source,
        }
        if kind == "code":
            c["execution_count"] = None
            c["outputs"] = []
        return c

    nb = {
        "cells": [cell("markdown", s, i) for i, s in enumerate(markdown)]
        + [cell("code", s, i) for i, s in enumerate(cells)],
        "metadata": {
            "kernelspec": KERNELSPEC,
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return path


def attach_console_errors(page: Any) -> list[str]:
    """Collect console errors and uncaught page errors into ``page.console_errors`` (a list)."""
    errors: list[str] = []

    def on_console(msg: Any) -> None:
        if msg.type == "error" and not any(s in msg.text for s in _IGNORED_CONSOLE):
            errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.console_errors = errors
    return errors


def poll_on_timer(page: Any) -> None:
    """Make ``page.wait_for_function`` poll every ``POLL_MS`` unless a call names its polling.

    Playwright's default requestAnimationFrame polling can be starved on a loaded machine (see
    ``POLL_MS``) and keeps the page making frames while it waits (~0.1 CPU s per second waited
    on an idle page, measured here); every test page gets this from its fixture.
    """
    wait = page.wait_for_function

    def wait_for_function(expression: str, **kwargs: Any) -> Any:
        kwargs.setdefault("polling", POLL_MS)
        return wait(expression, **kwargs)

    page.wait_for_function = wait_for_function


# kernel status of the current notebook: from the app when exposed, else the toolbar indicator
_KERNEL_STATUS_JS = """() => {
    const app = window.jupyterapp;
    if (app) {
        const w = app.shell.currentWidget;
        const ctx = w && w.sessionContext;
        if (!ctx || !ctx.session || !ctx.session.kernel) return null;
        return ctx.session.kernel.status;
    }
    const el = document.querySelector('.jp-Notebook-ExecutionIndicator[data-status]');
    return el ? el.getAttribute('data-status') : null;
}"""


_PROMPTS_JS = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(p => p.textContent.trim())"""


def wait_for_kernel_idle(page: Any, timeout_s: float = 60.0, steady_s: float = 1.0) -> None:
    """Wait until the kernel of the open notebook (JupyterLab / Notebook 7) stays idle ``steady_s`` s.

    A fresh page reports "idle" for a moment before its kernel connection settles
    ("connecting", then "idle"); cells run in that moment are lost, hence the steady wait.

    Raises:
        TimeoutError: the kernel did not become idle in ``timeout_s`` seconds.
    """
    page.wait_for_selector(".jp-Notebook", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    idle_since: float | None = None
    while time.monotonic() < deadline:
        if page.evaluate(_KERNEL_STATUS_JS) == "idle":
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= steady_s:
                return
        else:
            idle_since = None
        time.sleep(0.1)
    raise TimeoutError(
        f"kernel not idle after {timeout_s:.0f} s (is the kernelspec in the notebook?)"
    )


def run_all_cells(page: Any, timeout_s: float = 90.0, wait_done: bool = True) -> None:
    """Run every cell of the open notebook (JupyterLab or Notebook 7) and wait for the kernel.

    Uses the app command ``notebook:run-all-cells`` when the app is exposed as ``window.jupyterapp``
    (servers from ``labkit.testing`` do that), else the Run menu. With ``wait_done`` it waits until
    no cell is queued or running any more and the kernel is idle. After an error ipykernel
    aborts the cells queued behind it, which stay unrun; a cell whose request reached the kernel
    after that abort (ipykernel's ``stop_on_error_timeout`` is 0 s) runs, and is waited for too.

    Raises:
        TimeoutError: the kernel did not start or the cells did not finish in ``timeout_s`` seconds.
    """
    wait_for_kernel_idle(page, timeout_s)
    before = page.evaluate(_PROMPTS_JS)
    ran = page.evaluate(
        """async () => {
            const app = window.jupyterapp;
            if (!app) return false;
            await app.commands.execute('notebook:run-all-cells');
            return true;
        }"""
    )
    if not ran:  # app not exposed: the Run menu, as a user would
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    if not wait_done:
        return
    # queued and running cells show "[*]:"; finished ones a count; after an error the rest keep "[ ]:"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        prompts = page.evaluate(_PROMPTS_JS)
        busy = any("*" in p for p in prompts)
        started = busy or prompts != before
        if started and not busy and page.evaluate(_KERNEL_STATUS_JS) == "idle":
            return
        time.sleep(0.25)
    raise TimeoutError(f"cells still running after {timeout_s:.0f} s")


def wait_for_widget(page: Any, selector: str, timeout_s: float = 60.0) -> Any:
    """Wait until an element matching ``selector`` is visible and return its locator.

    Typical selectors: ``.widget-slider`` (ipywidgets), ``canvas`` (LiveView),
    ``.labkit-traceplot`` (TracePlot), ``.labkit-dashboard``.
    """
    locator = page.locator(selector).first
    try:
        locator.wait_for(state="visible", timeout=timeout_s * 1000)
    except Exception as exc:  # the page's text says why (an error cell, a spinner, a banner)
        exc.add_note(f"{selector!r} not visible after {timeout_s:.0f} s; {page_report(page)}")
        raise
    return locator


def page_report(page: Any) -> str:
    """What a page shows, for a failure message: its URL, text tail and console errors."""
    try:
        text = page.evaluate("() => document.body ? document.body.innerText : ''")
    except Exception as exc:  # closed or navigating: say so rather than hide the first error
        text = f"<text unavailable: {exc}>"
    errors = getattr(page, "console_errors", [])
    return f"page {page.url} shows (last 1500 chars):\n{text[-1500:]}\nconsole errors: {errors}"
