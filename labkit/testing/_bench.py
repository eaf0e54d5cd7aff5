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


def run_bench_cli(suite: str, workdir: Path, timeout_s: float = 270) -> tuple[dict[str, Any], str]:
    """``labkit bench <suite> --quick --json``: returns ``({name: result}, printed table)``.

    ``timeout_s`` stays below the suite's 300 s test timeout, so a run that does not finish is
    reported with its progress lines instead of being cut off silently.

    Raises:
        AssertionError: the command failed or did not finish (the message holds the end of its
            stderr, where the suites print their progress).
    """
    out = Path(workdir) / f"{suite}.json"
    try:
        run = subprocess.run(
            [sys.executable, "-m", "labkit.cli", "bench", suite, "--quick", "--json", str(out)],
            capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:  # killed; its servers and browsers die with it
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        raise AssertionError(
            f"labkit bench {suite} --quick did not finish in {timeout_s:.0f} s; "
            f"its stderr so far:\n{(err or '')[-3000:]}"
        ) from None
    assert run.returncode == 0, run.stderr[-3000:]
    return {r["name"]: r for r in json.loads(out.read_text())}, run.stdout
