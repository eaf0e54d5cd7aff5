"""Record real series through a real FrameRing and read them back."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

import labkit as lk
from labkit.spool import SeriesExistsError, SpoolError, open_series
from labkit.testing import wait_until


def test_zarr_series_roundtrip_readable_by_zarr_python(spool, host):
    h = spool.start(max_frames=40, preflight_mode="skip")
    p = h.wait(timeout=30)
    assert p.state == "finished" and p.frames_written == 40 and p.frames_dropped == 0
    assert h.path.name.endswith("_A.ome.zarr")
    da = lk.open_series(h.path)
    assert da.dims == ("t", "y", "x") and da.shape == (40, 128, 128)
    idx = da.values[:, 0, 0].astype(int)
    assert np.all(np.diff(idx) == 1), "frames must be consecutive ring frames in order"
    assert np.array_equal(da.values[3, 1:, :], host._base[idx[3] % 4][1:, :])
    assert da.attrs["status"] == "complete" and da.attrs["labkit_version"] == lk.__version__
    assert float(da.x[1] - da.x[0]) == pytest.approx(0.5)
    assert np.all(np.diff(da.t.values) > 0)
    # third-party reader: zarr-python sees the same pixels and the OME metadata
    root = zarr.open_group(str(h.path), mode="r")
    assert root.attrs["ome"]["version"] == "0.5"
    assert np.array_equal(root["0"][:], da.values)


def test_uncompressed_and_zstd(spool):
    for comp in (None, "blosc-zstd:1"):
        h = spool.start(max_frames=10, compression=comp, preflight_mode="skip")
        h.wait(timeout=30)
        da = open_series(h.path)
        assert da.shape[0] == 10
        meta = json.loads((h.path / "0" / "zarr.json").read_text())
        inner = meta["codecs"][0]["configuration"]["codecs"]
        assert len(inner) == (1 if comp is None else 2)
    names = {p.name[-11:] for p in h.path.parent.iterdir() if p.is_dir()}
    assert names == {"_A.ome.zarr", "_B.ome.zarr"}


@pytest.mark.parametrize("method", ["hdf5", "tiff"])
def test_single_file_methods(spool, method):
    h = spool.start(max_frames=12, method=method, compression=None, preflight_mode="skip")
    h.wait(timeout=30)
    da = open_series(h.path)
    assert da.shape == (12, 128, 128)
    idx = da.values[:, 0, 0].astype(int)
    assert np.all(np.diff(idx) == 1)
    assert da.attrs["status"] == "complete" and da.attrs["method"] == method
    if method == "tiff":  # an OME-TIFF once closed, readable by tifffile as (t, y, x)
        import tifffile

        with tifffile.TiffFile(h.path) as tif:
            assert (
                tif.is_ome and tif.series[0].axes == "TYX" and tif.series[0].shape == (12, 128, 128)
            )


def test_z_stack_moves_stage_and_records_z(spool, host):
    h = spool.start(
        max_frames=12,
        z_stepped=True,
        z_dwell=2,
        z_start_um=0,
        z_stop_um=2,
        z_step_um=1,
        preflight_mode="skip",
    )
    h.wait(timeout=30)
    da = open_series(h.path)
    assert da.dims == ("t", "z", "y", "x") and da.shape == (4, 3, 128, 128)
    assert list(da.z.values) == [0.0, 1.0, 2.0]
    assert host.moves[:6] == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    assert np.array_equal(da.frame_z_um.values, np.tile([0.0, 1.0, 2.0], (4, 1)))
    # zarr stores the 4D array natively
    assert zarr.open_array(str(h.path / "0"), mode="r").shape == (4, 3, 128, 128)


def test_protocol_tasks_run_at_frames(spool, host):
    calls = []
    h = spool.start(
        max_frames=20,
        preflight_mode="skip",
        protocol=[
            (0, calls.append, "start"),
            (10, host.set_property, "camera", "exposure_ms", 7.0),
        ],
    )
    h.wait(timeout=30)
    assert calls == ["start"] and host.props == [("camera", "exposure_ms", 7.0)]
    da = open_series(h.path)
    assert da.exposure_ms.values[0] == 5.0 and da.exposure_ms.values[-1] == 7.0


def test_names_never_reused_and_existing_name_raises(spool):
    h = spool.start(fn="mine", max_frames=2, preflight_mode="skip")
    h.wait(timeout=30)
    with pytest.raises(SeriesExistsError, match="never overwrites"):
        spool.start(fn="mine", max_frames=2, preflight_mode="skip")
    assert spool.series_name.endswith("_A")


def test_bad_settings_raise_clear_errors(spool):
    with pytest.raises(SpoolError, match="valid keys"):
        spool.update_settings({"maxframes": 3})
    with pytest.raises(SpoolError, match="None = uncompressed"):
        spool.start(method="tiff", compression="lz4")
    with pytest.raises(SpoolError, match="unknown"):
        spool.update_settings(method="jpeg")
    assert spool.get_settings()["method"] == "zarr"


def test_stop_keeps_frames_and_closes(spool):
    h = spool.start(preflight_mode="skip")  # no max_frames: runs until stop
    wait_until(lambda: h.progress.frames_written >= 20, timeout_s=60, what="20 frames written")
    p = h.stop()
    assert p.state == "finished" and p.frames_written >= 20 and p.frames_written == p.frames_read
    da = open_series(h.path)
    assert da.shape[0] == p.frames_written
    assert any(ev["event"] == "started" for _, ev in spool.host.events)


def test_xarray_open_zarr_reads_the_series_without_warnings(spool):
    import xarray as xr

    h = spool.start(max_frames=12, preflight_mode="skip")
    h.wait(timeout=30)
    # warnings are errors here; chunks=None: no dask (its thread pool would outlive the test)
    ds = xr.open_zarr(str(h.path), consolidated=False, zarr_format=3, chunks=None)
    assert ds["0"].dims == ("t", "y", "x") and ds["0"].shape == (12, 128, 128)
    assert np.array_equal(ds["0"].values, open_series(h.path).values)


@pytest.mark.parametrize("compression", [None, "lz4"])
def test_hdf5_is_readable_while_written(spool, host, compression):
    """SWMR (also with the Blosc filter): another process reads the frames of a series that is
    still recording."""
    import subprocess
    import sys

    h = spool.start(
        method="hdf5", compression=compression, shard_seconds=0.05, preflight_mode="skip"
    )
    try:
        wait_until(lambda: h.progress.frames_written >= 20, timeout_s=30, what="20 frames written")
        code = (
            "import h5py, hdf5plugin, sys\n"
            "with h5py.File(sys.argv[1], 'r', swmr=True) as f:\n"
            "    d = f['data']; d.refresh(); n = d.shape[0]\n"
            "    print(n, int(d[n - 1, 0, 0]), int(d[0, 0, 0]), int(d[n - 1].std() > 1))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(h.path)], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        n, last, first, textured = (int(x) for x in out.stdout.split())
        assert n >= 20 and h.state == "running"
        assert last - first == n - 1 and textured == 1  # real decoded frames, in order
    finally:
        h.stop()
    assert open_series(h.path).shape[0] >= n


@pytest.mark.parametrize("compression", [None, "lz4"])
def test_o_direct_refused_mid_write_falls_back_to_the_page_cache(
    spool, host, monkeypatch, compression
):
    """Some filesystems open with O_DIRECT but refuse the writes (EINVAL): the shard goes on
    through the page cache, nothing is lost (this machine's ext4 takes O_DIRECT, tmpfs refuses
    it at open, which the disk-full test covers)."""
    import errno
    import fcntl
    import os

    real = os.pwrite
    refused = []

    def pwrite(fd, data, offset):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    h = spool.start(max_frames=30, compression=compression, preflight_mode="skip")
    p = h.wait(timeout=30)
    assert refused, "the shard file was opened with O_DIRECT"
    assert p.frames_written == 30 and p.frames_dropped == 0
    da = open_series(h.path)
    assert np.all(np.diff(da.values[:, 0, 0].astype(int)) == 1)
    assert np.array_equal(zarr.open_array(str(h.path / "0"), mode="r")[:], da.values)


@pytest.mark.parametrize("compression", [None, "lz4"])
def test_frames_of_any_size_roundtrip_with_aligned_writes(tmp_path, compression):
    """Frames whose size is not a multiple of 4 KiB (O_DIRECT's unit): the last partial page goes
    through the bounce buffer (direct mode) or the padding (compressed); zarr-python agrees."""
    from spool_host import SimHost

    from labkit.spool import SpoolController

    with SimHost(shape=(100, 123)) as host:
        ctl = SpoolController(host, dir_pattern=str(tmp_path))
        h = ctl.start(max_frames=25, compression=compression, preflight_mode="skip")
        assert h.wait(timeout=30).frames_written == 25
        da = open_series(h.path)
        assert da.shape == (25, 100, 123)
        idx = da.values[:, 0, 0].astype(int)
        assert np.all(np.diff(idx) == 1)
        assert np.array_equal(da.values[7, 1:, :], host._base[idx[7] % 4][1:, :])
        assert np.array_equal(zarr.open_array(str(h.path / "0"), mode="r")[:], da.values)


@contextlib.contextmanager
def _held_by_another_process(path, open_args: str):
    """Another process has the HDF5 file open (``h5py.File(path, <open_args>)``) inside."""
    code = (
        "import h5py, sys\n"
        f"f = h5py.File({str(path)!r}, {open_args})\n"
        "print('open', flush=True)\nsys.stdin.readline()\nf.close()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout.readline().strip() == "open"
            yield
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()


def test_an_hdf5_series_finishes_while_another_process_reads_it(tmp_path):
    """Finishing reopens the file to write its attributes, which HDF5's file lock refuses while
    another process reads it (map_series following the series failed the spool under load):
    the writer waits for the reader to let go, then finishes."""
    import threading

    from labkit.spool._hdf5_open import LockWaits

    waits_before = LockWaits.count
    with lk.Scope(shape=(32, 32)) as scope:
        scope.start()
        # no max_frames: the series finishes only when stopped, after the reader holds the file
        h = scope.spool.start(tmp_path / "held", method="hdf5", preflight_mode="skip")
        wait_until(lambda: Path(h.path).exists(), what="the series file")
        stopper = threading.Thread(target=h.stop, name="test-stop-series")
        with _held_by_another_process(h.path, "'r', swmr=True"):
            stopper.start()
            # the writer reached finish() and found the file held: it waits, does not fail
            wait_until(lambda: LockWaits.count > waits_before, timeout_s=60,
                       what="the writer waiting for the reader")  # fmt: skip
            assert h.state.value not in ("failed", "finished")
        stopper.join(90)
        assert h.state.value == "finished", h.error
        assert lk.open_series(h.path).sizes["t"] == h.progress.frames_written > 0


def test_reading_an_hdf5_series_waits_while_its_writer_holds_the_file(tmp_path):
    """Finishing a series holds the file read-write for a moment (its attributes), and HDF5's
    lock refused readers meanwhile: map_series following the series failed under load. A
    reader now waits for the lock instead."""
    import threading

    from labkit.spool._hdf5_open import LockWaits

    with lk.Scope(shape=(32, 32)) as scope:
        scope.start()
        h = scope.spool.start(tmp_path / "held", method="hdf5", max_frames=5, preflight_mode="skip")
        h.wait(timeout=60)
    waits_before = LockWaits.count
    read: list = []
    reader = threading.Thread(
        target=lambda: read.append(lk.open_series(h.path).values), name="test-read-series"
    )
    with _held_by_another_process(h.path, "'r+'"):  # what finish() does: an exclusive lock
        reader.start()
        wait_until(lambda: LockWaits.count > waits_before, timeout_s=60,
                   what="the reader waiting for the lock")  # fmt: skip
        assert reader.is_alive() and read == []  # waiting, not failed
    reader.join(60)
    assert len(read) == 1 and read[0].shape == (5, 32, 32)
