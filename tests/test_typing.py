"""Type checkers see the public API: a user script is checked by mypy against the installed package.

``import labkit`` loads its names lazily; the ``TYPE_CHECKING`` imports beside the loader and
``py.typed`` are what let mypy (and pyright, and IDEs) see them. The second script holds mistakes
mypy must report: if the names fell back to ``Any``, it would report none.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import labkit

USER_SCRIPT = """
from pathlib import Path

import xarray as xr

import labkit as lk
import labkit.viewer as lv


def record(path: Path) -> xr.DataArray | xr.Dataset:
    scope: lk.Scope = lk.Scope()
    try:
        scope.camera.exposure_ms = 10
        scope.start()
        handle: lk.spool.SpoolHandle = scope.spool.start(max_frames=10)
        handle.wait()
        lk.show(handle.path)
        lv.watch("series")
        return lk.open_series(handle.path)
    except lk.LabkitError as exc:
        raise SystemExit(str(exc)) from exc
    finally:
        scope.close()


def tune(scope: lk.Scope) -> xr.DataArray:
    scope.camera.exposure_ms = 10
    scope.camera.roi = (0, 0, 256, 256)
    rate: float = scope.camera.frame_rate_hz
    height, width = scope.camera.shape
    x, y, z = scope.stage.move(z=5.0, wait=True)
    moving: bool = scope.stage.is_moving()
    channels: tuple[str, ...] = scope.signal.channels
    scope.signal.sample_rate_hz = rate * 10
    gain = scope.devices["camera"].gain  # a driver's own property: dynamic
    return scope.camera.snap()


def on_event(event: lk.wire.Event) -> None:
    prop = lk.engine.events.parse(event, lk.engine.events.PropertyEvent)
    if prop is not None:
        print(prop.device.upper(), prop.value)
    state = lk.engine.events.parse(event, lk.engine.events.StateEvent)
    if state is not None and state.state is lk.EngineState.FAILED:
        print(state.reason.strip())


state: lk.EngineState = lk.EngineState.READY
view_type: type[lk.LiveView] = lk.widgets.LiveView
window_type: type[lv.ViewerWindow] = lv.ViewerWindow
panel_type: type[lv.ManagerPanel] = lv.ManagerPanel
error_type: type[Exception] = lk.viewer.ManagerNotFoundError
"""

MISTAKES = """
import labkit as lk

lk.open_series(42)
lk.Scope().no_such_method()
lk.viewer.no_such_function()
lk.widgets.NoSuchWidget
x: int = lk.EngineState.READY
lk.Scope().camera.exposure = 10
lk.Scope().camera.exposure_ms = "10"
lk.Scope().camera.shape = (4, 4)
lk.Scope().stage.move(q=1.0)
s: str = lk.Scope().camera.snap()
n: int = lk.Scope().signal.channels
lk.Scope().signal.snap()
lk.engine.events.parse(lk.wire.Event(topic="state"), lk.engine.events.StateEvent).reason
"""


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory) -> subprocess.CompletedProcess[str]:
    """One ``mypy --strict`` run over both scripts (each test reads its own file's errors)."""
    root = tmp_path_factory.mktemp("typing")
    (root / "user_script.py").write_text(USER_SCRIPT, encoding="utf-8")
    (root / "mistakes.py").write_text(MISTAKES, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--strict", "user_script.py",
         "mistakes.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip


def _errors(out: subprocess.CompletedProcess[str], script: str) -> list[str]:
    assert "error" not in out.stderr.lower(), out.stderr  # mypy itself ran
    return [line for line in out.stdout.splitlines() if line.startswith(f"{script}:")]


def _type_checking_names(module) -> set[str]:
    """Names bound by the ``if TYPE_CHECKING:`` imports of a module's source."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom):
                    names |= {a.asname or a.name for a in imp.names}
    return names


@pytest.mark.parametrize("name", ["labkit", "labkit.widgets", "labkit.viewer"])
def test_every_lazy_name_is_listed_and_visible_to_type_checkers(name):
    import importlib

    module = importlib.import_module(name)
    lazy = set(getattr(module, "_LAZY", {})) | set(getattr(module, "_LAZY_WIDGETS", {}))
    lazy |= set(getattr(module, "_SUBMODULES", ()))
    assert lazy <= set(module.__all__)
    assert lazy <= _type_checking_names(module)


def test_package_is_marked_typed():
    assert (Path(labkit.__file__).parent / "py.typed").is_file()


@pytest.mark.slow
def test_a_user_script_type_checks_against_the_public_api(mypy_run):
    assert _errors(mypy_run, "user_script.py") == [], mypy_run.stdout


@pytest.mark.slow
def test_mistakes_against_the_public_api_are_reported(mypy_run):
    errors = "\n".join(_errors(mypy_run, "mistakes.py"))
    lines = {int(m) for m in re.findall(r"mistakes\.py:(\d+): error", errors)}
    # one error on each mistake's line (lines 4-16 of the script)
    assert lines == set(range(4, 17)), mypy_run.stdout
