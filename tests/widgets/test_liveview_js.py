"""The front end: node unit tests and the TypeScript check run from pytest, and the wheel ships
the built bundle (built from a clean copy by the hatch-jupyter-builder hook)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "js"

if shutil.which("npm") is None:  # the install builds js/ with npm, so it is a prerequisite
    raise RuntimeError("node/npm not found: install Node >= 18 with npm (README prerequisites)")


def _ensure_node_modules() -> None:
    """`pip install -e .` installs js/node_modules; do it here when the build hook was skipped."""
    if not (JS / "node_modules" / "esbuild").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            check=True,
            capture_output=True,
            timeout=300,
        )


def _npm(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    _ensure_node_modules()
    return subprocess.run(["npm", *args], cwd=JS, capture_output=True, text=True, timeout=timeout)


def test_js_unit_tests_pass():
    result = _npm("test")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "# fail 0" in out and "# pass " in out
    passed = int(out.split("# pass ")[1].split()[0])
    assert passed >= 20


def test_typescript_typechecks():
    result = _npm("run", "typecheck")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.slow
def test_wheel_built_from_a_clean_tree_contains_the_bundle(tmp_path):
    src = tmp_path / "src"
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    assert not (src / "labkit" / "static").exists()
    _ensure_node_modules()
    (src / "js" / "node_modules").symlink_to(
        JS / "node_modules"
    )  # offline: reuse the installed deps
    out = tmp_path / "wheels"
    # offline when the build backend is installed here; else pip fetches it into an isolated env
    have_backend = all(importlib.util.find_spec(m) for m in ("hatchling", "hatch_jupyter_builder"))
    isolation = ["--no-build-isolation"] if have_backend else []
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    (wheel,) = out.glob("labkit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entries = sorted(f.stem for f in (JS / "src" / "entries").glob("*.ts"))
        assert {"liveview", "form", "tracecanvas", "viewer"} <= set(entries)
        missing = [e for e in entries if f"labkit/static/{e}.js" not in names]
        assert not missing, f"bundles missing from the wheel: {missing}"
        bundle = zf.read("labkit/static/liveview.js").decode()
    assert "usampler2D" in bundle and "R16UI" in bundle  # the WebGL2 integer-texture renderer
    assert "export" in bundle  # an ES module anywidget can import
