"""The README's notebook quick start runs as written (in a fresh interpreter, data under a temp HOME)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _quickstart_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Notebook quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README lost its quick-start code block"
    return match.group(1)


@pytest.mark.slow
def test_readme_quickstart_runs(tmp_path):
    code = _quickstart_block()
    assert len(code.strip().splitlines()) <= 12, "the quick start should stay about 10 lines"
    check = code + (
        "\nimport json\n"
        "series = lk.open_series(h.path)\n"
        "print(json.dumps({'dims': list(series.dims), 'frames': int(series.sizes['t']),"
        " 'state': str(scope.state)}))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=240
    )
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert '"frames": 100' in last and '"t"' in last, last
    # left open, as a notebook leaves it: the interpreter's exit closed it, no warning
    assert "running" in last and "was not closed" not in out.stderr, (last, out.stderr[-3000:])
    assert list((tmp_path / "labkit-data").rglob("*")), "the series should be under ~/labkit-data"
