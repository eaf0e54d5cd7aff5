"""Faults for real: kill -9 mid-spool, a full disk, a file size limit, a closed source."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labkit.buffers import sweep_stale_segments
from labkit.cli import main as cli_main
from labkit.spool import IncompleteSeriesWarning, SpoolWriteError, open_series
from labkit.spool._journal import journal_path, read_journal
from labkit.testing import wait_until

HERE = Path(__file__).parent


def _child(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, str(HERE / "spool_child.py"), str(tmp_path), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
@pytest.mark.parametrize("method", ["zarr", "zarr-raw", "hdf5", "tiff", "hdf5-lz4", "tiff-zstd"])
def test_kill9_mid_spool_leaves_readable_series_and_repair_closes_it(tmp_path, capsys, method):
    proc = _child(
        tmp_path, "crash" if method == "zarr" else f"crash-{method}"
    )  # zarr-raw: direct mode
    try:
        path = Path(json.loads(proc.stdout.readline())["path"])
        jpath = journal_path(path)
        wait_until(
            lambda: sum(r.get("event") == "block" for r in read_journal(jpath)) >= 3,
            timeout_s=30,
            what="the child journaling 3 shards",
        )
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        sweep_stale_segments()  # the child's ring segment (its owner is dead)
    blocks = [r for r in read_journal(jpath) if r.get("event") == "block"]
    listed = sum(len(b["frame"]) for b in blocks)
    assert listed >= 3 * 20 - 20  # shards of ~20 frames (0.1 s at 200 fps)
    with pytest.warns(IncompleteSeriesWarning, match="labkit repair"):
        da = open_series(path)
    assert da.shape[0] == listed
    idx = da.values[:, 0, 0].astype(int)
    assert np.all(np.diff(idx) == 1), "every journaled frame is on disk, in order"
    assert cli_main(["repair", str(path)]) == 0
    assert "repaired" in capsys.readouterr().out
    da2 = open_series(path)  # no warning now (warnings are errors in this suite)
    assert da2.attrs["status"] == "repaired" and da2.shape == da.shape
    assert not list(path.rglob(".*.tmp"))


def test_file_size_limit_stops_cleanly_and_keeps_frames(tmp_path):
    frame_bytes = 128 * 128 * 2
    proc = _child(tmp_path, "fsize-tiff", str(12 * frame_bytes + 4096))
    out, _ = proc.communicate(timeout=60)
    lines = [json.loads(x) for x in out.splitlines()]
    path, res = Path(lines[0]["path"]), lines[1]
    assert (
        res["type"] == "SpoolWriteError"
        and f"failed after {res['frames_written']} frames" in res["error"]
    )
    assert "file size limit" in res["error"] or "File too large" in res["error"]
    assert res["state"] == "failed" and res["progress_error"] and "failed" in res["events"]
    assert 0 < res["frames_written"] < 200
    da = open_series(path)
    assert da.shape[0] == res["frames_written"]
    assert np.all(np.diff(da.values[:, 0, 0].astype(int)) == 1)


@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1600k", "tmpfs", str(mnt)], capture_output=True
    ).returncode:
        message = (
            "cannot mount a tmpfs here (needs root); the file-size-limit test covers write errors"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message} — CI runs as root and must run this test")
        pytest.skip(message)
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_disk_full_stops_cleanly_and_keeps_frames(tiny_fs, spool, host):
    spool.dir_pattern = str(tiny_fs)
    h = spool.start(compression=None, shard_seconds=0.1, preflight_mode="skip")
    with pytest.raises(SpoolWriteError, match="No space left") as info:
        h.wait(timeout=30)
    assert "readable with labkit.open_series" in str(info.value)
    p = h.progress
    assert p.state == "failed" and p.frames_written >= 20 and "No space" in p.error
    assert any(ev.get("event") == "failed" for _, ev in host.events)
    if open_series_status(h.path) == "failed":
        da = open_series(h.path)
    else:  # the disk was too full for the final metadata: the journal still lists the frames
        with pytest.warns(IncompleteSeriesWarning):
            da = open_series(h.path)
    assert da.shape[0] == p.frames_written
    assert np.all(np.diff(da.values[:, 0, 0].astype(int)) == 1)


def open_series_status(path: Path) -> str:
    return json.loads((path / "zarr.json").read_text())["attributes"]["labkit"]["status"]


def test_source_closing_mid_series_keeps_frames(spool, host):
    h = spool.start(preflight_mode="skip")
    wait_until(lambda: h.progress.frames_written >= 10, timeout_s=30, what="10 frames written")
    host.close()  # the engine goes away (closes its ring)
    p = h.wait(timeout=30)
    assert p.state == "finished" and p.error and "closed" in p.error
    assert open_series(h.path).shape[0] == p.frames_written


def test_stalled_reader_never_slows_the_spool(spool, host):
    stalled = host.open_reader(name="live")  # a live view that never reads
    try:
        p = spool.start(max_frames=150, preflight_mode="skip").wait(timeout=30)
    finally:
        stalled.close()
    assert p.frames_written == 150 and p.frames_dropped == 0


def test_journaled_shard_missing_on_disk_is_left_out(spool):
    """A shard listed in the journal but gone (power cut before its sync) is not shown."""
    h = spool.start(max_frames=40, shard_seconds=0.05, preflight_mode="skip")  # 10-frame shards
    h.wait(timeout=30)
    root = json.loads((h.path / "zarr.json").read_text())
    root["attributes"]["labkit"]["status"] = "running"  # as if the process died
    (h.path / "zarr.json").write_text(json.dumps(root))
    (h.path / "0" / "c" / "3" / "0" / "0").unlink()  # the last shard never reached the disk
    with pytest.warns(IncompleteSeriesWarning):
        da = open_series(h.path)
    assert da.shape[0] == 30
