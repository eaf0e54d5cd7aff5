"""The offline example in docs/tracking.md runs as written and tracks what it says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracking.md"


def test_the_offline_example_runs(tmp_path, monkeypatch):
    section = DOC.read_text(encoding="utf-8").split("## Offline, in a few lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # it saves beads.zlut.h5 where it runs
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    beads, camera = namespace["beads"], namespace["camera"]
    assert beads.dims == ("time", "bead", "coord") and beads.sizes["time"] == 20
    assert beads.sizes["bead"] == camera.n_beads == 25 and (tmp_path / "beads.zlut.h5").exists()
    assert np.all(beads.sel(coord="quality") == 0)
    # bead0 is the reference: z stays at its first value, and the stage sat still at 0.3 µm
    assert np.allclose(beads.sel(coord="z").values, beads.sel(coord="z").values[0], atol=0.03)
    raw = namespace["lk"].track(namespace["frames"], namespace["rois"], namespace["zlut"])
    assert np.allclose(raw.sel(coord="z").values, 0.3, atol=0.05)
