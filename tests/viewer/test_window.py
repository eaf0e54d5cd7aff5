"""ViewerWindow kernel side: edits, the transport-agnostic controller, linked windows."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from labkit.viewer._edits import apply_edit
from labkit.viewer._errors import WindowNotFoundError
from labkit.viewer._window import ViewerWindow, WindowController
from labkit.viewer._windows import WindowRegistry


def cube() -> xr.DataArray:
    values = np.arange(3 * 4 * 5, dtype=np.float64).reshape(3, 4, 5)
    return xr.DataArray(
        values,
        dims=("t", "y", "x"),
        coords={"t": ("t", [0.0, 0.5, 1.0], {"units": "s"}), "x": ("x", np.arange(5) * 0.2)},
        name="cube",
        attrs={"units": "counts"},
    )


class Recorder:
    """Collects what a controller pushes and sends, as a front end would receive it."""

    def __init__(self) -> None:
        self.states: list[dict] = []
        self.messages: list[tuple[dict, list]] = []

    def push(self, changes: dict) -> None:
        self.states.append(changes)

    def send(self, content: dict, buffers: list) -> None:
        self.messages.append((content, [bytes(b) for b in buffers]))

    def ack_slice(self, ctl: WindowController, n: int = -1) -> None:
        """Acknowledge slice ``n`` (default the newest) as a front end does when it arrives."""
        slices = [c for c, _ in self.messages if c["type"] == "slice"]
        ctl.handle_msg({"type": "ack", "of": "slice", "seq": slices[n]["seq"]})

    def slices(self) -> list[tuple[dict, np.ndarray]]:
        out = []
        for content, buffers in self.messages:
            if content["type"] == "slice":
                dtype = {"u8": np.uint8, "u16": np.uint16, "f32": np.float32}[content["dtype"]]
                image = np.frombuffer(buffers[0], dtype).reshape(content["h"], content["w"])
                out.append((content, image))
        return out


def controller(registry: WindowRegistry, key) -> tuple[WindowController, Recorder]:
    rec = Recorder()
    return WindowController(registry, key, rec.push, rec.send), rec


def fit_viewport(w: int, h: int, canvas: int = 4096) -> dict:
    """The viewport message of a front end showing a whole ``w`` x ``h`` image in ``canvas`` px."""
    zoom = min(canvas / w, canvas / h)
    return {"type": "viewport", "canvas_w": canvas, "canvas_h": canvas, "zoom": zoom,
            "x0": 0, "y0": 0, "x1": w, "y1": h}  # fmt: skip


# ---- slices sent
def test_big_slices_are_sent_binned_to_the_viewport_and_zoomed_regions_at_full_resolution():
    registry = WindowRegistry()
    image = np.arange(130 * 200, dtype=np.uint16).reshape(130, 200)
    window = registry.add(image)
    rec = Recorder()
    ctl = WindowController(registry, window.uid, rec.push, rec.send, max_side_px=64)
    ctl.send_slice()  # no viewport reported yet: fitted into 64 x 64 px
    content, sent = rec.slices()[-1]
    assert (content["bin"], content["full_w"], content["full_h"]) == (3, 200, 130)
    assert sent.shape == (43, 66) and content["dtype"] == "u16"
    assert sent[1, 2] == int(image[3:6, 6:9].mean())  # truncated block mean
    # the front end zooms into [100, 140) x [20, 60) at 4 device px per pixel: full resolution
    ctl.handle_msg({"type": "viewport", "canvas_w": 160, "canvas_h": 160, "zoom": 4.0,
                    "x0": 100, "y0": 20, "x1": 140, "y1": 60})  # fmt: skip
    content, sent = rec.slices()[-1]
    assert content["bin"] == 1 and (content["x"], content["y"]) == (96, 16)  # 10% margin
    assert (content["rw"], content["rh"]) == (48, 48) and sent.shape == (48, 48)
    assert np.array_equal(sent, image[16:64, 96:144])
    n = ctl.slices_sent
    ctl.handle_msg({"type": "viewport", "canvas_w": 160, "canvas_h": 160, "zoom": 4.0,
                    "x0": 100, "y0": 20, "x1": 140, "y1": 60})  # fmt: skip
    assert ctl.slices_sent == n  # the same viewport again: nothing new to send
    ctl.handle_msg({"type": "viewport", "zoom": "near"})
    assert "malformed viewport" in ctl.last_error
    ctl.close()


def test_float_slices_are_float32_block_means():
    registry = WindowRegistry()
    image = np.random.default_rng(1).random((64, 90))
    window = registry.add(image)
    ctl, rec = controller(registry, window.uid)
    ctl.handle_msg({"type": "ready", "viewport": fit_viewport(90, 64, canvas=30)})
    content, sent = rec.slices()[-1]
    assert content["dtype"] == "f32" and content["bin"] == 3 and sent.shape == (21, 30)
    ref = image[:63, :90].reshape(21, 3, 30, 3).mean(axis=(1, 3))
    assert np.allclose(sent, ref, rtol=1e-5)
    assert (content["min"], content["max"]) == (float(sent.min()), float(sent.max()))
    ctl.close()


# ---- edits
def test_apply_edit_normalize_crop_fill():
    data = cube()
    norm = apply_edit(data, {"op": "normalize"})
    assert float(norm.min()) == 0.0 and float(norm.max()) == 1.0 and norm.dims == data.dims
    crop = apply_edit(data, {"op": "crop", "roi": [1, 2, 4, 4]})
    assert crop.shape == (3, 2, 3)
    assert np.array_equal(crop.x.values, data.x.values[1:4])  # coords follow the crop
    filled = apply_edit(data, {"op": "fill", "roi": [0, 0, 2, 1], "value": -1})
    assert (filled.values[:, 0, :2] == -1).all() and (filled.values[:, 1:, :] >= 0).all()
    assert (data.values >= 0).all()  # the original is untouched
    ints = xr.DataArray(np.zeros((4, 4), np.uint8))
    assert int(apply_edit(ints, {"op": "fill", "roi": [0, 0, 4, 4], "value": 300}).max()) == 255


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"op": "explode"}, "unknown edit op"),
        ({"op": "crop"}, "needs a ROI"),
        ({"op": "crop", "roi": [3, 3, 3, 9]}, "empty"),
        ({"op": "fill", "roi": [0, 0, 2, 2], "value": "lots"}, "not a number"),
    ],
)
def test_apply_edit_rejects_bad_requests(content, match):
    with pytest.raises(ValueError, match=match):
        apply_edit(cube(), content)


# ---- controller
def test_controller_state_has_units_coords_and_view():
    registry = WindowRegistry()
    window = registry.add(cube())
    ctl, _ = controller(registry, window.index)
    state = ctl.state()
    info = state["info"]
    assert state["uid"] == window.uid and state["view"]["image_dims"] == ["y", "x"]
    assert info["units"] == "counts" and info["axes"]["t"]["units"] == "s"
    assert info["axes"]["t"]["values"] == [0.0, 0.5, 1.0]
    assert info["axes"]["y"]["values"] is None and info["axes"]["y"]["step"] == 1.0
    assert state["view"]["slices"] == {"t": 0} and state["view"]["colormap"] == "gray"
    assert info["linked_with"] == []
    ctl.close()


def test_controller_sends_slices_on_view_and_data_changes_only_when_needed():
    registry = WindowRegistry()
    window = registry.add(cube())
    ctl, rec = controller(registry, window.uid)
    assert ctl.send_slice() and not ctl.send_slice()  # same version and slice: not resent
    ctl.handle_view({**ctl.state()["view"], "slices": {"t": 1}})
    content, image = rec.slices()[-1]
    assert content["slices"] == {"t": 1} and np.array_equal(image, cube().values[1])
    assert content["min"] == 20.0 and content["max"] == 39.0
    n = len(rec.slices())
    ctl.handle_view({**ctl.state()["view"], "colormap": "magma"})  # no new slice for a colormap
    assert len(rec.slices()) == n and registry.get(window.uid).view["colormap"] == "magma"
    rec.ack_slice(ctl)  # the front end got a slice: credit for one more
    registry.replace(window.uid, cube() * 2)
    content, image = rec.slices()[-1]
    assert content["version"] == 1 and np.array_equal(image, cube().values[1] * 2)
    assert rec.states[-1]["info"]["version"] == 1
    ctl.close()


def test_controller_sends_at_most_two_unacked_slices_newest_wins():
    registry = WindowRegistry()
    window = registry.add(np.zeros((8, 8), np.float32))
    ctl, rec = controller(registry, window.uid)
    ctl.handle_msg({"type": "ready"})  # a view appeared
    for i in range(1, 6):
        registry.replace(window.uid, np.full((8, 8), i, np.float32))
    assert [c["version"] for c, _ in rec.slices()] == [0, 1]  # out of credit after two
    rec.ack_slice(ctl, 0)  # one arrived: the newest waiting change goes out
    content, image = rec.slices()[-1]
    assert content["version"] == 5 and float(image[0, 0]) == 5.0
    rec.ack_slice(ctl, 1)
    rec.ack_slice(ctl, 2)
    assert len(rec.slices()) == 3  # nothing else was waiting
    ctl.handle_msg({"type": "ready"})  # a (re)displayed view always gets the slice
    assert len(rec.slices()) == 4
    ctl.close()


def test_controller_edit_goes_through_edit_data_and_errors_are_shown():
    registry = WindowRegistry()
    window = registry.add(cube())
    events = []
    registry.subscribe(lambda event, w: events.append(event))
    ctl, rec = controller(registry, window.uid)
    ctl.handle_msg({"type": "edit", "op": "fill", "roi": [0, 0, 1, 1], "value": 5})
    assert "edited" in events and float(registry.get(window.uid).data[0, 0, 0]) == 5
    ctl.handle_msg({"type": "edit", "op": "crop"})
    assert rec.messages[-1][0] == {
        "type": "status",
        "level": "error",
        "message": "crop needs a ROI [x0, y0, x1, y1]; draw a rectangle first",
    }
    ctl.handle_msg({"type": "bogus"})
    assert "unknown message" in ctl.last_error
    ctl.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"gamma": 0},
        {"gamma": float("nan")},
        {"contrast_lo": "low"},
        {"slices": {"t": 1.5}},
        {"cursor": [1, 2]},
        {"cursor": {"y": 99}},
        {"slices": {"x": 1}},
        {"colormap": 3},
        {"colormap": "rainbow"},
        {"norm": "sqrt"},
        {"image_dims": ["t", "t"]},
        {"roi": {"y": [2, 1], "x": [0, 1]}},
        {"note": "unknown key"},
    ],
)
def test_bad_view_values_are_refused_and_the_stored_view_restored(bad):
    registry = WindowRegistry()
    window = registry.add(cube())
    ctl, rec = controller(registry, window.uid)
    before = dict(registry.get(window.uid).view)
    ctl.handle_view({**ctl.state()["view"], **bad})
    assert registry.get(window.uid).view == before
    statuses = [c for c, _ in rec.messages if c["type"] == "status"]
    assert statuses[-1]["level"] == "error"
    assert rec.states[-1]["view"]["gamma"] == before["gamma"]  # the front end is corrected
    ctl.close()


def test_linked_windows_share_cursor_and_contrast_through_controllers():
    registry = WindowRegistry()
    a = registry.add(np.zeros((10, 10)))
    b = registry.add(np.ones((10, 10)))
    registry.link([a.uid, b.uid])
    ctl_a, _ = controller(registry, a.uid)
    ctl_b, rec_b = controller(registry, b.uid)
    ctl_a.handle_view({**ctl_a.state()["view"], "cursor": {"dim_0": 2, "dim_1": 7}})
    ctl_a.handle_view({**ctl_a.state()["view"], "contrast_lo": 0.2, "contrast_hi": 0.8})
    view_b = rec_b.states[-1]["view"]
    assert view_b["cursor"] == {"dim_0": 2, "dim_1": 7}
    assert (view_b["contrast_lo"], view_b["contrast_hi"]) == (0.2, 0.8)
    ctl_a.close()
    ctl_b.close()


def test_controller_reports_closed_window_and_unsubscribes():
    registry = WindowRegistry()
    window = registry.add(np.zeros((4, 4)))
    ctl, rec = controller(registry, window.uid)
    registry.close(window.uid)
    assert ctl.closed and rec.states[-1]["info"]["closed"] is True
    ctl.handle_msg({"type": "request_slice"})  # ignored after close
    assert rec.slices() == []
    with pytest.raises(WindowNotFoundError):
        WindowController(registry, window.uid, rec.push, rec.send)


# ---- the widget (no front end attached)
def test_viewer_window_widget_syncs_view_to_the_registry():
    registry = WindowRegistry()
    window = registry.add(cube())
    with ViewerWindow(registry, window.index) as w:
        assert w.uid == window.uid and w.info["name"] == "cube"
        assert w.view["slices"] == {"t": 0}
        w.view = {**w.view, "slices": {"t": 2}, "gamma": 0.5}  # as the browser would
        assert registry.get(window.uid).view["slices"] == {"t": 2}
        assert registry.get(window.uid).view["gamma"] == 0.5
        registry.set_view_state(window.uid, colormap="viridis")  # from elsewhere (a linked window)
        assert w.view["colormap"] == "viridis"
        registry.replace(window.uid, cube().isel(t=[0]))
        assert w.info["shape"] == [1, 4, 5] and w.view["slices"] == {"t": 0}
        assert w.data.shape == (1, 4, 5)


def test_viewer_window_on_plain_data_opens_a_private_window():
    with ViewerWindow(np.arange(12.0).reshape(3, 4)) as w:
        assert w.info["shape"] == [3, 4] and w.info["dtype"] == "float64"
    with pytest.raises(TypeError, match="not an array"):
        ViewerWindow("not data")


def test_cursor_moves_send_profiles_not_slices_and_profiles_have_their_own_credit():
    registry = WindowRegistry()
    window = registry.add(cube())
    ctl, rec = controller(registry, window.uid)
    ctl.handle_msg({"type": "ready"})
    profiles = [c for c, _ in rec.messages if c["type"] == "profiles"]
    assert profiles[-1]["arrays"] == ["c0.h", "c0.v", "dim.t"]
    n_slices = len(rec.slices())
    ctl.handle_view({**ctl.state()["view"], "cursor": {"y": 1, "x": 4}})
    latest = [(c, b) for c, b in rec.messages if c["type"] == "profiles"][-1]
    assert len(rec.slices()) == n_slices  # the image did not change
    assert latest[0]["values"] == [cube().values[0, 1, 4]]
    h = np.frombuffer(latest[1][0], np.float32)
    assert np.array_equal(h, cube().values[0, 1])  # the row through the new cursor
    # two profiles unacked: a third change waits for an ack and then goes out as the newest
    ctl.handle_view({**ctl.state()["view"], "cursor": {"y": 2}})
    ctl.handle_view({**ctl.state()["view"], "cursor": {"y": 3}})
    sent = [c for c, _ in rec.messages if c["type"] == "profiles"]
    assert sent[-1]["values"] == [cube().values[0, 1, 4]]
    ctl.handle_msg({"type": "ack", "of": "profiles", "seq": sent[-1]["seq"]})
    newest = [c for c, _ in rec.messages if c["type"] == "profiles"][-1]
    assert newest["values"] == [cube().values[0, 3, 4]]
    ctl.close()


def test_a_slice_is_labelled_with_the_version_of_its_pixels(monkeypatch):
    """A replace from another thread lands while the controller cuts the image: the slice
    still says the version its pixels come from, and the new version follows."""
    import threading

    from labkit.testing import wait_until
    from labkit.viewer import _controller

    registry = WindowRegistry()
    window = registry.add(np.zeros((8, 8), np.float32))
    ctl, rec = controller(registry, window.uid)
    real, replacer = _controller.image_plane, []

    def cut_while_replaced(data, view):
        plane = real(data, view)
        if not replacer:
            new = np.ones((8, 8), np.float32)
            replacer.append(threading.Thread(target=registry.replace, args=(window.uid, new)))
            replacer[0].start()
            wait_until(lambda: registry.get(window.uid).version == 1, what="the replace")
        return plane

    monkeypatch.setattr(_controller, "image_plane", cut_while_replaced)
    ctl.handle_msg({"type": "ready"})
    replacer[0].join(5)
    sent = rec.slices()
    assert [c["version"] for c, _ in sent] == [0, 1]
    assert all(float(image[0, 0]) == c["version"] for c, image in sent)
    ctl.close()


def test_zero_centered_makes_the_automatic_limits_symmetric_and_resends_the_slice():
    registry = WindowRegistry()
    window = registry.add(xr.DataArray(np.linspace(-1.0, 3.0, 400).reshape(20, 20)))
    ctl, rec = controller(registry, window.uid)
    assert ctl.send_slice()
    lo, hi = rec.slices()[-1][0]["auto"]
    assert lo < -0.9 and hi > 2.9
    rec.ack_slice(ctl)
    ctl.handle_view({**ctl.state()["view"], "zero_centered": True})
    content = rec.slices()[-1][0]
    assert content["auto"] == [-hi, hi] and content["auto_log"][0] > 0  # log scale unchanged
    ctl.close()
