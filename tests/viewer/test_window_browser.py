"""Viewer windows in the manager page, judged by what Chromium paints: axes and tick labels,
readout, colorbar, log and power-law scales, transpose, cursors and widths, sliders, linked
windows, ROI and line profiles, keyboard shortcuts and PNG export."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from labkit.testing import (
    block_gray,
    png_rgb,
    screenshot_rgb,
    viewer_card,
    viewer_stats,
    wait_painted,
    wait_until,
)

pytestmark = pytest.mark.browser

KX = np.round(np.arange(60) * 0.02, 10)  # 0 .. 1.18 1/Å
KY = np.round(np.linspace(-0.39, 0.39, 40), 10)
ENERGY = np.array([-0.4, -0.3, -0.2, -0.1, 0.0])


def kx_ramp() -> xr.DataArray:
    """(energy, ky, kx): the value is the kx coordinate plus the energy index."""
    values = KX[None, None, :] + np.arange(5)[:, None, None] + 0 * KY[None, :, None]
    return xr.DataArray(
        values.astype(np.float32),
        dims=("energy", "ky", "kx"),
        coords={
            "energy": ("energy", ENERGY, {"units": "eV"}),
            "ky": ("ky", KY, {"units": "1/Å"}),
            "kx": ("kx", KX, {"units": "1/Å"}),
        },
        name="ramp",
        attrs={"units": "counts"},
    )


@pytest.fixture
def manager(page_manager):
    return page_manager


def settled(page) -> None:
    """Two animation frames: what was drawn is composited before a screenshot."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def show(page, manager, data, **view):
    window = manager.windows.add(data, view=view or None)
    page.goto(manager.url)
    wait_painted(page, window.uid)
    settled(page)
    return window, viewer_card(page, window.uid)


def ticks(card, axis: str) -> list[tuple[str, float, float]]:
    """(label, centre x, centre y) of the tick labels of an axis, in page px."""
    out = []
    for tick in card.locator(f".lk-{axis} .lk-tick").all():
        box = tick.bounding_box()
        out.append((tick.inner_text(), box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
    return out


def test_axis_tick_labels_sit_over_their_coordinates_and_the_readout_reads_them(manager, page):
    view = {"contrast_lo": 0.0, "contrast_hi": 1.18, "cursor": {"ky": 35, "kx": 55}}
    window, card = show(page, manager, kx_ramp(), **view)
    stage = card.locator(".lk-stage")
    box = stage.bounding_box()
    rgb = screenshot_rgb(stage)
    xticks = ticks(card, "xaxis")
    assert [t[0] for t in xticks] == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    row = rgb.shape[0] // 4  # away from the cursor
    for text, x, _ in xticks:
        col = int(x - box["x"])
        painted = rgb[row, min(col, rgb.shape[1] - 1)].mean()
        assert abs(painted - float(text) / 1.18 * 255) < 8, (text, painted)
    assert card.locator(".lk-xaxis .lk-axis-title").inner_text() == "kx (1/Å)"
    assert card.locator(".lk-yaxis .lk-axis-title").inner_text() == "ky (1/Å)"
    # the image's edges are at ky -0.40 and 0.40 (half a step beyond the first and last value)
    yticks = [t[0] for t in ticks(card, "yaxis")]
    assert yticks == ["-0.4", "-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3", "0.4"]
    # hovering a pixel reads its coordinates and value in the data's units
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.2)
    text = card.locator(".lk-readout").inner_text()
    col = int(box["width"] * 0.7 / box["width"] * 60)
    row_i = int(box["height"] * 0.2 / box["height"] * 40)
    assert f"kx = {KX[col]:g} 1/Å" in text and f"ky = {KY[row_i]:g} 1/Å" in text
    assert f"ramp = {np.float32(KX[col]):.5g} counts" in text and f"[{row_i}, {col}]" in text
    assert page.console_errors == []


def test_colorbar_log_and_power_law_scales_change_what_is_painted(manager, page):
    decades = 10 ** (3 * np.arange(60) / 59)  # 1 .. 1000 along x
    data = xr.DataArray(np.tile(decades, (40, 1)).astype(np.float32), dims=("y", "x"), name="d")
    window, card = show(page, manager, data, contrast_lo=1.0, contrast_hi=1000.0)
    stage = card.locator(".lk-stage")
    mid = screenshot_rgb(stage)[10, stage.bounding_box()["width"] // 2 :].mean(axis=1)[0]
    assert mid < 20  # linear: 31.6 of 1000 is nearly black
    n = viewer_stats(page, window.uid)["painted"]
    card.locator("select.lk-norm").select_option("log")
    card.locator("select.lk-cmap").select_option("viridis")
    wait_painted(page, window.uid, more_than=n, norm="log")
    settled(page)
    rgb = screenshot_rgb(stage)
    gray = screenshot_rgb(stage).mean(axis=2)[10]
    assert gray[len(gray) // 2] > gray[len(gray) // 4] > gray[2]  # rises evenly per decade
    # the colorbar: viridis from the low limit (bottom) to the high one (top), decades evenly
    labels = ticks(card, "colorbar")
    assert [t[0] for t in labels] == ["1", "10", "100", "1000"]
    ys = [t[2] for t in labels]
    gaps = np.diff(ys)
    assert np.all(gaps < 0) and np.ptp(gaps) < 2  # equal spacing, 1 at the bottom
    bar = screenshot_rgb(card.locator("canvas.lk-cbar"))
    assert np.abs(bar[1, 3].astype(int) - [253, 231, 37]).max() < 12  # viridis top
    assert np.abs(bar[-2, 3].astype(int) - [68, 1, 84]).max() < 12  # viridis bottom
    # the painted image uses the same colours: the left edge is the bottom of the bar
    assert np.abs(rgb[10, 1].astype(int) - bar[-2, 3]).max() < 16
    assert manager.windows.get(window.uid).view["norm"] == "log"
    # power law: gamma 0.5 on a linear ramp lifts a quarter of the range to half the scale
    ramp = xr.DataArray(np.tile(np.linspace(0, 1, 60), (40, 1)).astype(np.float32), dims=("y", "x"))
    other = manager.windows.add(ramp, "ramp", view={"contrast_lo": 0.0, "contrast_hi": 1.0})
    wait_painted(page, other.uid)
    manager.windows.set_view_state(other.uid, gamma=0.5)
    wait_painted(page, other.uid, contrast=[0, 1, 0.5])
    settled(page)
    row = screenshot_rgb(viewer_card(page, other.uid).locator(".lk-stage")).mean(axis=2)[10]
    assert abs(row[int(len(row) * 0.25)] - 0.5 * 255) < 12


def test_transpose_slider_and_dim_selectors(manager, page):
    window, card = show(page, manager, kx_ramp(), contrast_lo=0.0, contrast_hi=5.0)
    uid = window.uid
    label = card.locator(".lk-sliders label[data-dim='energy']")
    assert label.locator("input.lk-coord").input_value() == "-0.4"
    assert "eV" in label.inner_text()
    before = block_gray(screenshot_rgb(card.locator(".lk-stage")))
    n = viewer_stats(page, uid)["painted"]
    label.locator("input.lk-slider").fill("3")
    wait_painted(page, uid, more_than=n, slices={"energy": 3})
    settled(page)
    after = block_gray(screenshot_rgb(card.locator(".lk-stage")))
    assert after.mean() > before.mean() + 100  # value + 3 of 5: much brighter
    assert label.locator("input.lk-coord").input_value() == "-0.1"
    # typing a coordinate goes to the nearest index
    label.locator("input.lk-coord").fill("-0.33")
    label.locator("input.lk-coord").press("Enter")
    wait_until(lambda: manager.windows.get(uid).view["slices"] == {"energy": 1})
    # transpose: kx along y now, the rows carry the ramp
    card.locator("button.lk-swap").click()
    wait_painted(page, uid, image_dims=["kx", "ky"])
    settled(page)
    assert card.locator(".lk-yaxis .lk-axis-title").inner_text() == "kx (1/Å)"
    grid = block_gray(screenshot_rgb(card.locator(".lk-stage")))
    assert grid[-1].mean() > grid[0].mean() + 20 and np.ptp(grid[:, 1:-1].mean(axis=0)) < 10
    # energy along y (x stays ky): kx becomes the slider, at the cursor's kx
    kx = manager.windows.get(uid).view["cursor"]["kx"]
    card.locator("select.lk-ydim").select_option("energy")
    wait_painted(page, uid, image_dims=["energy", "ky"])
    view = manager.windows.get(uid).view
    assert view["image_dims"] == ["energy", "ky"] and view["slices"] == {"kx": kx}
    assert card.locator(".lk-sliders label[data-dim='kx']").count() == 1


def test_cursors_widths_and_their_profiles(manager, page):
    data = kx_ramp()
    window, card = show(page, manager, data)
    uid = window.uid
    card.locator("button.lk-add-cursor").click()
    wait_until(lambda: len(manager.windows.get(uid).view["cursors"]) == 2)
    page.wait_for_function(
        "(uid) => document.querySelectorAll(`.lk-viewer[data-uid='${uid}'] .lk-cursor-row`)"
        ".length === 2",
        arg=uid,
    )
    settled(page)
    view = manager.windows.get(uid).view
    c2 = view["cursors"][1]
    assert view["active_cursor"] == 1 and view["cursor"] == c2
    rows = card.locator(".lk-cursor-row").all_inner_texts()
    assert rows[1].startswith("C2:") and f"kx = {KX[c2['kx']]:g} 1/Å" in rows[1]
    # both crosshairs are painted, each in its colour (C1 yellow, C2 red)
    rgb = screenshot_rgb(card.locator(".lk-stage")).astype(int)
    yellow = (rgb[..., 0] > 200) & (rgb[..., 1] > 180) & (rgb[..., 2] < 80)
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 120) & (rgb[..., 2] < 120)
    assert yellow.sum() > 100 and red.sum() > 100
    hprof = screenshot_rgb(card.locator("canvas.lk-hprof")).astype(int)
    assert ((hprof[..., 0] > 200) & (hprof[..., 1] < 120)).sum() > 20  # C2's profile
    # the width averages rows: C2's value is the mean over 5 rows of its column (a constant
    # column here, so the value is the column's) and the band is painted
    card.locator(".lk-bins input[data-dim='ky']").fill("5")
    card.locator(".lk-bins input[data-dim='ky']").press("Enter")
    wait_until(lambda: manager.windows.get(uid).view["bins"]["ky"] == 5)
    expected = float(data.values[0, :, c2["kx"]].mean())
    page.wait_for_function(
        "([uid, v]) => [...document.querySelectorAll(`.lk-viewer[data-uid='${uid}'] "
        ".lk-cursor-row`)].some((r) => r.textContent.includes(`ramp = ${v} counts`))",
        arg=[uid, f"{np.float32(expected):.5g}"],
    )
    # removing the active cursor leaves C1
    card.locator("button.lk-del-cursor").click()
    wait_until(lambda: len(manager.windows.get(uid).view["cursors"]) == 1)


def test_keyboard_shortcuts(manager, page):
    window, card = show(page, manager, kx_ramp())
    uid = window.uid
    card.locator(".lk-title").click()  # focus the window
    start = manager.windows.get(uid).view["cursor"]
    for key in ("ArrowRight", "ArrowRight", "Shift+ArrowDown"):
        page.keyboard.press(key)
    wait_until(
        lambda: (
            manager.windows.get(uid).view["cursor"]
            == {"ky": start["ky"] + 10, "kx": start["kx"] + 2}
        )
    )
    page.keyboard.press("PageUp")
    wait_until(lambda: manager.windows.get(uid).view["slices"] == {"energy": 1})
    page.keyboard.press("l")
    wait_until(lambda: manager.windows.get(uid).view["norm"] == "log")
    page.keyboard.press("c")
    wait_until(lambda: len(manager.windows.get(uid).view["cursors"]) == 2)
    page.keyboard.press("n")
    wait_until(lambda: manager.windows.get(uid).view["active_cursor"] == 0)
    page.keyboard.press("Delete")
    wait_until(lambda: len(manager.windows.get(uid).view["cursors"]) == 1)
    page.keyboard.press("t")
    wait_until(lambda: manager.windows.get(uid).view["image_dims"] == ["kx", "ky"])
    assert card.locator(".lk-help").is_hidden()
    page.keyboard.press("?")
    assert card.locator(".lk-help").is_visible()
    assert "transpose" in card.locator(".lk-help").inner_text()
    # keys typed into a field stay there: "t" in the link field does not transpose (the link
    # change that follows it arrives after anything the "t" would have sent)
    card.locator("input.lk-link").press_sequentially("t")
    card.locator("input.lk-link").press("Enter")
    wait_until(lambda: manager.windows.get(uid).view["link_group"] == "t")
    assert manager.windows.get(uid).view["image_dims"] == ["kx", "ky"]


def test_linked_windows_follow_by_coordinate_and_show_it(manager, page):
    fine = kx_ramp()
    coarse = kx_ramp().isel(kx=slice(None, None, 2)) * 2  # kx step 0.04, 30 columns
    a = manager.windows.add(fine, "fine")
    b = manager.windows.add(coarse, "coarse")
    manager.windows.link([a.uid, b.uid], group="g")
    page.goto(manager.url)
    wait_painted(page, a.uid)
    wait_painted(page, b.uid)
    card_a, card_b = viewer_card(page, a.uid), viewer_card(page, b.uid)
    assert card_b.locator(".lk-linkinfo").inner_text() == "linked g: 0: fine"
    # a click at kx column 40 of the fine window (kx 0.8) puts the coarse cursor at its 0.8
    stage = card_a.locator(".lk-stage")
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 40.5 / 60, box["y"] + box["height"] * 0.25)
    wait_until(lambda: manager.windows.get(b.uid).view["cursor"]["kx"] == 20)
    assert manager.windows.get(a.uid).view["cursor"]["kx"] == 40
    wait_painted(page, b.uid)
    card_b.locator(".lk-stage").scroll_into_view_if_needed()
    page.wait_for_function(
        "(uid) => document.querySelector(`.lk-viewer[data-uid='${uid}'] .lk-cursor-row`)"
        ".textContent.includes('kx = 0.8 1/Å')",
        arg=b.uid,
    )
    settled(page)
    rgb = screenshot_rgb(card_b.locator(".lk-stage")).astype(int)
    yellow_cols = np.flatnonzero(
        ((rgb[..., 0] > 200) & (rgb[..., 1] > 180) & (rgb[..., 2] < 80)).sum(axis=0) > 20
    )
    width = rgb.shape[1]
    assert yellow_cols.size and abs(yellow_cols.mean() - width * 20.5 / 30) < 3
    # the colour scale is shared: limits typed in b show in a
    card_b.locator("input.lk-lo").fill("0.5")
    card_b.locator("input.lk-hi").fill("0.9")
    card_b.locator("input.lk-hi").press("Enter")
    wait_painted(page, a.uid, contrast=[0.5, 0.9, 1])
    assert card_a.locator("input.lk-hi").input_value() == "0.9"


def test_roi_and_line_profiles(manager, page):
    data = kx_ramp()
    window, card = show(page, manager, data)
    uid = window.uid
    stage = card.locator(".lk-stage")
    box = stage.bounding_box()
    card.locator("button.lk-roi").click()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    roi = wait_until(lambda: manager.windows.get(uid).view["roi"])
    region = data.values[0, slice(*roi["ky"]), slice(*roi["kx"])]
    text = card.locator(".lk-panel-text")
    page.wait_for_function(
        "([uid, m]) => document.querySelector(`.lk-viewer[data-uid='${uid}'] .lk-panel-text`)"
        ".textContent.includes(m)",
        arg=[uid, f"mean {region.mean(dtype=np.float64):.5g}"],
    )
    assert f"n {region.size}" in text.inner_text() and "ROI mean along energy" in text.inner_text()
    plot = screenshot_rgb(card.locator("canvas.lk-roi-plot")).astype(int)
    assert ((plot[..., 2] > 180) & (plot[..., 0] < 150)).sum() > 30  # the blue ROI profile
    # the line tool: a horizontal line along kx, its length in 1/Å
    card.locator("button.lk-line").click()
    y = box["y"] + box["height"] * 0.75
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, y, steps=5)
    page.mouse.up()
    line = wait_until(lambda: manager.windows.get(uid).view["line"])
    length = (line[1]["kx"] - line[0]["kx"]) * 0.02
    page.wait_for_function(
        "(uid) => document.querySelector(`.lk-viewer[data-uid='${uid}'] .lk-panel-text`)"
        ".textContent.includes('line: length')",
        arg=uid,
    )
    got = float(re.search(r"line: length ([\d.]+) 1/Å", text.inner_text()).group(1))
    assert abs(got - length) < 0.005
    line_plot = screenshot_rgb(card.locator("canvas.lk-line-plot")).astype(int)
    assert ((line_plot[..., 0] > 200) & (line_plot[..., 1] < 150)).sum() > 30  # pink profile
    page.keyboard.press("Escape")
    wait_until(lambda: manager.windows.get(uid).view["roi"] is None)
    assert manager.windows.get(uid).view["line"] is None


def test_png_export_of_the_figure(manager, page):
    window, card = show(page, manager, kx_ramp(), contrast_lo=0.0, contrast_hi=1.18)
    fig = card.locator(".lk-fig")
    shown = screenshot_rgb(card.locator(".lk-stage"))
    with page.expect_download() as download:
        card.locator("button.lk-png").click()
    assert download.value.suggested_filename == "ramp.png"
    png = png_rgb(Path(download.value.path()).read_bytes())
    fig_box, stage_box = fig.bounding_box(), card.locator(".lk-stage").bounding_box()
    assert png.shape[1] == round(fig_box["width"])
    x0, y0 = round(stage_box["x"] - fig_box["x"]), round(stage_box["y"] - fig_box["y"]) + 20
    h, w = shown.shape[:2]
    exported = png[y0 : y0 + h, x0 : x0 + w]
    assert np.abs(block_gray(exported) - block_gray(shown)).max() < 6  # the image as shown
    # tick labels were written into it: dark text pixels under the x axis
    axis = png[y0 + h + 6 : y0 + h + 20, x0 : x0 + w].mean(axis=2)
    assert (axis < 100).sum() > 30
    page.wait_for_function("(uid) => window.labkit_viewers[uid].exports === 1", arg=window.uid)


def test_nan_is_painted_as_background_and_read_as_nan(manager, page):
    values = np.tile(np.linspace(0, 1, 60, dtype=np.float32), (40, 1))
    values[:, :30] = np.nan  # the left half has no data
    data = xr.DataArray(values, dims=("y", "x"), name="gap")
    window, card = show(page, manager, data, cursor={"y": 35, "x": 55})
    stage = card.locator(".lk-stage")
    rgb = screenshot_rgb(stage).astype(int)
    h, w = rgb.shape[:2]
    assert np.abs(rgb[h // 4, w // 8] - 20).max() <= 3  # the background grey (0.08)
    assert rgb[h // 4, w - 3].mean() > 200  # auto contrast of the finite values: white
    assert rgb[h // 4, w // 2 + 3].mean() < 10  # their lowest: black, not the NaN grey
    box = stage.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    assert "gap = NaN" in card.locator(".lk-readout").inner_text()
