"""The shipped notebooks are committed clean, run headless, release everything when their kernel
shuts down, and each one has a browser test.

What a person sees is the browser tests' job (``tests/test_notebooks_browser.py`` for the Jupyter
notebooks, ``tests/test_marimo.py`` and ``tests/widgets/test_traceplot_marimo.py`` for the marimo
apps, ``tests/widgets/test_demo.py`` for ``labkit demo``): they Run All in JupyterLab (or open
the app) and look, which headless execution cannot. Here each notebook runs in a fresh kernel
(nbclient) as Run All runs it, leaving its scope open; then the kernel is shut down the way
JupyterLab shuts it down, and must exit by itself with its engine, child processes and shared
memory released.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from nbclient import NotebookClient

from labkit.testing import log_problems
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


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=lambda p: p.name)
def test_run_all_never_closes_what_the_notebook_shows(path):
    """Closing is a separate, marked step (a markdown cell), never a code cell Run All runs
    (nor a cell of a marimo app)."""
    if path.suffix == ".py":
        code = path.read_text()
    else:
        nb = json.loads(path.read_text())
        code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    for call in ("scope.close()", "server.stop()", "lv.shutdown()", ".close()"):
        assert call not in code, f"{path.name}: Run All would run {call}"


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=lambda p: p.name)
def test_every_shipped_notebook_has_a_browser_test(path):
    # (the demo notebook: in JupyterLab here, in Voila through `labkit demo` in test_demo.py)
    name = "DEMO_NOTEBOOK" if path == DEMO_NOTEBOOK else path.name
    sources = BROWSER_TESTS[path.suffix.lstrip(".")]
    assert any(name in s.read_text() for s in sources), f"no browser test opens {path.name}"


def _in_own_thread(fn: Any) -> None:
    """Run ``fn`` in a thread of its own and re-raise its exception (the Playwright fixtures leave
    a running event loop on the main thread; a fresh thread has its own loop and closes it)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target, name="nbclient-runner")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _segments_of(pid: int) -> list[str]:
    return [n for n in os.listdir("/dev/shm") if n.startswith(f"labkit-{pid}-")]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_its_kernel_shutdown_releases_everything(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    # series go to ~/labkit-data: keep them in the test's directory
    # (and sockets and discovery files to a runtime directory of its own)
    runtime = tmp_path / "runtime"
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "JUPYTER_PLATFORM_DIRS": "1",
        "LABKIT_RUNTIME_DIR": str(runtime),
    }
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    seen: dict[str, Any] = {}

    def started(**_: Any) -> None:
        seen["kernel"] = client.km.provisioner.process  # the kernel's Popen
        client.km.shutdown_wait_time = 60.0  # a loaded machine: wait for it, never kill it early

    def ran(**_: Any) -> None:  # after each cell (the last one: what Run All leaves running)
        kernel = psutil.Process(seen["kernel"].pid)
        seen["children"] = kernel.children(recursive=True)
        seen["segments"] = _segments_of(kernel.pid)

    client.on_notebook_start = started
    client.on_cell_executed = ran
    log_path = tmp_path / "kernel.log"
    with open(log_path, "wb") as log:
        _in_own_thread(
            lambda: asyncio.run(client.async_execute(env=env, stdout=log, stderr=log))
        )  # returns after the kernel was asked to shut down and exited
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"] == []
    kernel = seen["kernel"]
    log_text = log_path.read_text(errors="replace")
    # the kernel exited by itself (its exit hooks ran), not killed after the shutdown request
    assert kernel.returncode == 0, f"kernel exit code {kernel.returncode}:\n{log_text[-3000:]}"
    _gone, alive = psutil.wait_procs(seen["children"], timeout=10)
    assert not alive, f"left running: {[p.cmdline()[:3] for p in alive]}"
    if path.name != "viewer_watch.ipynb":  # (no scope there: a viewer manager)
        assert seen["segments"], "the notebook's scope made no shared memory in its kernel"
    assert _segments_of(kernel.pid) == [], "the kernel left its shared memory behind"
    # its sockets and discovery files are gone (the managers' registry file stays, without it)
    left = {p.name for p in runtime.rglob("*")} if runtime.exists() else set()
    assert left <= {"managers.json", "managers.lock"}, f"left in the runtime directory: {left}"
    if "managers.json" in left:
        entries = json.loads((runtime / "managers.json").read_text())["managers"]
        assert [e for e in entries if e["pid"] == kernel.pid] == [], entries
    assert log_problems(log_text) == [] and "was not closed" not in log_text, log_text[-3000:]
