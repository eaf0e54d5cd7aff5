"""Settings, naming, estimates and the measured preflight."""

from __future__ import annotations

import pytest

import labkit.spool
from labkit.spool import SpoolController, SpoolError, SpoolPreflightError
from labkit.spool._naming import letters_to_num, next_series_name, num_to_letters


def test_letter_counter_never_repeats():
    names = [num_to_letters(i) for i in range(26 * 27)]
    assert names[:3] == ["A", "B", "C"] and names[25] == "Z" and names[26] == "BA"
    assert len(set(names)) == len(names)
    assert all(letters_to_num(s) == i for i, s in enumerate(names))


def test_series_names_skip_existing_of_any_method(tmp_path):
    (tmp_path / "s_A.ome.zarr").mkdir()
    (tmp_path / "s_C.h5").write_bytes(b"")
    assert next_series_name(tmp_path, "s") == "s_D"


def test_dirname_patterns_and_free_space(spool, tmp_path):
    spool.dir_pattern = str(tmp_path / "%(year)d_%(month)02d_%(day)02d")
    d = spool.dirname
    assert d.startswith(str(tmp_path)) and len(d.rsplit("/", 1)[1]) == 10
    assert spool.get_dirname("cells").endswith("/cells")
    assert spool.get_free_space() > 0.01  # GB, of the nearest existing parent
    spool.series_pattern = "%(day)d_%(month)d_series"
    assert spool.series_name.endswith("_series_A")
    with pytest.raises(ValueError, match="unknown key"):
        spool.dir_pattern = "%(planet)s"
        _ = spool.dirname


def test_estimate_spool_time(spool, host):
    assert spool.estimate_spool_time() is None  # runs until stop()
    assert spool.estimate_spool_time(max_frames=400) == pytest.approx(400 / host.rate_hz)
    t = spool.estimate_spool_time(max_frames=400, z_stepped=True, z_dwell=4)
    assert t == pytest.approx((400 + 100) / host.rate_hz)


def test_settings_persist_and_copy(spool):
    spool.update_settings({"max_frames": 7, "compression": "zstd"})
    s = spool.get_settings()
    assert s["max_frames"] == 7 and s["compression"] == {
        "codec": "blosc-zstd",
        "level": 1,
        "shuffle": True,
    }
    s["max_frames"] = 9
    assert spool.get_settings()["max_frames"] == 7
    assert spool.available_spool_methods == ["zarr", "hdf5", "tiff"]


def test_preflight_measures_and_aborts_when_the_disk_is_too_slow(spool, host):
    host.rate_hz = 1e7  # 10 M fps of 32 KB frames: no disk keeps up
    with pytest.raises(
        SpoolPreflightError, match="the disk writes .* MB/s but the series needs"
    ) as info:
        spool.start(compression=None)  # no max_frames: no buffer holds the series
    assert any(ok and "write test" in msg for ok, msg in info.value.checks)
    assert not list(host.events)  # nothing started
    assert not any(p.suffix == ".zarr" for p in spool_dir(spool).glob("*"))


def test_preflight_free_space_and_custom_checks(spool, host):
    with pytest.raises(SpoolPreflightError, match="free space"):
        spool.start(max_frames=10**12)
    with pytest.raises(SpoolPreflightError, match="laser is off"):
        spool.start(max_frames=5, protocol=_protocol_with_check())
    # "interactive" without a notebook front end falls back to abort, and says so
    with pytest.raises(SpoolPreflightError, match="(?s)Nobody could be asked.*SpoolPanel"):
        spool.start(max_frames=5, protocol=_protocol_with_check(), preflight_mode="interactive")


def test_interactive_preflight_asks_through_a_confirm_callable(spool):
    asked = []

    def confirm(report, on_confirm, on_cancel):
        asked.append(report)
        on_confirm()  # "Record anyway", as a front end would after a click
        return True

    h = spool.start(
        max_frames=5, protocol=_protocol_with_check(), preflight_mode="interactive", confirm=confirm
    )
    assert h.wait(timeout=30).frames_written == 5
    (report,) = asked
    assert (False, "laser is off") in [(ok, msg) for ok, msg in report.checks]

    # a confirm that cannot ask falls back to abort
    with pytest.raises(SpoolPreflightError, match="laser is off"):
        spool.start(
            max_frames=5,
            protocol=_protocol_with_check(),
            preflight_mode="interactive",
            confirm=lambda *a: False,
        )


def test_preflight_warn_records_anyway(spool, host):
    h = spool.start(max_frames=5, protocol=_protocol_with_check(), preflight_mode="warn")
    assert h.wait(timeout=30).frames_written == 5
    assert any(e.get("event") == "preflight_warning" for _, e in host.events)
    assert h.preflight.measured["write_bytes_s"] > 0 and h.preflight.measured["ratio"] > 1.2


def _protocol_with_check():
    from labkit.spool import AcquisitionProtocol

    return AcquisitionProtocol(preflight=[lambda: (False, "laser is off")])


def spool_dir(ctl: SpoolController):
    from pathlib import Path

    return Path(ctl.dirname)


def test_register_acquisition_type(spool):
    from labkit.spool._zarr import ZarrSink

    class LabeledZarr(ZarrSink):
        ext = ".lab.zarr"

    spool.register_acquisition_type("labeled", LabeledZarr)
    assert "labeled" in spool.available_spool_methods
    h = spool.start(max_frames=4, method="labeled", preflight_mode="skip")
    h.wait(timeout=30)
    assert h.path.name.endswith(".lab.zarr") and (h.path / "0" / "zarr.json").exists()
    assert spool.series_name.endswith("_B")  # custom extensions count as used names
    with pytest.raises(SpoolError, match=r"object lacks begin\(\); see labkit.spool.FrameSink"):
        spool.register_acquisition_type("broken", object)
    assert labkit.spool.FrameSink.__doc__  # the protocol the message names exists


def test_builtin_sinks_are_frame_sinks(tmp_path):
    from labkit.spool import Layout
    from labkit.spool._blocks import Compressor
    from labkit.spool._sinks import SINKS

    layout = Layout.plan((60, 50), "uint16", 100.0)
    none = Compressor({"codec": "none", "level": 0})
    direct = {}
    for method, cls in SINKS.items():
        sink = cls(tmp_path / f"s{cls.ext}", layout, none, False)
        assert isinstance(sink, labkit.spool.FrameSink), method
        direct[method] = isinstance(sink, labkit.spool.DirectFrameSink)
    assert direct == {"zarr": True, "hdf5": False, "tiff": False}


def test_preflight_checks_buffering(spool, host):
    h = spool.start(max_frames=300)  # abort mode: every check passes
    h.wait(timeout=30)
    assert h.preflight.measured["buffer_s"] > 0.5 and h.preflight.ok
    with pytest.raises(SpoolPreflightError, match="raise queue_shards"):
        spool.start(
            max_frames=300, queue_shards=2, shard_max_mb=0.05
        )  # 2 one-frame shards + 32 slots


def test_preflight_accepts_only_what_the_end_to_end_test_sustained(spool, host):
    """The accepted rate comes from an end-to-end run (copy + codec threads + write + fdatasync),
    not from the codec alone or a burst the page cache absorbs; a rate above it is refused with
    the measured figures in the message."""
    h = spool.start(max_frames=5, compress_threads=2, preflight_mode="warn")
    h.wait(timeout=30)
    m = h.preflight.measured
    assert m["pipeline_fps"] > 0 and m["ratio"] > 1.2
    write_fps = m["write_bytes_s"] * m["ratio"] / (128 * 128 * 2)
    assert 0 < m["accepted_rate_hz"] <= 0.8 * min(m["pipeline_fps"], write_fps) * 1.0001
    text = h.preflight.text()
    assert "end-to-end spool test (copy + blosc-lz4 on 2 thread(s) + write + fdatasync" in text
    assert "sustained" in text  # the write test says it is a sustained figure

    host.rate_hz = 1e7  # far above anything measured: must be refused, naming the figures
    with pytest.raises(
        SpoolPreflightError, match=r"the spool sustained \d+ fps end to end here"
    ) as info:
        spool.start()  # no max_frames: the buffers cannot hold the series
    refused = [msg for ok, msg in info.value.checks if not ok and "end to end" in msg]
    assert refused and "1e+07 fps is above 80% of it" in refused[0]


def test_a_series_the_buffers_hold_whole_passes_at_any_rate(spool, host):
    """A short series fits in the ring + shard pool: a spool slower than the camera still
    records every frame (it finishes later), so the rate is no reason to refuse it — on a busy
    machine the default "abort" preflight used to refuse a 20-frame series."""
    host.rate_hz = 1e7
    h = spool.start(max_frames=5)  # abort mode: would raise on a failed check
    h.wait(timeout=30)
    assert h.state.value == "finished" and h.preflight.ok
    rate = [msg for ok, msg in h.preflight.checks if msg.startswith("rate:")]
    assert len(rate) == 1 and "hold all 5 frames of the series, so none is dropped" in rate[0]
    assert "finishes about" in rate[0]  # 1e7 fps: the spool trails the camera, and says so
