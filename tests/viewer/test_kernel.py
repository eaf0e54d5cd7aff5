"""A real IPython kernel (jupyter_client) watching a variable through post_run_cell and %watch."""

from __future__ import annotations

import json
import os

import jupyter_client
import numpy as np
import pytest

from labkit.testing import wait_until


@pytest.fixture
def kernel(registry_dir):
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env={**os.environ, "LABKIT_RUNTIME_DIR": str(registry_dir)})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc, code: str):
    """Execute ``code``; return the text/plain result of its last expression (JSON-decoded if possible)."""
    outputs: list = []

    def hook(msg):
        if msg["msg_type"] in ("execute_result", "stream", "error"):
            outputs.append(msg)

    reply = kc.execute_interactive(code, timeout=60, output_hook=hook)
    errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", errors or reply["content"]
    results = [
        m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"
    ]
    if not results:
        return None
    try:
        return json.loads(results[-1].strip("'"))
    except ValueError:
        return results[-1]


@pytest.mark.slow
def test_kernel_watch_pushes_after_each_cell_and_viewer_edits_come_back(manager, kernel):
    run(
        kernel,
        "import numpy as np, json, labkit.viewer as lv\nx = np.zeros((16, 16))\n%load_ext labkit.viewer",
    )
    run(kernel, "%watch x")
    window = next(w for w in manager.windows.list() if w.var_name == "x")
    assert window.watched and window.data.shape == (16, 16)
    run(kernel, "x[3, 4] = 9")  # in place; pushed by the post_run_cell hook
    assert float(manager.windows.get(window.uid).data[3, 4]) == 9.0
    info = run(kernel, "json.dumps(lv.watch_info()['watchers'][0])")
    assert info["mode"] == "post_run_cell" and info["variables"]["x"]["pushes"] == 2
    manager.windows.edit_data(window.uid, np.eye(16))  # an edit made in the viewer window
    wait_until(lambda: run(kernel, "float(x.sum())") == 16.0)
    counters = "json.dumps(lv.watch_info()['watchers'][0]['variables']['x'])"
    assert run(kernel, counters)["pushes"] == 2  # no echo
    run(kernel, "x = x * 3")
    assert float(manager.windows.get(window.uid).data.sum()) == 48.0
    with pytest.raises(AssertionError, match="not an array"):
        run(kernel, "s = 'text'\nlv.watch('s')")
    run(kernel, "%watch -z\nlv.shutdown()")
    assert not manager.windows.get(window.uid).watched
