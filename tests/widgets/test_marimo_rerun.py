"""Re-running a marimo cell releases the widgets it made.

marimo closes the comm of every widget a cell created when the cell re-runs, without telling the
widget; labkit widgets close themselves then (``close_with_comm``). The app below makes a live
view, a trace plot, a device panel and a whole dashboard in a cell that depends on a slider, and
shows the labkit threads and the ring readers of its process every second. Moving the slider
re-runs the cell: the old views' threads and readers must be gone, the new ones running. A live
view made in another cell and only displayed by the re-run cell is not closed: it keeps painting.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from labkit.testing import marimo_log_problems, wait_until
from labkit.testing._browser import app_page
from labkit.testing._servers import marimo_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = textwrap.dedent(
    """
    import marimo

    app = marimo.App()


    @app.cell
    def _():
        import atexit
        import threading

        import marimo as mo

        import labkit as lk

        return atexit, lk, mo, threading


    @app.cell
    def _(atexit, lk):
        scope = lk.Scope(shape=(128, 128))
        atexit.register(scope.close)
        scope.start()
        return (scope,)


    @app.cell
    def _(mo):
        knob = mo.ui.slider(1, 5, value=1, label="knob")
        knob
        return (knob,)


    @app.cell
    def _(lk, scope):
        kept = lk.LiveView(scope, max_fps=10)  # made here, displayed by the re-run cell
        return (kept,)


    @app.cell
    def _(kept, knob, lk, mo, scope):
        live = lk.LiveView(scope, max_fps=10)
        plot = lk.TracePlot(scope)
        panel = lk.DevicePanel(scope.camera)
        dash = scope.dashboard()
        mo.vstack([
            mo.md(f"knob {knob.value}"),
            mo.ui.anywidget(live), plot, panel, dash,
            mo.md(f"kept view: {kept.view_id}"), mo.ui.anywidget(kept),
        ])
        return


    @app.cell
    def _(mo):
        tick = mo.ui.refresh(options=["1s"], default_interval="1s")
        tick
        return (tick,)


    @app.cell
    def _(mo, scope, threading, tick):
        tick
        names = sorted(t.name for t in threading.enumerate() if t.name.startswith("labkit-"))
        readers = sorted(scope.health().readers)
        mo.md(f"threads: {' '.join(names)} | readers: {' '.join(readers)} |")
        return


    if __name__ == "__main__":
        app.run()
    """
)


def _probe(page) -> tuple[list[str], set[str]]:
    """(labkit thread names, view ids of the live-view readers on the ring) as the app shows them."""
    text = page.get_by_text("threads:").inner_text()
    m = re.search(r"threads:(.*?)\|\s*readers:(.*?)\|", text)
    assert m, text
    return m.group(1).split(), {r.removeprefix("liveview-") for r in m.group(2).split()}


def _views(threads: list[str]) -> set[str]:
    """View ids of the live-view pump threads."""
    return {t.removeprefix("labkit-") for t in threads if t.startswith("labkit-lv")}


def _wait_probe(page, ok, timeout_s: float = 30.0) -> tuple[list[str], set[str]]:
    """Poll the app's probe (refreshed every second) until ``ok(threads, readers)``."""

    def probed() -> tuple[list[str], set[str]] | None:
        threads, readers = _probe(page)
        return (threads, readers) if ok(threads, readers) else None

    return wait_until(probed, timeout_s, "the app's threads and readers", 0.25)


def test_rerunning_a_cell_releases_its_widgets_threads_and_readers(chromium, tmp_path):
    app = tmp_path / "rerun_app.py"
    app.write_text(APP)
    with marimo_run(app, tmp_path / "marimo.log") as url, app_page(chromium, url) as page:
        page.get_by_text("threads:").wait_for(timeout=90_000)
        kept = re.search(r"kept view: (lv\w+)", page.get_by_text("kept view:").inner_text())[1]

        def made(threads: list[str]) -> set[str]:
            return _views(threads) - {kept}

        # the re-run cell's live view and its dashboard's, and the kept one: each with a reader
        threads, readers = _wait_probe(
            page, lambda t, r: len(made(t)) == 2 and kept in _views(t) and r == _views(t), 60
        )
        views = made(threads)
        others = sorted(t for t in threads if not t.startswith("labkit-lv"))
        assert others.count("labkit-traceplot") == 2
        slider = page.locator("[role=slider]").first
        for knob in (2, 3, 4):
            slider.focus()
            page.keyboard.press("ArrowRight")
            page.get_by_text(f"knob {knob}").wait_for(timeout=30_000)
            # the same widgets again, and nothing of the old ones: threads and readers
            threads, readers = _wait_probe(
                page,
                lambda t, r, old=views: (
                    len(made(t)) == 2
                    and not (made(t) & old)
                    and kept in _views(t)
                    and r == _views(t)
                ),
            )
            assert sorted(t for t in threads if not t.startswith("labkit-lv")) == others
            views = made(threads)
        # the kept view, only re-displayed, still paints new frames (once scrolled into sight:
        # a view out of sight gets no frames)
        page.locator(".lk-live").last.scroll_into_view_if_needed()
        painted = (
            "(id) => Object.entries(window.labkit.views)"
            ".filter(([k]) => k.startsWith(id)).reduce((a, [, v]) => a + v.painted, 0)"
        )
        before = page.evaluate(painted, kept)
        page.wait_for_function(f"(id) => ({painted})(id) > {before} + 5", arg=kept, timeout=30_000)
        assert page.console_errors == []
    assert marimo_log_problems((tmp_path / "marimo.log").read_text()) == []
