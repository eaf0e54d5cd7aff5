"""WindowRegistry: the observer API the window widget and page build on (no sockets)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from labkit.viewer import WindowNotFoundError, WindowRegistry


def _data(shape=(3, 4, 5)):
    return xr.DataArray(
        np.arange(np.prod(shape), dtype=np.float32).reshape(shape), dims=("t", "y", "x"), name="img"
    )


def test_add_replace_close_emit_events_in_order():
    reg = WindowRegistry()
    seen = []
    reg.subscribe(lambda event, w: seen.append((event, w.index, w.version)))
    w = reg.add(_data(), source="nb.ipynb")
    assert (w.index, w.name, w.source) == (0, "img", "nb.ipynb")
    assert w.view["slices"] == {"t": 0} and w.view["cursor"] == {"y": 2, "x": 2}
    reg.set_view_state(w.uid, slices={"t": 2})
    reg.replace(0, _data((2, 4, 5)))  # fewer frames: slice index is clamped
    assert reg.get(w.uid).view["slices"] == {"t": 1}
    reg.close(0)
    assert seen == [("added", 0, 0), ("view", 0, 0), ("replaced", 0, 1), ("closed", 0, 1)]
    with pytest.raises(WindowNotFoundError, match="no window 0"):
        reg.get(0)


def test_edit_data_emits_edited_only_for_viewer_origin():
    reg = WindowRegistry()
    events = []
    reg.subscribe(lambda event, w: events.append(event))
    w = reg.add(np.zeros((4, 4)), "z", watched=True, var_name="z", client_id="c1")
    reg.edit_data(w.uid, np.ones((4, 4)))
    reg.edit_data(w.uid, np.full((4, 4), 2.0), origin="client")
    assert events == ["added", "edited", "replaced"]
    assert float(reg.get(w.uid).data.sum()) == 32.0


def test_linked_windows_share_cursor_and_contrast_not_other_state():
    reg = WindowRegistry()
    a, b, c = (reg.add(_data()) for _ in range(3))
    group = reg.link([a.uid, b.index])
    reg.set_view_state(
        a.uid, cursor={"y": 1, "x": 3}, contrast_lo=5, roi={"y": [0, 2], "x": [1, 4]}
    )
    assert b.view["cursor"] == {"y": 1, "x": 3} and b.view["contrast_lo"] == 5
    assert b.view["roi"] is None and b.view["link_group"] == group  # an ROI is not shared
    assert c.view["cursor"] == {"y": 2, "x": 2} and c.view["contrast_lo"] is None


def test_unknown_view_keys_raise_naming_the_accepted_ones_and_change_nothing():
    reg = WindowRegistry()
    w = reg.add(_data())
    before = dict(w.view)
    with pytest.raises(ValueError, match=r"unknown view key\(s\) 'note'; accepted: image_dims, "):
        reg.set_view_state(w.uid, colormap="magma", note="x")
    assert reg.get(w.uid).view == before
    with pytest.raises(ValueError, match="unknown view key"):
        reg.add(_data(), view={"zoom": 2})


def test_non_array_is_a_type_error_and_a_broken_subscriber_does_not_break_others():
    reg = WindowRegistry()
    with pytest.raises(TypeError, match="not an array"):
        reg.add({"a": 1}, "d")
    with pytest.raises(TypeError, match="Dataset"):
        reg.add(xr.Dataset({"v": ("x", [1, 2])}), "ds")
    got = []

    def broken(event, w):
        raise RuntimeError("boom")

    reg.subscribe(broken)
    unsubscribe = reg.subscribe(lambda e, w: got.append(e))
    reg.add(np.zeros(3))
    unsubscribe()
    reg.add(np.zeros(3))
    assert got == ["added"]


def test_a_group_linked_without_colours_shares_position_only_and_joins_keep_the_rule():
    reg = WindowRegistry()
    a, b = reg.add(np.zeros((4, 4))), reg.add(np.ones((4, 4)))
    reg.set_view_state(a.uid, colormap="magma")
    reg.link([a.uid, b.uid], group="g", colors=False)
    assert b.view["colormap"] == "gray" and b.view["link_colors"] is False  # not taken on join
    reg.set_view_state(a.uid, cursor={"dim_0": 0}, gamma=3.0, zero_centered=True)
    assert b.view["cursor"]["dim_0"] == 0 and b.view["gamma"] == 1 and not b.view["zero_centered"]
    c = reg.add(np.ones((4, 4)), view={"colormap": "hot"})
    reg.link([a.uid, c.uid], group="g")  # colours linked between a and c, not towards b
    assert c.view["colormap"] == "magma" and b.view["colormap"] == "gray"
    with pytest.raises(ValueError, match="zero_centered must be True or False"):
        reg.set_view_state(a.uid, zero_centered="yes")


def test_claiming_unbound_windows_picks_by_label_and_refuses_to_guess():
    reg = WindowRegistry()
    plain = reg.add(np.zeros(2), watched=True, var_name="x", client_id="gone-1")
    labelled = reg.add(
        np.zeros(2), watched=True, var_name="x", client_id="gone-2", source_label="b"
    )
    assert reg.claim_unbound("me", ["x"], dry_run=True) == [plain]  # the unlabelled one
    assert reg.claim_unbound("me", ["x"], dry_run=True, source_label="b") == [labelled]
    restored = reg.add(np.zeros(2), watched=True, var_name="x", source_label="b")
    with pytest.raises(ValueError, match="several windows watch a variable 'x'"):
        reg.claim_unbound("me", None, source_label="b")
    assert labelled.client_id == "gone-2"  # nothing bound
    live = {"gone-1"}.__contains__  # the unlabelled one is watched by a live notebook again
    with pytest.raises(ValueError, match=r"1 \(label 'b'\), 2 \(label 'b'\)"):
        reg.claim_unbound("me", ["x"], is_live=live)  # two labelled ones left: no guess
    both_live = {"gone-1", "gone-2"}.__contains__  # one left: taken without a label
    assert reg.claim_unbound("me", ["x"], is_live=both_live) == [restored]
    assert restored.client_id == "me" and labelled.client_id == "gone-2"
