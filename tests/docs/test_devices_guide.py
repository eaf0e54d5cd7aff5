"""docs/devices.md runs as written: its ``# file:`` blocks become the files a driver author writes
(``acme_rig.py``, ``test_acme_rig.py``), then every other block runs in order as the reader would run
it — python blocks in one namespace, shell lines as commands (``labkit engine`` stays up until the
end, ``pytest`` must pass) — and every engine, scope and server is closed afterwards."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "devices.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
_FILE = re.compile(r"# file: (\S+)\n")
_PROGRAMS = {"labkit": ["-m", "labkit.cli"], "pytest": ["-m", "pytest", "-p", "no:cacheprovider"]}

pytestmark = pytest.mark.slow


def _split(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``{file name: its code}`` from the ``# file:`` blocks, and the other blocks in order."""
    files: dict[str, str] = {}
    steps: list[tuple[str, str]] = []
    for lang, code in _BLOCK.findall(text):
        assert lang in ("python", "bash"), f"{DOC.name}: teach this test to run {lang} blocks"
        named = _FILE.match(code)
        if lang == "python" and named:
            files[named.group(1)] = files.get(named.group(1), "") + code[named.end() :] + "\n\n"
        else:
            steps.append((lang, code))
    return files, steps


def _command(line: str) -> list[str]:
    program, *args = shlex.split(line)
    assert program in _PROGRAMS, f"{DOC.name}: teach this test to run {program!r}"
    return [sys.executable, *_PROGRAMS[program], *args]


def _serve(line: str, cwd: Path, env: dict) -> subprocess.Popen:
    """Start a ``labkit engine`` line; returns once it says where it serves."""
    with (cwd / "engine-stderr.txt").open("w") as stderr:  # the child has its own copy
        proc = subprocess.Popen(
            _command(line), cwd=cwd, env=env, stdout=subprocess.PIPE, text=True, stderr=stderr
        )
    first = proc.stdout.readline()
    assert "serving on " in first, (first, (cwd / "engine-stderr.txt").read_text()[-3000:])
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # what Ctrl-C does for a terminal
        proc.wait(30)
    proc.stdout.close()


def test_every_block_of_the_driver_guide_runs(tmp_path, monkeypatch, capsys):
    files, steps = _split(DOC.read_text(encoding="utf-8"))
    assert {"acme_rig.py", "test_acme_rig.py"} <= set(files)
    work = tmp_path / "work"
    work.mkdir()
    for name, code in files.items():
        (work / name).write_text(code, encoding="utf-8")
    runtime = tmp_path / "runtime"  # connection files of this test's engine only
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(runtime))
    monkeypatch.syspath_prepend(str(work))
    monkeypatch.chdir(work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    namespace: dict = {"__name__": "devices_guide"}
    servers: list[subprocess.Popen] = []
    try:
        for number, (lang, code) in enumerate(steps, 1):
            if lang == "python":
                exec(compile(code, f"{DOC}, block {number}", "exec"), namespace)  # noqa: S102
                continue
            for line in code.strip().splitlines():
                if line.startswith("labkit engine"):
                    servers.append(_serve(line, work, env))
                    continue
                done = subprocess.run(
                    _command(line), cwd=work, env=env, capture_output=True, text=True, timeout=240
                )
                assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
                print(done.stdout)
    finally:
        for proc in servers:
            _stop(proc)
        for module in ("acme_rig", "test_acme_rig"):
            sys.modules.pop(module, None)
    out = capsys.readouterr().out
    for shown in (  # what the comments in the guide say these blocks print
        "(480, 640) uint16",
        "(240, 320)",
        "PropertyLimitError: power_mw=150 is above the limit 100 mW of AcmeLaser 'laser'",
        "PropertyLimitError: wavelength_nm=405 of AcmeLaser 'laser' would run the 405 nm line",
        "80.0 488",
        "['dark_level'] Arguments: (frames: int=10)",
        "100% frame 3 of 3",
        "[0.0, 0.0, 0.0]",
        "PropertyLimitError: frames=500 is above the limit 100 of dark_level() of AcmeCamera",
        "ActionArgumentError: dark_level() of AcmeCamera 'camera' got unknown arguments ['frame']",
        "PropertyValueError: axes='q' of home() of AcmeStage 'stage' is not an allowed choice",
        "1 (480, 640)",
        "True remote",
        "4 passed",
        "render_into_fills_out",
    ):
        assert shown in out, f"{shown!r} not in the guide's output:\n{out}"
