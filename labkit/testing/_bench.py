"""Running a ``labkit bench`` suite as the CLI in a child process, for smoke tests.

A suite that drives Playwright cannot share a test process with the session's Playwright, and a
child process also proves the command line works as users type it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["run_bench_cli"]


def run_bench_cli(suite: str, workdir: Path, timeout_s: float = 600) -> tuple[dict[str, Any], str]:
    """``labkit bench <suite> --quick --json``: returns ``({name: result}, printed table)``.

    Raises:
        AssertionError: the command failed (the message holds the end of its stderr).
    """
    out = Path(workdir) / f"{suite}.json"
    run = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "bench", suite, "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return {r["name"]: r for r in json.loads(out.read_text())}, run.stdout
