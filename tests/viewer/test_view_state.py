"""View state: validation, dims swaps, refitting, several cursors and linked windows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from labkit.viewer import WindowRegistry
from labkit.viewer._view import COLORMAPS, VIEW_KEYS, default_view_state, refit_view, update_view


def arpes(n_e: int = 6, n_ky: int = 8, n_kx: int = 10, kx_step: float = 0.1) -> xr.DataArray:
    """A small (energy, ky, kx) cube with coordinates and units."""
    values = np.arange(n_e * n_ky * n_kx, dtype=np.float32).reshape(n_e, n_ky, n_kx)
    return xr.DataArray(
        values,
        dims=("energy", "ky", "kx"),
        coords={
            "energy": ("energy", np.linspace(-1.0, 0.0, n_e), {"units": "eV"}),
            "ky": ("ky", np.arange(n_ky) * 0.1, {"units": "1/Å"}),
            "kx": ("kx", np.arange(n_kx) * kx_step, {"units": "1/Å"}),
        },
        name="arpes",
    )


def test_default_view_has_every_key_and_one_cursor_at_the_centre():
    view = default_view_state(arpes())
    assert tuple(view) == VIEW_KEYS
    assert view["image_dims"] == ["ky", "kx"] and view["slices"] == {"energy": 0}
    assert view["cursors"] == [{"ky": 4, "kx": 5}] and view["cursor"] == {"ky": 4, "kx": 5}
    assert view["bins"] == {"energy": 1, "ky": 1, "kx": 1} and view["norm"] == "linear"


def test_slices_bins_and_cursor_merge_per_dim():
    data = arpes()
    view = update_view(data, default_view_state(data), {"bins": {"kx": 3}, "cursor": {"kx": 7}})
    assert view["bins"] == {"energy": 1, "ky": 1, "kx": 3}
    assert view["cursor"] == {"ky": 4, "kx": 7} == view["cursors"][0]


def test_swapping_dims_keeps_the_position():
    data = arpes()
    view = update_view(
        data, default_view_state(data), {"slices": {"energy": 2}, "cursor": {"ky": 3}}
    )
    # show (energy, kx): ky leaves the image at the cursor's ky, energy enters at its slice
    swapped = update_view(data, view, {"image_dims": ["energy", "kx"]})
    assert swapped["slices"] == {"ky": 3} and swapped["cursor"] == {"energy": 2, "kx": 5}
    # transpose: the same dims the other way round, cursors unchanged
    transposed = update_view(data, swapped, {"image_dims": ["kx", "energy"]})
    assert transposed["cursor"] == {"energy": 2, "kx": 5} and transposed["slices"] == {"ky": 3}


def test_several_cursors_and_the_active_one():
    data = arpes()
    view = default_view_state(data)
    view = update_view(data, view, {"cursors": [{"ky": 1, "kx": 1}, {"kx": 9}], "active_cursor": 1})
    assert view["cursors"] == [{"ky": 1, "kx": 1}, {"ky": 4, "kx": 9}]  # missing dims: active's
    assert view["cursor"] == {"ky": 4, "kx": 9}
    view = update_view(data, view, {"cursor": {"ky": 0}})  # moves the active cursor only
    assert view["cursors"] == [{"ky": 1, "kx": 1}, {"ky": 0, "kx": 9}]
    with pytest.raises(ValueError, match="active_cursor 2 is outside 0..1"):
        update_view(data, view, {"active_cursor": 2})
    with pytest.raises(ValueError, match="list of 1 to 8 cursors"):
        update_view(data, view, {"cursors": []})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"image_dims": ["ky"]},
            r"image_dims must be 2 different dims of \['energy', 'ky', 'kx'\]",
        ),
        ({"image_dims": ["ky", "q"]}, "image_dims must be 2 different dims"),
        ({"slices": {"kx": 1}}, "view slices has dim 'kx'; it takes 'energy'"),
        ({"slices": {"energy": 6}}, r"slices\['energy'\] = 6 is outside 0..5"),
        ({"bins": {"kx": 0}}, r"bins\['kx'\] = 0 is outside 1..10"),
        ({"bins": {"kx": True}}, "integer indices"),
        ({"cursor": {"ky": -1}}, "outside 0..7"),
        ({"roi": {"ky": [0, 9], "kx": [0, 2]}}, r"roi\['ky'\] must be \[start, stop\]"),
        ({"roi": [0, 0, 2, 2]}, "roi must be None or"),
        ({"line": [{"ky": 0, "kx": 0}]}, "line must be None or two points"),
        ({"line": [{"ky": 0, "kx": 0}, {"ky": 0, "kx": 11}]}, "outside 0..10"),
        ({"norm": "symlog"}, "norm must be one of linear, log"),
        ({"colormap": "jet"}, "unknown colormap 'jet'; choose one of gray, viridis"),
        ({"link_group": ""}, "link_group must be a non-empty name"),
        ({"contrast_hi": float("inf")}, "contrast_hi must be a finite number"),
    ],
)
def test_bad_values_raise_naming_what_is_accepted(changes, match):
    data = arpes()
    with pytest.raises(ValueError, match=match):
        update_view(data, default_view_state(data), changes)


def test_refit_keeps_what_fits_new_data():
    data = arpes()
    view = update_view(
        data,
        default_view_state(data),
        {"slices": {"energy": 5}, "cursors": [{"ky": 7, "kx": 9}, {"ky": 1, "kx": 1}],
         "roi": {"ky": [0, 8], "kx": [0, 10]}, "bins": {"kx": 5}, "colormap": "magma"},
    )  # fmt: skip
    smaller = refit_view(view, arpes(n_e=3, n_ky=4, n_kx=4))
    assert smaller["slices"] == {"energy": 2} and smaller["bins"]["kx"] == 4
    assert smaller["cursors"] == [{"ky": 3, "kx": 3}, {"ky": 1, "kx": 1}]
    assert smaller["roi"] is None and smaller["colormap"] == "magma"
    flat = refit_view(view, xr.DataArray(np.zeros((3, 5)), dims=("a", "b")))
    assert flat["image_dims"] == ["a", "b"] and flat["slices"] == {}
    assert flat["cursor"] == {"a": 1, "b": 2}


def test_colormap_names_match_the_front_end():
    ts = Path(__file__).resolve().parents[2] / "js" / "src" / "render" / "colormaps.ts"
    block = ts.read_text().split("COLORMAP_NAMES")[1].split("];")[0]
    assert tuple(re.findall(r'"([a-z_]+)"', block)) == COLORMAPS


# ---- linked windows
def test_linked_windows_follow_by_coordinate_value_not_index():
    reg = WindowRegistry()
    fine = reg.add(arpes(n_kx=21, kx_step=0.05), "fine")  # kx 0 .. 1 in 0.05 steps
    coarse = reg.add(arpes(n_kx=11, kx_step=0.1), "coarse")  # kx 0 .. 1 in 0.1 steps
    reg.link([fine.uid, coarse.uid])
    reg.set_view_state(fine.uid, cursor={"kx": 14, "ky": 2}, slices={"energy": 4})
    assert coarse.view["cursor"] == {"ky": 2, "kx": 7}  # kx 0.70 in both
    assert coarse.view["slices"] == {"energy": 4}
    reg.set_view_state(coarse.uid, cursor={"kx": 3})  # 0.3 -> index 6 of the fine one
    assert fine.view["cursor"] == {"ky": 2, "kx": 6}


def test_a_dim_shown_as_image_in_one_window_follows_a_slider_in_the_other():
    reg = WindowRegistry()
    cut = reg.add(arpes(), "E-kx cut", view={"image_dims": ["energy", "kx"]})
    top = reg.add(arpes(), "constant energy map")
    reg.link([top.uid, cut.uid])
    reg.set_view_state(cut.uid, cursor={"energy": 5, "kx": 2})
    assert top.view["slices"] == {"energy": 5} and top.view["cursor"]["kx"] == 2
    reg.set_view_state(top.uid, cursor={"ky": 6})
    assert cut.view["slices"] == {"ky": 6}


def test_linked_windows_share_cursors_bins_and_colour_scale_but_not_dims_or_roi():
    reg = WindowRegistry()
    a, b = reg.add(arpes(), "a"), reg.add(arpes(), "b")
    reg.link([a.uid, b.uid])
    reg.set_view_state(
        a.uid, cursors=[{"ky": 1, "kx": 1}, {"ky": 2, "kx": 8}], active_cursor=1,
        bins={"kx": 3}, norm="log", gamma=0.5, colormap="viridis", contrast_lo=1.0,
        roi={"ky": [0, 2], "kx": [0, 2]},
    )  # fmt: skip
    assert b.view["cursors"] == [{"ky": 1, "kx": 1}, {"ky": 2, "kx": 8}]
    assert b.view["active_cursor"] == 1 and b.view["bins"]["kx"] == 3
    assert (b.view["norm"], b.view["gamma"], b.view["colormap"]) == ("log", 0.5, "viridis")
    assert b.view["contrast_lo"] == 1.0 and b.view["roi"] is None
    reg.set_view_state(a.uid, image_dims=["energy", "ky"])
    assert b.view["image_dims"] == ["ky", "kx"]


def test_joining_a_group_takes_its_state_and_members_hear_about_it():
    reg = WindowRegistry()
    a, b = reg.add(arpes(), "a"), reg.add(arpes(), "b")
    reg.set_view_state(a.uid, link_group="g", colormap="magma", cursor={"kx": 9})
    events = []
    reg.subscribe(lambda event, w: events.append((event, w.name)))
    reg.set_view_state(b.uid, link_group="g")
    assert b.view["colormap"] == "magma" and b.view["cursor"]["kx"] == 9
    assert ("view", "a") in events and ("view", "b") in events
    assert [w.name for w in reg.linked_with(a.uid)] == ["b"]
    events.clear()
    reg.set_view_state(b.uid, link_group=None)  # leaving: the group hears about it, a stays
    assert ("view", "a") in events and reg.linked_with(a.uid) == []
    reg.set_view_state(a.uid, colormap="gray")
    assert b.view["colormap"] == "magma"
    reg.set_view_state(b.uid, link_group="g")
    events.clear()
    reg.close(b.uid)
    assert ("view", "a") in events and reg.linked_with(a.uid) == []


# ---- through the manager: set_view over the wire and workspace files
def test_set_view_over_the_wire_validates_and_workspaces_keep_the_view(manager, tmp_path):
    import labkit.viewer as lv

    shown = lv.show_in_manager(arpes(), name="cube")
    handle = lv.managers[0]
    with pytest.raises(ValueError, match=r"unknown view key\(s\) 'zoom'; accepted: image_dims"):
        handle.request("set_view", window=shown["uid"], state={"zoom": 2})
    with pytest.raises(ValueError, match=r"slices\['energy'\] = 9 is outside 0..5"):
        handle.request("set_view", window=shown["uid"], state={"slices": {"energy": 9}})
    state = {
        "image_dims": ["energy", "kx"], "cursors": [{"energy": 1, "kx": 2}, {"energy": 4}],
        "active_cursor": 1, "bins": {"kx": 3}, "norm": "log", "gamma": 0.5,
        "colormap": "magma", "roi": {"energy": [0, 3], "kx": [1, 5]},
        "line": [{"energy": 0.5, "kx": 0.5}, {"energy": 5.5, "kx": 9.5}],
    }  # fmt: skip
    view = handle.request("set_view", window=shown["uid"], state=state)
    # the second cursor gets kx from the cursor that was active (at the centre, 5)
    assert view["cursor"] == {"energy": 4, "kx": 5} and view["slices"] == {"ky": 4}
    path = tmp_path / "ws.h5"
    lv.save_workspace(path)
    manager.windows.close_all()
    [restored] = lv.load_workspace(path)
    again = manager.windows.get(restored["uid"]).view
    assert again == view


def test_changes_made_while_joining_a_group_win_over_the_group_state():
    reg = WindowRegistry()
    a, b = reg.add(arpes(), "a"), reg.add(arpes(), "b")
    reg.set_view_state(a.uid, link_group="g", colormap="hot")
    reg.set_view_state(b.uid, link_group="g", colormap="magma", cursor={"kx": 1})
    assert (a.view["colormap"], b.view["colormap"]) == ("magma", "magma")
    assert a.view["cursor"]["kx"] == 1
    with pytest.raises(ValueError, match="unknown colormap"):
        reg.set_view_state(b.uid, link_group=None, colormap="jet")
    assert b.view["link_group"] == "g"  # refused as a whole
