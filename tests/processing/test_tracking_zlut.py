"""ZLUT: built from a focus scan, its quality figures, and its versioned file round trip."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr
from tracking_sim import ROI_SIZE, SHAPE, TABLE_Z_UM, make_camera, move, rois_for

from labkit.processing import Roi
from labkit.processing.tracking import ZLUT, ZLUTBuilder, ZLUTFormatError


def test_table_from_a_scan_has_normalised_profiles_and_quality(zlut):
    assert zlut.beads == tuple(f"bead{i}" for i in range(9)) and not zlut.shared
    assert zlut.profiles.shape == (9, TABLE_Z_UM.size, (ROI_SIZE // 2 - 1) * 4)
    np.testing.assert_allclose(zlut.z_um, TABLE_Z_UM)
    assert zlut.step_um == pytest.approx(0.05)
    w = zlut.weights / zlut.weights.sum()
    np.testing.assert_allclose((zlut.profiles * w).sum(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose((zlut.profiles**2 * w).sum(axis=-1), 1, atol=1e-4)
    assert np.all(zlut.frames == 4)
    assert np.all(np.isfinite(zlut.z_noise_nm)) and 0.2 < np.median(zlut.z_noise_nm) < 15
    # neighbouring planes differ more than a plane's noise: the table resolves 50 nm
    step = np.sqrt(((np.diff(zlut.profiles, axis=1)) ** 2 * w).sum(axis=-1))
    assert step.min() > 0.01
    assert "9 beads, 61 planes" in repr(zlut)


def test_file_round_trip_keeps_everything(zlut, tmp_path):
    path = tmp_path / "beads.zlut.h5"
    zlut.save(path)
    back = ZLUT.load(path)
    np.testing.assert_array_equal(back.profiles, zlut.profiles)
    np.testing.assert_array_equal(back.z_um, zlut.z_um)
    np.testing.assert_array_equal(back.frames, zlut.frames)
    np.testing.assert_array_equal(back.z_noise_nm, zlut.z_noise_nm)
    np.testing.assert_array_equal(back.rois, zlut.rois)
    assert back.beads == zlut.beads and (back.roi_size, back.oversample) == (50, 4)
    with h5py.File(path, "r") as f:  # plain HDF5 underneath, with coordinates and the version
        assert f.attrs["format"] == "labkit.zlut" and f.attrs["format_version"] == 1
        assert f["profile"].shape == zlut.profiles.shape and "z" in f and "bead" in f
    ds = xr.open_dataset(path, engine="h5netcdf")
    try:
        assert ds["profile"].dims == ("bead", "z", "radius") and ds["z"].attrs["units"] == "µm"
    finally:
        ds.close()
    shared = zlut.shared_table()
    shared.save(path)
    assert ZLUT.load(path).shared and list(ZLUT.load(path).rows_for(["any", "name"])) == [0, 0]


def test_newer_or_foreign_files_are_refused_with_what_to_do(zlut, tmp_path):
    newer = zlut.to_dataset()
    newer.attrs["format_version"] = 2
    newer.to_netcdf(tmp_path / "newer.h5", engine="h5netcdf")
    with pytest.raises(
        ZLUTFormatError, match="version 2, written by a newer labkit.*pip install -U"
    ):
        ZLUT.load(tmp_path / "newer.h5")
    xr.Dataset({"a": ("x", [1, 2])}).to_netcdf(tmp_path / "other.h5", engine="h5netcdf")
    with pytest.raises(ZLUTFormatError, match="not a labkit z table"):
        ZLUT.load(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ZLUTFormatError, match="not netCDF-4/HDF5"):
        ZLUT.load(tmp_path / "text.h5")
    with pytest.raises(FileNotFoundError, match="no z table at"):
        ZLUT.load(tmp_path / "missing.h5")


def test_builder_refuses_short_scans_and_lost_beads():
    camera, stage = make_camera()
    rois = rois_for(camera)[:2]
    with ZLUTBuilder(rois, SHAPE) as builder:
        for z in (0.0, 0.05):
            move(stage, z=z)
            builder.add(camera.snap()[0], z)
        with pytest.raises(ValueError, match="3 or more z positions, got 2"):
            builder.build()
    lost = [rois[0], Roi("nothing", 0, 0, ROI_SIZE, ROI_SIZE)]  # no bead at the corner
    assert np.linalg.norm(camera.bead_positions_px() - 24.5, axis=1).min() > 25
    with ZLUTBuilder(lost, SHAPE) as builder:
        for z in (0.0, 0.05, 0.1):
            move(stage, z=z)
            quality = builder.add(camera.snap()[0], z)
        assert quality[0] == 0 and quality[1] != 0
        with pytest.raises(ValueError, match=r"no good frame .*\('nothing', 0.0\)"):
            builder.build()


def test_from_stack_matches_the_builder_and_checks_its_input():
    camera, stage = make_camera()
    rois = rois_for(camera)[:3]
    frames, zs = [], []
    for z in (-0.1, -0.05, 0.0, 0.05, 0.1):
        move(stage, z=z)
        for _ in range(2):
            frames.append(camera.snap()[0])
            zs.append(z)
    table = ZLUT.from_stack(np.stack(frames), zs, rois)
    assert table.z_um.size == 5 and np.all(table.frames == 2) and table.beads[:1] == ("bead0",)
    with pytest.raises(ValueError, match="10 frames but 3 z values"):
        ZLUT.from_stack(np.stack(frames), zs[:3], rois)
    with pytest.raises(ValueError, match="strictly increasing"):
        ZLUT([0, 0, 1], np.zeros((1, 3, 96)), ["a"], roi_size=50)
    with pytest.raises(ValueError, match=r"\(beads, planes, bins\) = \(1, 3, 96\)"):
        ZLUT([0, 1, 2], np.zeros((1, 3, 95)), ["a"], roi_size=50)
