"""Package-level promises: import has no side effects, the CLI dispatches, layers and lint hold."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import json, os, sys, threading
before_fds = set(os.listdir("/proc/self/fd"))
before_threads = threading.active_count()
import labkit, labkit.devices, labkit.buffers, labkit.wire, labkit.engine, labkit.spool, labkit.viewer, labkit.widgets
after_fds = set(os.listdir("/proc/self/fd"))
heavy = [m for m in ("bqplot", "anywidget", "tensorstore", "zarr", "h5py", "dask", "playwright") if m in sys.modules]
print(json.dumps({"threads": threading.active_count() - before_threads,
                  "new_fds": sorted(after_fds - before_fds), "heavy": heavy,
                  "shm": [n for n in os.listdir("/dev/shm")
                          if n.startswith((f"labkit-{os.getpid()}-", f"labkit_{os.getpid()}_"))]}))
"""


def test_import_has_no_side_effects():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["threads"] == 0, report
    # listing /proc/self/fd opens one fd per listdir call; anything else would be a file or socket
    assert len(report["new_fds"]) <= 1, report
    assert report["heavy"] == [], f"heavy optional modules imported eagerly: {report['heavy']}"
    assert report["shm"] == [], f"importing labkit created shared memory: {report['shm']}"


def test_cli_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("demo", "manager", "engine", "bench", "repair"):
        assert command in out.stdout


def test_cli_unknown_command_says_what_to_do():
    out = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "frobnicate"], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "unknown command 'frobnicate'" in out.stderr and "usage: labkit" in out.stderr


def test_public_names_resolve():
    import labkit

    for name in labkit.__all__:
        assert getattr(labkit, name) is not None, name


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run the README install command (pip install -e '.[dev]')"
        )
    return path


def test_import_layers_hold():
    out = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_lint_clean():
    out = subprocess.run(
        [_tool("ruff"), "check", "labkit", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_pickle_near_the_wire():
    offenders = []
    for path in (ROOT / "labkit").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in (
            "import pickle",
            "from pickle",
            "cloudpickle",
            "send_pyobj",
            "recv_pyobj",
            "pickle.loads",
        ):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_ruff_format_clean():
    out = subprocess.run(
        [_tool("ruff"), "format", "--check", "labkit", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_mypy_clean():
    out = subprocess.run([_tool("mypy"), "labkit"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
