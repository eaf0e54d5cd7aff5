"""A ViewerWindow widget in JupyterLab: axes, slider, keyboard shortcuts and PNG export work over
the Jupyter comm (JupyterLab must not take the window's keys as notebook commands)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labkit.testing import block_gray, png_rgb, screenshot_rgb, viewer_stats, wait_painted
from labkit.testing.fixtures import run_all_cells, wait_for_widget, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "import numpy as np, xarray as xr\nfrom labkit.viewer import ViewerWindow\n"
    "kx = np.round(np.arange(60) * 0.02, 10)\n"
    "values = (kx[None, None, :] + np.arange(5)[:, None, None] + np.zeros((1, 40, 1)))\n"
    "data = xr.DataArray(values.astype('float32'), dims=('energy', 'ky', 'kx'), name='ramp',\n"
    "    coords={'energy': ('energy', np.linspace(-0.4, 0, 5), {'units': 'eV'}),\n"
    "            'kx': ('kx', kx, {'units': '1/Å'})})\n"
    "w = ViewerWindow(data)\n"
    "w.controller.registry.set_view_state(w.uid, contrast_lo=0.0, contrast_hi=5.0)\n"
    "w",
]


def test_viewer_window_widget_in_jupyterlab(lab_server, page, tmp_path):
    write_notebook(lab_server.root / "window_lab.ipynb", CELLS)
    page.goto(lab_server.notebook_url("window_lab.ipynb"))
    run_all_cells(page)
    card = wait_for_widget(page, ".jp-OutputArea .lk-viewer", timeout_s=60)
    uid = card.get_attribute("data-uid")
    wait_painted(page, uid, timeout_s=30)
    labels = card.locator(".lk-xaxis .lk-tick").all_inner_texts()
    assert labels == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert card.locator(".lk-xaxis .lk-axis-title").inner_text() == "kx (1/Å)"
    assert card.locator(".lk-yaxis .lk-axis-title").inner_text() == "ky"  # no coordinate: index
    stage = card.locator(".lk-stage")
    before = block_gray(screenshot_rgb(stage))
    # the slider: the kernel cuts the new slice and the page paints it
    n = viewer_stats(page, uid)["painted"]
    card.locator(".lk-sliders input.lk-slider").fill("4")
    wait_painted(page, uid, more_than=n, slices={"energy": 4})
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    after = block_gray(screenshot_rgb(stage))
    assert after.mean() > before.mean() + 150
    page.screenshot(path=str(tmp_path / "jupyterlab_window.png"))
    # keys reach the window, not JupyterLab's command palette (t would be a notebook command)
    card.locator(".lk-title").click()
    page.keyboard.press("t")
    wait_painted(page, uid, image_dims=["kx", "ky"])
    assert card.locator(".lk-yaxis .lk-axis-title").inner_text() == "kx (1/Å)"
    page.keyboard.press("a")  # in JupyterLab's command mode "a" would insert a cell above
    page.keyboard.press("c")
    page.wait_for_function(
        "(uid) => document.querySelectorAll(`.lk-viewer[data-uid='${uid}'] .lk-cursor-row`)"
        ".length === 2",
        arg=uid,
    )
    assert page.locator(".jp-Notebook .jp-Cell").count() == len(CELLS)  # "a" added no cell
    with page.expect_download() as download:
        card.locator("button.lk-png").click()
    png = png_rgb(Path(download.value.path()).read_bytes())
    assert png.shape[0] > 300 and png.shape[1] > 400 and np.ptp(png) > 100
