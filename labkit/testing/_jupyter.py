"""Notebook files and Playwright helpers for driving JupyterLab, Notebook 7 and Voila pages.

Use them in your own widget tests::

    write_notebook(lab_server.root / "t.ipynb", ["import ipywidgets as w", "w.IntSlider(3)"])
    page.goto(lab_server.notebook_url("t.ipynb"))
    run_all_cells(page)
    wait_for_widget(page, ".widget-slider")
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "KERNELSPEC",
    "attach_console_errors",
    "run_all_cells",
    "wait_for_kernel_idle",
    "wait_for_widget",
    "write_notebook",
]

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


def wait_for_kernel_idle(page: Any, timeout_s: float = 60.0) -> None:
    """Wait until the JupyterLab / Notebook 7 kernel of the open notebook reports idle.

    Raises:
        TimeoutError: the kernel did not become idle in ``timeout_s`` seconds.
    """
    page.wait_for_selector(".jp-Notebook", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = page.evaluate(
            """() => {
                const app = window.jupyterapp;
                const w = app && app.shell.currentWidget;
                const ctx = w && w.sessionContext;
                if (!ctx || !ctx.session || !ctx.session.kernel) return null;
                return ctx.session.kernel.status;
            }"""
        )
        if status == "idle":
            return
        time.sleep(0.25)
    raise TimeoutError(
        f"kernel not idle after {timeout_s:.0f} s (is the kernelspec in the notebook?)"
    )


def run_all_cells(page: Any, timeout_s: float = 90.0, wait_done: bool = True) -> None:
    """Run every cell of the open notebook (JupyterLab or Notebook 7) and wait for the kernel.

    Uses the app command ``notebook:run-all-cells`` (servers from ``labkit.testing`` expose the app as
    ``window.jupyterapp``). With ``wait_done`` it waits until no cell shows ``[*]`` any more.

    Raises:
        TimeoutError: the kernel did not start or the cells did not finish in ``timeout_s`` seconds.
    """
    wait_for_kernel_idle(page, timeout_s)
    page.evaluate(
        """async () => {
            const app = window.jupyterapp;
            await app.commands.execute('notebook:run-all-cells');
        }"""
    )
    if not wait_done:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pending = page.evaluate(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')];
                const busy = prompts.some(p => p.textContent.includes('*'));
                const app = window.jupyterapp;
                const w = app && app.shell.currentWidget;
                const k = w && w.sessionContext && w.sessionContext.session
                    && w.sessionContext.session.kernel;
                return busy || !k || k.status !== 'idle';
            }"""
        )
        if not pending:
            return
        time.sleep(0.25)
    raise TimeoutError(f"cells still running after {timeout_s:.0f} s")


def wait_for_widget(page: Any, selector: str, timeout_s: float = 60.0) -> Any:
    """Wait until an element matching ``selector`` is visible and return its locator.

    Typical selectors: ``.widget-slider`` (ipywidgets), ``canvas`` (LiveView),
    ``.bqplot`` (TracePlot), ``.labkit-dashboard``.
    """
    locator = page.locator(selector).first
    locator.wait_for(state="visible", timeout=timeout_s * 1000)
    return locator
