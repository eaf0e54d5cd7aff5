"""The browser fixtures: pages poll on a timer, Run All works with and without the exposed app
and returns after an error, an ipywidgets slider renders in Voila and JupyterLab, kernels shut
down, and ``run_in_lab`` sees what a person would see as broken. (Notebook 7 pages: the live
view and dashboard tests.)"""

from __future__ import annotations

import pytest

from labkit.testing.fixtures import run_all_cells, wait_for_widget, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "import ipywidgets as widgets",
    "slider = widgets.IntSlider(value=7, max=10, description='smoke')\nslider",
]


def test_write_notebook_has_kernelspec(tmp_path):
    import nbformat

    path = write_notebook(tmp_path / "nb.ipynb", ["x = 1"], markdown=["# title"])
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"]
    assert nb.cells[1].outputs == []


def test_test_pages_poll_their_waits_on_a_timer(page):
    """The fixture's page waits poll every POLL_MS, not on requestAnimationFrame (which a loaded
    machine starves); a wait that names its polling keeps it."""
    from labkit.testing._jupyter import POLL_MS, poll_on_timer

    class Page:
        def __init__(self):
            self.calls = []

        def wait_for_function(self, expression, **kwargs):
            self.calls.append((expression, kwargs))

    fake = Page()
    poll_on_timer(fake)
    fake.wait_for_function("() => 1", arg=2, timeout=5)
    fake.wait_for_function("() => 1", polling="raf")
    assert fake.calls == [
        ("() => 1", {"arg": 2, "timeout": 5, "polling": POLL_MS}),
        ("() => 1", {"polling": "raf"}),
    ]
    page.set_content("<p id=x>1</p>")
    page.wait_for_function("() => document.getElementById('x').textContent === '1'")
    assert page.wait_for_function.__qualname__.startswith("poll_on_timer")  # the fixture's


def test_run_all_cells_without_the_exposed_app(lab_server, page):
    """A JupyterLab that does not expose window.jupyterapp is driven through the Run menu; an
    ipywidgets slider renders; the server's kernels are listed and shut down."""
    cells = ["import time\ntime.sleep(1)\nprint('ran' + '-ok')", *CELLS]
    write_notebook(lab_server.root / "menu.ipynb", cells)
    page.goto(lab_server.notebook_url("menu.ipynb"))
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_function("() => window.jupyterapp !== undefined")
    page.evaluate("() => { delete window.jupyterapp; }")
    assert page.evaluate("() => window.jupyterapp === undefined")
    run_all_cells(page)
    assert page.locator(".jp-OutputArea-output", has_text="ran-ok").count() == 1
    slider = wait_for_widget(page, ".jp-OutputArea .widget-slider", timeout_s=60)
    assert "smoke" in slider.inner_text()
    assert len(lab_server.kernels()) == 1
    page.close()
    assert lab_server.shutdown_kernels() >= 1
    assert lab_server.kernels() == []


def test_run_all_cells_returns_after_an_error(lab_server, page):
    write_notebook(lab_server.root / "err.ipynb", ["1 / 0", "print('never')"])
    page.goto(lab_server.notebook_url("err.ipynb"))
    run_all_cells(page, timeout_s=60)
    assert page.locator(".jp-OutputArea-output", has_text="ZeroDivisionError").count() >= 1
    # returned with nothing queued or running: the cell below the error stayed unrun ("[ ]:",
    # ipykernel aborted its request) or, when its request reached the kernel after the abort
    # (ipykernel's stop_on_error_timeout is 0 s; seen under load), it ran to the end
    prompts = page.evaluate(
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
        ".map(p => p.textContent.trim())"
    )
    assert len(prompts) == 2 and not any("*" in p for p in prompts), prompts
    ran_below = page.locator(".jp-OutputArea-output", has_text="never").count()
    assert ran_below == (1 if any(c.isdigit() for c in prompts[1]) else 0), prompts


def test_voila_kernels_shut_down_gracefully(voila_server, page, tmp_path):
    """shutdown_kernels() asks Voila (no kill): the kernel's atexit handlers run."""
    marker = tmp_path / "atexit-ran"
    cells = [
        f"import atexit, pathlib\natexit.register(pathlib.Path({str(marker)!r}).touch)",
        *CELLS,
    ]
    write_notebook(voila_server.root / "graceful.ipynb", cells)
    page.goto(voila_server.render_url("graceful.ipynb"))
    slider = wait_for_widget(page, ".widget-slider", timeout_s=60)
    assert "smoke" in slider.inner_text()
    assert page.locator(".widget-readout").first.inner_text() == "7"
    assert page.console_errors == []
    (kernel,) = voila_server.kernels()
    assert len(kernel["id"]) == 36 and kernel["pid"] > 0
    assert voila_server.shutdown_kernels() == 1
    assert voila_server.kernels() == []
    assert marker.exists()


def test_run_in_lab_sees_what_a_person_would_see_as_broken(lab_server, page, tmp_path):
    """``LabRun.check_clean`` fails on a background thread's traceback (ipykernel shows it as
    stderr output of the cell that started the thread) and on a traceback written to the kernel
    process's own stderr (C extensions, faulthandler), which only the server log has."""
    from labkit.testing import log_problems, output_errors, run_in_lab, wait_until

    clean = run_in_lab(
        lab_server, page, write_notebook(tmp_path / "clean.ipynb", ["print('fine')"])
    )
    clean.check_clean()
    assert "fine" in clean.output_text()

    cells = [
        "import os, threading\n"
        "def boom():\n    raise RuntimeError('thread died')\n"
        "t = threading.Thread(target=boom, name='worker')\nt.start(); t.join()",
        "os.write(2, b'Traceback (most recent call last):\\nOSError: from fd 2\\n')",
    ]
    run = run_in_lab(lab_server, page, write_notebook(tmp_path / "broken.ipynb", cells))
    assert any("RuntimeError: thread died" in text for text in output_errors(page))
    # the kernel's stderr reaches the server log
    wait_until(lambda: log_problems(run.log()), what="the kernel's errors in the server log")
    assert any("OSError: from fd 2" in p for p in log_problems(run.log()))
    with pytest.raises(AssertionError, match="thread died"):
        run.check_clean()
