"""MDA sequences in the engine (thread and process mode): the series on disk, pause/resume,
cancel in the middle of a z move, bursts, autofocus, and errors before anything runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import useq
import zarr
from protocol_devices import make_scope

import labkit as lk
from labkit.protocols import ProtocolError
from labkit.testing import wait_until

SEQ = useq.MDASequence(
    time_plan={"interval": 0, "loops": 2},
    z_plan={"range": 2, "step": 1},
    channels=["DAPI", "FITC"],  # group "Channel": the config_groups device's property
    stage_positions=[(0, 0, 0), (20, 10, 0)],
    axis_order="tpcz",
    metadata={"experiment": "dims"},
)


def _events(scope):
    seen = []

    def on(event):
        if event.topic == "protocol":
            seen.append(dict(event.payload))

    scope.subscribe(on)
    return seen, on


def test_sequence_writes_tpczyx_with_ome_metadata(scope, tmp_path):
    handle = scope.run_mda(SEQ, tmp_path / "dims")
    final = handle.wait(60)
    assert final["state"] == "done" and final["frames_done"] == 24 == final["frames_total"]
    assert handle.path.name == "dims.ome.zarr"

    data = lk.open_series(handle.path)
    assert data.dims == ("t", "p", "c", "z", "y", "x")
    assert data.shape == (2, 2, 2, 3, 48, 64)
    assert list(data.c.values) == ["DAPI", "FITC"]
    assert list(data.z.values) == [-1.0, 0.0, 1.0]
    assert data.attrs["sequence"]["metadata"] == {"experiment": "dims"}
    assert data.attrs["status"] == "done" and data.attrs["frames_written"] == 24
    # every plane was written (sim frames have a background well above zero)
    means = data.mean(dim=("y", "x")).values
    assert means.shape == (2, 2, 2, 3) and (means > 100).all()

    # zarr-python sees ome-writers' layout: bioformats2raw with one OME image per position
    root = zarr.open_group(str(handle.path), mode="r")
    assert root.attrs["ome"]["bioformats2raw.layout"] == 3
    image = zarr.open_group(str(handle.path / "1"), mode="r")
    ms = image.attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["t", "c", "z", "y", "x"]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"][-1] == pytest.approx(0.1)
    assert [c["label"] for c in image.attrs["ome"]["omero"]["channels"]] == ["DAPI", "FITC"]
    array = image["0"]
    assert array.shape == (2, 2, 3, 48, 64)
    np.testing.assert_array_equal(array[1, 0, 2], data.isel(t=1, p=1, c=0, z=2).values)
    # per-frame metadata: the event's index, the stage where the frame was taken, its metadata
    meta = json.loads((handle.path / "1" / "zarr.json").read_text())["attributes"]
    frames = meta["ome_writers"]["frame_metadata"]
    assert len(frames) == 12
    assert frames[0]["index"] == {"t": 0, "p": 1, "c": 0, "z": 0}
    assert frames[0]["x_um"] == pytest.approx(20.0) and frames[0]["z_um"] == pytest.approx(-1.0)


def test_channels_set_the_config_group_and_state_devices(scope, tmp_path):
    seq = useq.MDASequence(
        channels=[{"group": "filters", "config": "RFP"}, {"group": "Channel", "config": "TRITC"}]
    )
    scope.run_mda(seq, False).wait(30)
    assert scope.devices["filters"].label == "RFP"
    assert scope.devices["config"].Channel == "TRITC"


def test_bad_channels_and_paths_fail_before_anything_runs(scope, tmp_path):
    with pytest.raises(ProtocolError, match="no channel group 'Laser'.*config"):
        scope.run_mda(useq.MDASequence(channels=[{"group": "Laser", "config": "x"}]), False)
    with pytest.raises(ProtocolError, match="not a preset of config group 'Channel'.*DAPI"):
        scope.run_mda(useq.MDASequence(channels=["Cy7"]), False)
    (tmp_path / "taken.ome.zarr").mkdir()
    with pytest.raises(FileExistsError, match="never overwrites"):
        scope.run_mda(useq.MDASequence(), tmp_path / "taken.ome.zarr")
    assert all(s["state"] != "pending" for s in scope._call("protocols").values())


def test_pause_and_resume_keep_event_order(scope, tmp_path):
    seq = useq.MDASequence(time_plan={"interval": 0.02, "loops": 30}, channels=["DAPI", "FITC"])
    seen, on = _events(scope)
    try:
        handle = scope.run_mda(seq, False)
        wait_until(lambda: handle.progress["frames_done"] >= 3, what="three frames")
        handle.pause()
        wait_until(lambda: handle.state == "paused", what="the run to hold")
        held_at = handle.progress["frames_done"]
        handle.resume()
        handle.wait(60)
    finally:
        scope.unsubscribe(on)
    assert handle.states == ["running", "paused", "running", "done"]
    frames = [tuple(s["index"].values()) for s in seen if s["state"] == "running" and s["index"]]
    expected = [tuple(e.index.values()) for e in seq]
    assert _dedup(frames) == expected  # every event once, in the sequence's order
    # nothing was acquired while paused: the frame count did not move between paused and running
    states = [(s["state"], s["frames_done"]) for s in seen]
    i = states.index(("paused", held_at))
    assert states[i + 1] == ("running", held_at)


def _dedup(items):
    out = []
    for item in items:
        if not out or out[-1] != item:
            out.append(item)
    return out


def test_burst_time_plan_reads_the_camera_stream(scope):
    scope.camera.frame_rate_hz = 200
    try:
        handle = scope.run_mda(useq.MDASequence(time_plan={"interval": 0, "loops": 20}), False)
        final = handle.wait(30)
    finally:
        scope.camera.frame_rate_hz = 20
    assert final["frames_done"] == 20
    assert final["steps_total"] == 1 and final["step"].startswith("burst of 20")
    assert scope.state == "ready"  # the stream started for the burst only


def test_autofocus_hook_corrects_z(scope, tmp_path):
    seq = useq.MDASequence(
        stage_positions=[(0, 0, 1.0)],
        z_plan={"range": 1, "step": 1},
        autofocus_plan=useq.AxesBasedAF(autofocus_device_name="af", axes=("p",)),
    )
    with pytest.raises(ProtocolError, match="autofocus"):
        scope.run_mda(seq, False)
    hook = "protocol_devices:autofocus"
    handle = scope.run_mda(seq, tmp_path / "af", autofocus=hook)
    handle.wait(30)
    meta = json.loads((handle.path / "zarr.json").read_text())["attributes"]
    zs = [f["z_um"] for f in meta["ome_writers"]["frame_metadata"]]
    assert zs == pytest.approx([1.0, 2.0])  # z plan 0.5, 1.5 plus the hook's +0.5 µm


def test_cancel_mid_z_leaves_the_stage_stopped(tmp_path):
    with make_scope("thread", "protocol_devices:slow_stage_devices") as scope:
        _cancel_mid_z(scope, tmp_path)


@pytest.mark.slow
def test_cancel_mid_z_process_mode(tmp_path):
    with make_scope("process", "protocol_devices:slow_stage_devices") as scope:
        _cancel_mid_z(scope, tmp_path)


def _cancel_mid_z(scope, tmp_path):
    seq = useq.MDASequence(z_plan={"range": 100, "step": 50})  # 50 µm at 5 µm/s: 10 s per step
    handle = scope.run_mda(seq, tmp_path / "cancelled")
    wait_until(lambda: scope.stage.is_moving(), what="the stage to move")
    handle.cancel()
    final = handle.wait(30)
    assert final["state"] == "cancelled" and final["frames_done"] == 0
    assert not scope.stage.is_moving()
    z = scope.stage.position()[2]
    assert -50 < z < 0 and scope.stage.z_um == pytest.approx(z)  # stopped where it was
    data = lk.open_series(handle.path)  # the series is closed, its status says why
    assert data.attrs["status"] == "cancelled"


def test_grid_plans_become_positions(scope, tmp_path):
    seq = useq.MDASequence(
        stage_positions=[(0, 0, 0), (100, 0, 0)], grid_plan={"rows": 2, "columns": 1}
    )
    handle = scope.run_mda(seq, tmp_path / "grid")
    handle.wait(60)
    data = lk.open_series(handle.path)
    assert data.sizes["p"] == 4
    assert list(data.p.values) == ["0_0_0", "0_1_0", "1_0_0", "1_1_0"]
    # each tile was taken where the grid put it: the second tile of position 1 at x=100
    meta = json.loads((handle.path / "1_1_0" / "zarr.json").read_text())["attributes"]
    frame = meta["ome_writers"]["frame_metadata"][0]
    assert frame["x_um"] == pytest.approx(100.0) and frame["index"]["g"] == 1
    assert (data.mean(dim=("y", "x")).values > 100).all()


def test_wait_returns_after_the_runs_events_reached_subscribers(scope):
    """wait() may learn that a run ended by asking the engine while the scope's event thread is
    still busy (a slow subscriber): it returns only once the events sent before the end were
    delivered (the pause/resume test above missed its last frame under load)."""
    import sys
    import threading

    seq = useq.MDASequence(time_plan={"interval": 0, "loops": 3})
    release = threading.Event()
    seen: list[str] = []

    def slow(event):  # holds the event thread on the run's first event until released
        if event.topic == "protocol":
            release.wait(60)
            seen.append(event.payload["state"])

    main = threading.current_thread()
    returned = threading.Event()

    def release_when_wait_blocks() -> None:
        def waiting_in_flush() -> bool:
            frame = sys._current_frames().get(main.ident)
            while frame is not None:
                if frame.f_code.co_name == "flush":
                    return True
                frame = frame.f_back
            return False

        # wait() blocks in the bus's flush (or, without it, returns at once): then let go
        wait_until(lambda: returned.is_set() or waiting_in_flush(), timeout_s=60,
                   what="wait() to learn the run ended")  # fmt: skip
        release.set()

    scope.subscribe(slow)
    releaser = threading.Thread(target=release_when_wait_blocks, name="test-releaser")
    try:
        handle = scope.run_mda(seq, False)
        releaser.start()
        final = handle.wait(60)
        seen_at_return = list(seen)
        returned.set()
    finally:
        release.set()
        releaser.join(60)
        scope.unsubscribe(slow)
    assert final["state"] == "done"
    assert seen_at_return[-1] == "done" and seen_at_return.count("running") >= 3, seen_at_return
