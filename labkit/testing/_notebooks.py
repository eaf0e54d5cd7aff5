"""Run a notebook in JupyterLab as a person would (Run All, then look), and check what they check.

    run = run_in_lab(lab_server, page, Path("notebooks/quickstart.ipynb"))
    run.check_clean()                       # no error output, no traceback in the kernel log
    run.page.locator(".labkit-dashboard").scroll_into_view_if_needed()
    wait_painting(run.page)                 # the live view keeps painting after Run All

The notebook is copied into a directory of its own below the server's root, so it runs as
shipped (and its outputs are saved into the copy, not into the original).
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.testing._jupyter import POLL_MS, page_report, run_all_cells

__all__ = [
    "PAINTED_JS",
    "LabRun",
    "log_problems",
    "output_errors",
    "run_in_lab",
    "wait_painting",
]

# outputs a person reads as "something went wrong": error tracebacks and anything on stderr
_ERROR_OUTPUTS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(o => /stderr|error/.test(o.getAttribute('data-mime-type') || '')
                 || o.querySelector('[data-mime-type*="stderr"], [data-mime-type*="error"]'))
    .map(o => o.textContent.slice(0, 3000))"""

#: frames painted by every live view on the page (``window.labkit.views``)
PAINTED_JS = (
    "() => Object.values((window.labkit || {views: {}}).views)"
    ".reduce((n, v) => n + (v.painted || 0), 0)"
)

#: every live view's counters and state in the page (received, painted, status, encoding...)
VIEWS_JS = "() => JSON.parse(JSON.stringify((window.labkit || {views: {}}).views))"

# what a kernel (or app server) log must not contain while a notebook runs and stays open
# (Jupyter servers mark their own errors "[E <date> ...]")
_LOG_PROBLEMS = re.compile(
    r"Traceback \(most recent call last\)|Exception in thread|Error in atexit|"
    r"Uncaught exception|^\[E \d"
)


def output_errors(page: Any) -> list[str]:
    """Texts of the error and stderr outputs of the open notebook (JupyterLab / Notebook 7)."""
    return list(page.evaluate(_ERROR_OUTPUTS_JS))


def log_problems(log: str) -> list[str]:
    """Lines of a server log that show a traceback or an error (with the 5 lines after each)."""
    return [problem for problem, _ in _problems(log)]


#: what marimo's server answers a request naming a session it no longer has
_CLOSED_SESSION = "ValueError: Invalid session id"


def marimo_log_problems(log: str) -> list[str]:
    """:func:`log_problems` of a ``marimo run`` log, less marimo's own traceback for a widget
    message that reached the server after the page's session was gone ("ValueError: Invalid
    session id"): a page closing as the server stops sends its last messages, and on a busy
    machine they arrive after the shutdown. Everything the app logged still counts."""
    return [problem for problem, error in _problems(log) if not error.startswith(_CLOSED_SESSION)]


def _problems(log: str) -> list[tuple[str, str]]:
    """(the problem line and the 5 after it, the exception line that ends a traceback or "")."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        if _LOG_PROBLEMS.search(line):
            error = ""
            if "Traceback" in line:  # the first unindented line after it names the exception
                error = next((x for x in lines[i + 1 :] if x and not x[0].isspace()), "")
            found.append(("\n".join(lines[i : i + 6]), error))
    return found


def wait_painting(page: Any, frames: int = 10, timeout_s: float = 30.0) -> int:
    """Wait until the live views of ``page`` paint ``frames`` more frames than now (the view is
    alive, not just painted once); returns the new total. Raises Playwright's TimeoutError."""
    start = int(page.evaluate(PAINTED_JS))
    try:
        page.wait_for_function(
            f"() => ({PAINTED_JS})() >= {start + frames}", timeout=timeout_s * 1000, polling=POLL_MS
        )
    except Exception as exc:  # say what the views counted and what the page shows
        try:
            views = page.evaluate(VIEWS_JS)
        except Exception as inner:  # noqa: BLE001 - the page may be gone: keep the first error
            views = f"<unavailable: {inner}>"
        exc.add_note(f"painted {start} before the wait; the live views now: {views}")
        exc.add_note(page_report(page))
        raise
    return int(page.evaluate(PAINTED_JS))


def check_stop_and_start(dashboard: Any, timeout_s: float = 30.0) -> None:
    """Click the ``dashboard`` locator's Stop, then Start: the engine's state badge follows each,
    and the button just clicked is disabled. Raises Playwright's TimeoutError or AssertionError."""
    ms = timeout_s * 1000
    dashboard.locator("button.labkit-stop").click()
    dashboard.locator(".labkit-state-stopped").wait_for(timeout=ms)
    assert dashboard.locator("button.labkit-stop").is_disabled(), "Stop is enabled when stopped"
    dashboard.locator("button.labkit-start").click()
    dashboard.locator(".labkit-state-running").wait_for(timeout=ms)
    assert dashboard.locator("button.labkit-start").is_disabled(), "Start is enabled when running"


#: plain text of every output in the current notebook's model (stream text, text/plain, errors)
_MODEL_OUTPUTS_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const cells = panel && panel.content && panel.content.model ? panel.content.model.cells : [];
  const texts = [];
  for (let i = 0; i < cells.length; i++) {
    const outputs = cells.get(i).outputs;
    if (!outputs) continue;
    for (let k = 0; k < outputs.length; k++) {
      const o = outputs.get(k).toJSON();
      const text = o.text ?? (o.data && o.data["text/plain"]) ?? (o.evalue ? o.ename + ": " + o.evalue : "");
      texts.push(Array.isArray(text) ? text.join("") : String(text));
    }
  }
  return texts;
}"""


@dataclass
class LabRun:
    """A notebook opened in JupyterLab after Run All: ``page``, the ``server``, the copy's ``path``."""

    page: Any
    server: Any
    path: Path
    log_offset: int

    def log(self) -> str:
        """What the server and the notebook's kernel logged since the notebook was opened."""
        return str(self.server.log_since(self.log_offset))

    def check_clean(self) -> None:
        """Raise AssertionError naming what a person would see as broken: an error or stderr
        output in the notebook, a traceback or error in the kernel log, a console error."""
        problems = [f"output: {text}" for text in output_errors(self.page)]
        problems += [f"log: {text}" for text in log_problems(self.log())]
        problems += [f"console: {text}" for text in getattr(self.page, "console_errors", [])]
        assert not problems, f"{self.path.name}:\n" + "\n---\n".join(problems)

    def output_text(self) -> str:
        """The text of every output of the notebook, in order: what the page shows, then each
        output's plain text from the notebook's model (JupyterLab takes cells scrolled far out
        of view out of the page, so a long notebook's first outputs are only in the model)."""
        shown = self.page.evaluate(
            "() => [...document.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText)"
        )
        return "\n".join([*shown, *self.page.evaluate(_MODEL_OUTPUTS_JS)])


def run_in_lab(server: Any, page: Any, notebook: Path | str, timeout_s: float = 240.0) -> LabRun:
    """Copy ``notebook`` below ``server.root``, open it in JupyterLab and Run All Cells.

    Returns when every cell ran (or an error stopped the run). Raises ``TimeoutError`` when
    the cells do not finish in ``timeout_s`` seconds.
    """
    notebook = Path(notebook)
    folder = server.root / f"{notebook.stem}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    copy = folder / notebook.name
    shutil.copyfile(notebook, copy)
    offset = server.log_size()
    page.goto(server.notebook_url(str(copy.relative_to(server.root))))
    run_all_cells(page, timeout_s=timeout_s)
    return LabRun(page=page, server=server, path=copy, log_offset=offset)
