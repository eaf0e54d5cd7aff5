"""The shipped notebooks are committed clean, and each one has a browser test.

Running them is the browser tests' job (``tests/test_notebooks_browser.py`` for the Jupyter
notebooks, ``tests/test_marimo.py`` and ``tests/widgets/test_traceplot_marimo.py`` for the marimo
apps, ``tests/widgets/test_demo.py`` for ``labkit demo``): they Run All in JupyterLab (or open
the app) and check what a person sees, which headless execution cannot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.widgets._demo import DEMO_NOTEBOOK

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + [DEMO_NOTEBOOK]
APPS = sorted((ROOT / "notebooks").glob("marimo_*.py"))
BROWSER_TESTS = {
    "ipynb": [
        ROOT / "tests" / "test_notebooks_browser.py",
        ROOT / "tests" / "widgets" / "test_tracking_browser.py",
    ],
    "py": [
        ROOT / "tests" / "test_marimo.py",
        ROOT / "tests" / "widgets" / "test_traceplot_marimo.py",
        ROOT / "tests" / "widgets" / "test_tracking_marimo.py",
    ],
}


def test_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "spool_series.ipynb", "viewer_watch.ipynb"} <= names
    assert {"device_driver.ipynb", "streams_nodes.ipynb"} <= names and APPS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3", "JupyterLab would ask 'Select Kernel'"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                "commit notebooks without outputs"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_run_all_never_closes_what_the_notebook_shows(path):
    """Closing is a separate, marked step (a markdown cell), never a code cell Run All runs."""
    nb = json.loads(path.read_text())
    code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    for call in ("scope.close()", "server.stop()", "lv.shutdown()", ".close()"):
        assert call not in code, f"{path.name}: Run All would run {call}"
    assert "atexit.register(" in code, f"{path.name}: nothing is released at kernel shutdown"


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=lambda p: p.name)
def test_every_shipped_notebook_has_a_browser_test(path):
    # (the demo notebook: in JupyterLab here, in Voila through `labkit demo` in test_demo.py)
    name = "DEMO_NOTEBOOK" if path == DEMO_NOTEBOOK else path.name
    sources = BROWSER_TESTS[path.suffix.lstrip(".")]
    assert any(name in s.read_text() for s in sources), f"no browser test opens {path.name}"
