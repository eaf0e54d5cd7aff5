"""Every notebook in notebooks/ runs top to bottom in a fresh kernel (outputs are not committed)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_exist():
    assert any(p.name == "quickstart.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3", "JupyterLab would ask 'Select Kernel'"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                "commit notebooks without outputs"
            )


def _run_in_own_thread(fn):
    """Run ``fn`` in a thread of its own and re-raise its exception.

    The Playwright fixtures leave a running event loop on the main thread, where nbclient's
    sync wrapper would start a long-lived helper thread; a fresh thread with ``asyncio.run``
    has its own loop and closes it.
    """
    errors = []

    def target():
        try:
            fn()
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target, name="nbclient-runner")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    # series go to ~/labkit-data: keep them in the test's directory
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_PLATFORM_DIRS": "1"}
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    _run_in_own_thread(lambda: asyncio.run(client.async_execute(env=env)))
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []
    if path.name == "quickstart.ipynb":
        texts = json.dumps([c.outputs for c in nb.cells if c.cell_type == "code"])
        assert any((tmp_path / "labkit-data").rglob("*")), "the series was not written"
        assert "t: 100, y: 512, x: 512" in texts  # the recorded series read back lazily
