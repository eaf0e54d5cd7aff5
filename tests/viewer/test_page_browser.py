"""The manager page in headless Chromium: painted pixels, live replace, edits back, close, Voila."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import labkit.viewer as lv
from labkit.testing import block_gray, screenshot_rgb, viewer_stats, wait_until
from labkit.testing.fixtures import run_all_cells, wait_for_widget, write_notebook

pytestmark = pytest.mark.browser


def next_frames(page, n: int = 2) -> None:
    """Wait for ``n`` animation frames of the page (what was painted is then composited)."""
    page.evaluate(
        "(n) => new Promise((done) => { const step = (k) => k ? requestAnimationFrame(() => "
        "step(k - 1)) : done(); step(n); })",
        n,
    )


def _pushes(name: str) -> int:
    return lv.watch_info()["watchers"][0]["variables"][name]["pushes"]


def gray_grid(page, locator) -> np.ndarray:
    """8x8 mean gray levels (0..255) of what the browser painted in ``locator``."""
    return block_gray(screenshot_rgb(locator))


@pytest.fixture
def manager(page_manager):
    return page_manager


def gradient(reverse: bool = False) -> xr.DataArray:
    x = np.linspace(0.0, 1.0, 96, dtype=np.float32)
    values = np.tile(x[::-1] if reverse else x, (64, 1)) * 1000.0
    return xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": ("y", np.arange(64) * 0.5, {"units": "µm"}), "x": ("x", np.arange(96) * 0.5)},
        name="ramp",
        attrs={"units": "counts"},
    )


def open_page(page, manager, uid: str, min_version: int = 0) -> None:
    page.goto(manager.url)
    page.wait_for_function(
        f"() => {{ const s = (window.labkit_viewers || {{}})['{uid}'];"
        f" return s && s.painted > 0 && s.version >= {min_version}; }}",
        timeout=20000,
    )


def test_page_paints_the_window_and_follows_replace(manager, page):
    window = lv.show_in_manager(gradient(), name="ramp")
    uid = window["uid"]
    open_page(page, manager, uid)
    row = page.locator(f"tr[data-uid='{uid}']")
    assert "ramp" in row.inner_text() and "(64, 96)" in row.inner_text()
    assert "float32" in row.inner_text()
    canvas = page.locator(f".lk-card[data-uid='{uid}'] canvas.lk-image")
    before = gray_grid(page, canvas)
    assert before[:, -1].mean() > before[:, 0].mean() + 100  # dark left, bright right
    stats = viewer_stats(page, uid)
    assert stats["renderer"] == "webgl2"
    assert stats["contrast"][0] < 10 and stats["contrast"][1] > 990  # auto limits in data units

    lv.replace_data(uid, gradient(reverse=True))
    page.wait_for_function(
        f"() => window.labkit_viewers['{uid}'].version >= 1 && "
        f"window.labkit_viewers['{uid}'].painted > {stats['painted']}",
        timeout=10000,
    )
    next_frames(page)  # the painted canvas reaches the compositor
    after = gray_grid(page, canvas)
    assert after[:, 0].mean() > after[:, -1].mean() + 100  # now bright left
    # readout in the data's units when hovering a pixel
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    readout = page.locator(f".lk-card[data-uid='{uid}'] .lk-readout").inner_text()
    assert "x = " in readout and "y = " in readout and "µm" in readout and "counts" in readout
    # wheel zoom at the (bright) left edge fills the canvas with the left columns
    zoom = viewer_stats(page, uid)["zoom"]
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] * 0.5)
    for _ in range(4):
        page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => window.labkit_viewers['{uid}'].zoom > {zoom * 4}")
    next_frames(page)
    zoomed = gray_grid(page, canvas)
    assert zoomed.mean() > after.mean() + 40
    assert page.console_errors == []


def test_edit_in_the_page_updates_the_watched_variable(manager, page):
    ns = {"img": np.zeros((40, 60), np.float64), "probe": np.zeros(2)}
    lv.watch("img", namespace=ns, poll_interval_s=0.05)
    lv.watch("probe", namespace=ns, poll_interval_s=0.05)
    uid = next(w.uid for w in manager.windows.list() if w.var_name == "img")
    open_page(page, manager, uid)
    row = page.locator(f"tr[data-uid='{uid}']").inner_text()
    assert "watched" in row and manager.windows.get(uid).source in row  # the source notebook
    card = page.locator(f".lk-card[data-uid='{uid}']")
    card.locator("button.lk-roi").click()
    box = card.locator("canvas.lk-overlay").bounding_box()
    # drag a rectangle over the left half, upper half of the image
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=4)
    page.mouse.up()
    page.wait_for_function(f"() => window.labkit_viewers['{uid}'].roi !== null")
    roi = viewer_stats(page, uid)["roi"]
    stored = wait_until(lambda: manager.windows.get(uid).view["roi"], what="the ROI in the kernel")
    assert stored == {"dim_0": [0, roi[3]], "dim_1": [0, roi[2]]}
    assert roi is not None and roi[0] == 0 and roi[1] == 0 and 25 <= roi[2] <= 35
    card.locator("select.lk-op").select_option("fill")
    card.locator("input.lk-fill-value").fill("7")
    card.locator("button.lk-apply").click()
    wait_until(lambda: float(np.asarray(ns["img"]).max()) == 7.0)
    img = np.asarray(ns["img"])
    x1, y1 = roi[0] + roi[2], roi[1] + roi[3]
    assert (img[:y1, :x1] == 7).all() and (img[y1:, :] == 0).all() and (img[:, x1:] == 0).all()
    assert isinstance(ns["img"], np.ndarray)  # edits keep the variable's type
    # the edit is not pushed back as a new change (no echo): two pushes of a probe watched
    # after img prove a whole watch round checked img since the edit was applied
    version = manager.windows.get(uid).version
    for _ in range(2):
        before = _pushes("probe")
        ns["probe"] = ns["probe"] + 1
        wait_until(lambda before=before: _pushes("probe") > before, what="the probe's push")
    assert manager.windows.get(uid).version == version
    info = lv.watch_info()["watchers"][0]["variables"]["img"]
    assert info["edits_applied"] == 1 and info["pushes"] == 1


def test_close_a_window_from_the_list(manager, page):
    first = lv.show_in_manager(np.arange(16.0).reshape(4, 4), name="first")
    second = lv.show_in_manager(np.ones((3, 5, 6), np.uint16), name="second")
    open_page(page, manager, first["uid"])
    page.wait_for_selector(f".lk-card[data-uid='{second['uid']}'] .lk-sliders input")
    assert page.locator("table.lk-windows tr[data-uid]").count() == 2
    page.locator(f"tr[data-uid='{first['uid']}'] button.lk-close").click()
    page.wait_for_selector(f".lk-card[data-uid='{first['uid']}']", state="detached")
    assert [w.uid for w in manager.windows.list()] == [second["uid"]]
    page.wait_for_selector(f"tr[data-uid='{first['uid']}']", state="detached", timeout=5000)
    assert page.locator("table.lk-windows tr[data-uid]").count() == 1
    # a window added later shows up live; this one is big, so it arrives binned to the canvas
    big = np.tile(np.arange(3000, dtype=np.uint16), (2500, 1))
    third = lv.show_in_manager(big, name="third")
    page.wait_for_selector(f"tr[data-uid='{third['uid']}']")
    page.wait_for_function(
        f"() => ((window.labkit_viewers || {{}})['{third['uid']}'] || {{}}).painted > 0",
        timeout=20000,
    )
    canvas = page.locator(f".lk-card[data-uid='{third['uid']}'] canvas.lk-image")
    grid = gray_grid(page, canvas)
    assert grid[:, -1].mean() > grid[:, 0].mean() + 100
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    readout = page.locator(f".lk-card[data-uid='{third['uid']}'] .lk-readout").inner_text()
    stats = viewer_stats(page, third["uid"])
    b = stats["bin"]  # the browser got about one texel per device pixel, not 3000 x 2500
    assert b >= 5 and stats["texels"] == [3000 // b, 2500 // b]
    assert f"mean of {b}×{b}" in readout


def test_viewer_window_renders_in_voila(voila_server, page):
    cells = [
        "import numpy as np\nfrom labkit.viewer import ManagerServer\n"
        "from labkit.viewer._window import ViewerWindow",
        "data = np.tile(np.linspace(0, 1, 80), (50, 1))\nw = ViewerWindow(data)\nw",
        # the kernel as the manager: a window of its own registry
        "server = ManagerServer(register=False, page=False).start()\n"
        "server.windows.add(data[:, ::-1], name='kernel-manager')\nViewerWindow(server)",
    ]
    write_notebook(voila_server.root / "viewer.ipynb", cells)
    page.goto(voila_server.render_url("viewer.ipynb"))
    wait_for_widget(page, ".lk-viewer", timeout_s=60)
    page.wait_for_function(
        "() => Object.values(window.labkit_viewers || {}).filter((s) => s.painted > 0).length == 2",
        timeout=30000,
    )
    next_frames(page)
    canvases = page.locator(".lk-viewer canvas.lk-image")
    plain, managed = gray_grid(page, canvases.nth(0)), gray_grid(page, canvases.nth(1))
    assert plain[:, -1].mean() > plain[:, 0].mean() + 100
    assert managed[:, 0].mean() > managed[:, -1].mean() + 100
    assert "kernel-manager" in page.locator(".lk-viewer .lk-title").nth(1).inner_text()
    assert page.console_errors == []


def test_sliders_and_linked_windows_in_the_page(manager, page):
    stack = xr.DataArray(
        np.stack([np.full((20, 30), v, np.float32) for v in (0.0, 1.0, 2.0)]),
        dims=("t", "y", "x"),
        coords={"t": ("t", [0.0, 1.5, 3.0], {"units": "s"})},
        name="stack",
    )
    a = lv.show_in_manager(stack, name="a")
    b = lv.show_in_manager(stack * 10, name="b", link=[a["index"]])
    open_page(page, manager, b["uid"])
    card_a = page.locator(f".lk-card[data-uid='{a['uid']}']")
    card_b = page.locator(f".lk-card[data-uid='{b['uid']}']")
    # slider label shows the coordinate with units; moving it brings the other slice
    label = card_a.locator(".lk-sliders label[data-dim='t']")
    coord = label.locator("input.lk-coord")
    assert coord.input_value() == "0" and "s\n[0]" in label.inner_text()
    received = viewer_stats(page, a["uid"])["slices_received"]
    label.locator("input.lk-slider").fill("2")
    page.wait_for_function(
        f"() => window.labkit_viewers['{a['uid']}'].slices_received > {received}", timeout=10000
    )
    assert coord.input_value() == "3" and "[2]" in label.inner_text()
    assert manager.windows.get(a["uid"]).view["slices"] == {"t": 2}
    # linked: slices, contrast and cursor typed/clicked in a show up in b
    assert manager.windows.get(b["uid"]).view["slices"] == {"t": 2}
    card_a.locator("input.lk-lo").fill("0.25")
    card_a.locator("input.lk-hi").fill("0.75")
    card_a.locator("input.lk-hi").press("Enter")
    page.wait_for_function(
        f"() => window.labkit_viewers['{b['uid']}'].contrast[1] === 0.75", timeout=10000
    )
    assert card_b.locator("input.lk-lo").input_value() == "0.25"
    card_a.locator("canvas.lk-overlay").scroll_into_view_if_needed()
    box = card_a.locator("canvas.lk-overlay").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.1)
    wait_until(lambda: manager.windows.get(b["uid"]).view["cursor"].get("x", 0) >= 25)
    # the histogram handles set the limits too (applied while dragging, stored on release)
    card_b.locator("canvas.lk-hist").scroll_into_view_if_needed()
    hist = card_b.locator("canvas.lk-hist").bounding_box()
    page.mouse.move(hist["x"] + hist["width"] * 0.98, hist["y"] + hist["height"] / 2)
    page.mouse.down()
    page.mouse.move(hist["x"] + hist["width"] * 0.6, hist["y"] + hist["height"] / 2, steps=5)
    page.mouse.up()
    wait_until(lambda: manager.windows.get(b["uid"]).view["contrast_hi"] != 0.75)
    view_a, view_b = manager.windows.get(a["uid"]).view, manager.windows.get(b["uid"]).view
    assert view_a["contrast_hi"] == view_b["contrast_hi"]
    assert view_a["cursor"] == view_b["cursor"]
    # unlink b from the page: a's changes stay in a
    group = view_a["link_group"]
    assert card_b.locator("input.lk-link").input_value() == group
    assert group in page.locator(f"tr[data-uid='{b['uid']}']").inner_text()
    card_b.locator("input.lk-link").fill("")
    card_b.locator("input.lk-link").press("Enter")
    wait_until(lambda: manager.windows.get(b["uid"]).view["link_group"] is None)
    card_a.locator("select.lk-cmap").select_option("magma")
    wait_until(lambda: manager.windows.get(a["uid"]).view["colormap"] == "magma")
    assert manager.windows.get(b["uid"]).view["colormap"] == "gray"


def test_labkit_manager_process_serves_the_page(manager_process, page):
    assert manager_process.url.startswith("http://127.0.0.1:")
    window = lv.show_in_manager(gradient(), name="from-cli")
    page.goto(manager_process.url)
    page.wait_for_function(
        f"() => ((window.labkit_viewers || {{}})['{window['uid']}'] || {{}}).painted > 0",
        timeout=20000,
    )
    grid = gray_grid(page, page.locator(f".lk-card[data-uid='{window['uid']}'] canvas.lk-image"))
    assert grid[:, -1].mean() > grid[:, 0].mean() + 100
    assert "from-cli" in page.locator("table.lk-windows").inner_text()


def test_voila_notebook_as_the_manager(voila_server, page, registry_dir):
    cells = [
        "from labkit.viewer import ManagerServer\nfrom labkit.viewer._page import ManagerPanel",
        f"server = ManagerServer(page=False, "
        f"registry_dir={str(registry_dir)!r}).start()\nManagerPanel(server)",
    ]
    write_notebook(voila_server.root / "as_manager.ipynb", cells)
    page.goto(voila_server.render_url("as_manager.ipynb"))
    wait_for_widget(page, ".lk-manager-panel", timeout_s=60)
    wait_until(lambda: len(lv.managers()) == 1, timeout_s=20)
    shown = lv.show_in_manager(gradient(), name="pushed-to-voila")  # from "another notebook"
    page.wait_for_function(
        f"() => ((window.labkit_viewers || {{}})['{shown['uid']}'] || {{}}).painted > 0",
        timeout=20000,
    )
    row = page.locator(".lk-manager-row").first
    assert "pushed-to-voila" in row.inner_text() and "64×96 float32" in row.inner_text()
    next_frames(page)
    grid = gray_grid(page, page.locator(".lk-viewer canvas.lk-image").first)
    assert grid[:, -1].mean() > grid[:, 0].mean() + 100
    row.locator("button").click()
    page.wait_for_selector(".lk-viewer", state="detached")
    with pytest.raises(lv.WindowNotFoundError):
        lv.fetch(shown["uid"])


LAB_CELLS = [
    "import os, threading, time\nimport numpy as np\nimport ipywidgets as widgets\n"
    "import labkit.viewer as lv\nfrom labkit.viewer._window import ViewerWindow\n"
    "os.environ['LABKIT_RUNTIME_DIR'] = {registry!r}\n"
    "server = lv.ManagerServer(page=False).start()\n"
    "img = np.zeros((40, 60))\nlv.watch('img')",
    # a probe showing the notebook variable as the kernel sees it
    "probe = widgets.Label('max=none')\n"
    "def follow():\n"
    "    while True:\n"
    "        probe.value = f\"max={{float(get_ipython().user_ns['img'].max())}}\"\n"
    "        time.sleep(0.1)\n"
    "threading.Thread(target=follow, daemon=True).start()\nprobe",
    "ViewerWindow(server, 0)",
]


def test_viewer_window_in_jupyterlab_edits_flow_back_to_the_variable(lab_server, page, tmp_path):
    cells = [c.format(registry=str(tmp_path / "lab-registry")) for c in LAB_CELLS]
    write_notebook(lab_server.root / "viewer_lab.ipynb", cells)
    page.goto(lab_server.notebook_url("viewer_lab.ipynb"))
    run_all_cells(page)
    viewer = wait_for_widget(page, ".jp-OutputArea .lk-viewer", timeout_s=60)
    page.wait_for_function(
        "() => Object.values(window.labkit_viewers || {}).some((s) => s.painted > 0)",
        timeout=30000,
    )
    probe = page.locator(".jp-OutputArea .widget-label").first
    assert probe.inner_text() == "max=0.0"
    viewer.locator("button.lk-roi").click()
    box = viewer.locator("canvas.lk-overlay").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    viewer.locator("select.lk-op").select_option("fill")
    viewer.locator("input.lk-fill-value").fill("7")
    viewer.locator("button.lk-apply").click()
    # widget (comm) -> manager registry -> reliable edit event -> the kernel's variable
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea .widget-label')]"
        ".some((e) => e.textContent === 'max=7.0')",
        timeout=20000,
    )
    # the status is sent beside the edit event, not ordered with it: wait for it too
    viewer.locator(".lk-status", has_text="fill applied").wait_for(timeout=10_000)


def test_page_reconnects_to_a_restarted_manager(registry_dir, page):
    from labkit.testing.fixtures import free_port

    port = free_port()
    token = "t" * 40  # kept across the restart, so the open page may come back
    first = lv.ManagerServer(
        registry_dir=registry_dir, register=False, page_port=port, page_token=token
    )
    try:
        old = first.windows.add(np.zeros((8, 8)), "old")
        page.goto(first.url)
        page.wait_for_selector(f".lk-card[data-uid='{old.uid}'] canvas")
    finally:
        first.stop()
    page.wait_for_function("() => window.labkit_manager.connected === false")
    second = lv.ManagerServer(
        registry_dir=registry_dir, register=False, page_port=port, page_token=token
    )
    try:
        new = second.windows.add(gradient(), "new")
        page.wait_for_selector(f".lk-card[data-uid='{new.uid}'] canvas", timeout=15000)
        page.wait_for_selector(f".lk-card[data-uid='{old.uid}']", state="detached")
        assert page.evaluate("() => window.labkit_manager.connected") is True
    finally:
        second.stop()
