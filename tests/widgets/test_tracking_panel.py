"""The tracking panel in the kernel against a real sim tweezers scope: bead picking (find and
click), the z table scan from the form, tracking plots, the lock badge, the z table view."""

from __future__ import annotations

import numpy as np
import pytest

import labkit as lk
from labkit.testing import wait_until
from labkit.widgets import Dashboard, ZLUTView
from labkit.widgets._zlut_view import profile_image, zlut_quality

SHAPE = (288, 288)


@pytest.fixture
def scope():
    with lk.Scope(devices="labkit.devices.sim:tweezers_devices", shape=SHAPE, seed=7) as s:
        s.camera.tether_rms_nm = 0.0
        s.camera.frame_rate_hz = 60
        yield s


def test_dashboard_tracking_picks_scans_tracks_and_locks(scope):
    with Dashboard(scope, tracking=True, traces=False) as dash:
        panel, form, live = dash.tracking, dash.tracking.form, dash.live
        assert live.pick == "off" and form.values["beads"] == "none yet"
        form.click("find")
        wait_until(lambda: len(live.marks) == 9, what="bead ROIs drawn over the live view")
        assert form.values["beads"].startswith("9: bead0")
        assert {m["name"] for m in live.marks} == {r["name"] for r in scope.tracking.rois}
        # a click in Pick mode adds a bead centred there
        live._on_custom_msg(live, {"type": "pick", "x": 140.0, "y": 150.0}, [])
        wait_until(lambda: len(live.marks) == 10, what="the picked bead drawn")
        picked = scope.tracking.rois[-1]
        assert abs(picked["y"] + 24.5 - 150) <= 0.5 and abs(picked["x"] + 24.5 - 140) <= 0.5
        live._on_custom_msg(live, {"type": "pick", "x": 2.0, "y": 2.0}, [])  # ROI leaves the frame
        assert live.status[0] == "error" and "leaves" in live.status[1]
        scope.tracking.rois = scope.tracking.rois[:9]
        # the z table scan runs in the background; its table is shown when done
        dash.controls.click("start")
        assert form.edit("z_range_um", [-0.5, 0.5]) and form.edit("step_um", 0.1)
        assert form.edit("frames_per_plane", 2)
        assert not form.edit("z_range_um", [1, 0]) and "low < high" in form.errors["z_range_um"]
        form.click("scan")
        wait_until(lambda: panel.zlut_view is not None, timeout_s=60, what="the z table")
        assert form.values["scan_progress"]["value"] == 1
        assert panel.zlut.z_um.size == 11 and panel.zlut_box.children == (panel.zlut_view,)
        form.set_values(reference=["bead0"])
        form.click("track")
        assert [p.channels for p in panel.plots][2][:2] == ("bead0", "bead1")
        wait_until(lambda: panel.plots[0].samples > 0, what="tracked x plotted")
        x = panel.plots[0]._pump.v  # x from where each bead started: still beads stay near 0
        assert x.shape[1] == 8 and np.nanmax(np.abs(x)) < 0.1
        form.set_values(lock_bead="bead0")
        form.click("lock")
        wait_until(lambda: form.values["lock_state"]["cls"] == "labkit-lock-locked",
                   what="the badge turning locked")  # fmt: skip
        assert form.values["lock_state"]["color"] == "#2e7d32"
        form.click("unlock")
        assert form.values["lock_state"]["cls"] == "labkit-lock-off"
        form.click("untrack")
        assert "beads" not in scope.nodes and panel.plots == []
    assert scope.tracking.lock_status()["state"] == "off"


def test_lock_without_beads_says_what_to_do(scope):
    with Dashboard(scope, tracking=True, traces=False) as dash:
        dash.tracking.form.click("lock")
        assert dash.tracking.form.status[0] == "error"
        assert "pick beads first" in dash.tracking.form.status[1]


def test_zlut_view_shows_profiles_and_quality():
    from labkit.processing.tracking import ZLUT

    z = np.linspace(-1, 1, 5)
    profiles = np.cos(np.arange(96)[None, None, :] / (3 + z[None, :, None])) * np.ones((2, 1, 1))
    noise = np.array([[1.0, 1.2, 1.1, 1.3, 1.0], [1.0, 2.0, 30.0, 1.0, 1.0]])
    zlut = ZLUT(z, profiles, ["a", "b"], roi_size=50, z_noise_nm=noise,
                frames=np.full((2, 5), 4))  # fmt: skip
    quality = zlut_quality(zlut)
    assert quality[0][0] and not quality[1][0]
    assert "30.0 nm worst at z 0.00 µm" in quality[1][1]
    image = profile_image(zlut, "b")
    assert image.shape == (5, 96) and image.dtype == np.uint16 and image.max() == 65535
    view = ZLUTView(zlut)
    try:
        assert view.bead == "a" and view.form.status[0] == "warning"
        view.bead = "b"
        frame = view._source.latest()
        assert np.array_equal(frame.data, image)
        assert not view.form.edit("bead", "c") and "beads" in view.form.errors["bead"]
        with pytest.raises(ValueError, match="no bead 'zz'"):
            ZLUTView(zlut, bead="zz")
    finally:
        view.close()
