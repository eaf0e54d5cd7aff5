"""The offline example in docs/tracking.md runs as written and tracks what it says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracking.md"


def run_example(heading: str) -> dict:
    """Run the first python block under ``heading`` of the page; returns its namespace."""
    section = DOC.read_text(encoding="utf-8").split(heading, 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def test_the_offline_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it saves beads.zlut.h5 where it runs
    namespace = run_example("## Offline, in a few lines")
    beads, camera = namespace["beads"], namespace["camera"]
    assert beads.dims == ("time", "bead", "coord") and beads.sizes["time"] == 20
    assert beads.sizes["bead"] == camera.n_beads == 25 and (tmp_path / "beads.zlut.h5").exists()
    assert np.all(beads.sel(coord="quality") == 0)
    # bead0 is the reference: z stays at its first value, and the stage sat still at 0.3 µm
    assert np.allclose(beads.sel(coord="z").values, beads.sel(coord="z").values[0], atol=0.03)
    raw = namespace["lk"].track(namespace["frames"], namespace["rois"], namespace["zlut"])
    assert np.allclose(raw.sel(coord="z").values, 0.3, atol=0.05)


def test_the_live_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it saves scan.zlut.h5 where it runs
    namespace = run_example("## On a running scope")
    assert namespace["scope"].state.value == "closed" and (tmp_path / "scan.zlut.h5").exists()
    assert namespace["zlut"].z_um.size == 21 and len(namespace["zlut"].beads) == 9
    assert namespace["status"]["state"] == "searching" and namespace["status"]["bead"] == "bead0"
    channels = list(namespace["beads"].channel.values)
    assert channels[:4] == ["bead0_x", "bead0_y", "bead0_z", "bead0_quality"]
    assert channels[-3:] == ["bead0_x_raw", "bead0_y_raw", "bead0_z_raw"]
