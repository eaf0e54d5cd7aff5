"""labkit widgets in marimo: ``mo.ui.anywidget(LiveView(scope))`` served by ``marimo run``, in Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.testing._servers import wait_http
from labkit.testing.fixtures import free_port

APP = Path(__file__).parents[1] / "notebooks" / "marimo_live.py"


def test_marimo_app_passes_marimo_check():
    result = subprocess.run(
        [sys.executable, "-m", "marimo", "check", str(APP)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.browser
@pytest.mark.slow
def test_live_view_paints_frames_in_marimo(page, tmp_path):
    port = free_port()
    log_path = tmp_path / "marimo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marimo",
                "run",
                str(APP),
                "--headless",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-token",
                "--no-sandbox",
                "--no-skew-protection",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 90, proc)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function(
            "() => window.labkit && Object.values(window.labkit.views).some(v => v.painted >= 3)",
            timeout=90_000,
        )
        stats = page.evaluate("() => Object.values(window.labkit.views)[0]")
        # WebGL2 on a real GPU; Canvas2D where WebGL2 is only CPU-emulated (headless Chromium here)
        expected = "canvas2d" if stats["software_gl"] else "webgl2"
        assert stats["renderer"] == expected and stats["texture"] == [256, 256]
        page.get_by_text("camera exposure").wait_for(timeout=30_000)
        page.goto("about:blank")
    finally:
        proc.send_signal(
            signal.SIGINT
        )  # graceful: marimo exits and the app's atexit closes the scope
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"marimo did not stop on SIGINT:\n{log_path.read_text()[-2000:]}")
