"""A complete series whose per-frame columns live only in the journal opens without warnings."""

from __future__ import annotations

import numpy as np

from labkit.spool import _controller, open_series


def test_per_frame_columns_from_journal_when_too_many_for_attrs(spool, monkeypatch):
    monkeypatch.setattr(_controller, "MAX_FRAMES_IN_ATTRS", 10)
    h = spool.start(max_frames=30, preflight_mode="skip")
    h.wait(timeout=30)
    da = open_series(h.path)  # warnings are errors: this must not warn
    assert da.attrs["status"] == "complete" and da.shape[0] == 30
    assert np.isfinite(da.timestamp_s.values).all()
