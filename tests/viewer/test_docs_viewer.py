"""The window example in docs/viewer.md runs as written (no browser: the widget is made, not shown)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "viewer.md"


def test_the_windows_example_runs():
    section = DOC.read_text(encoding="utf-8").split("## Windows", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    widget = namespace["ViewerWindow"](namespace["windows"], namespace["cut"].uid)
    try:
        assert widget.view["image_dims"] == ["energy", "kx"] and widget.view["bins"]["ky"] == 5
        assert [w["name"] for w in widget.info["linked_with"]] == ["map"]
    finally:
        widget.close()
