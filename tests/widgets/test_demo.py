"""``labkit demo``: option checks in-process, and the real thing as a subprocess in Chromium."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from labkit.testing import log_problems, wait_painting, wait_until
from labkit.testing._traces import wait_trace_lines
from labkit.widgets import _demo


def test_demo_notebook_is_shipped_with_a_kernelspec():
    nb = json.loads(_demo.DEMO_NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    assert "scope.dashboard(" in code  # (the scope closes when the kernel shuts down)
    assert all(c.get("outputs", []) == [] for c in nb["cells"])


def test_refuses_non_loopback_ip_without_allow_remote(capsys):
    assert _demo.main(["--ip", "0.0.0.0", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0" in err and "--allow-remote" in err


def test_voila_app_requires_a_token_and_restores_the_host_check():
    from labkit.widgets import _voila_app

    assert _voila_app.SECURITY_HEADERS["X-Frame-Options"] == "DENY"
    done = subprocess.run(
        [sys.executable, "-m", "labkit.widgets._voila_app", str(_demo.DEMO_NOTEBOOK)],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != _voila_app.TOKEN_ENV},
    )  # fmt: skip
    assert done.returncode != 0 and "LABKIT_DEMO_TOKEN must hold the page token" in done.stderr


def test_a_write_to_a_page_that_closed_is_one_debug_line_not_a_traceback(caplog):
    """Jupyter's server writes kernel messages to a page without awaiting them: a tab closed
    while some were on their way left asyncio logging a tornado traceback in the demo's
    terminal (a CI run under load failed on it). The demo's filter makes it a debug line and
    lets every other error through."""
    import asyncio
    import gc

    from tornado.websocket import WebSocketClosedError

    from labkit.widgets._voila_app import PageClosedFilter

    async def write(exc: Exception) -> None:
        raise exc

    async def unawaited_writes() -> None:
        for exc in (WebSocketClosedError(), ValueError("a real problem")):
            asyncio.ensure_future(write(exc))
        await asyncio.sleep(0)

    def in_own_loop() -> None:  # a thread of its own: the session's Playwright owns this one's loop
        asyncio.run(unawaited_writes())
        gc.collect()  # asyncio reports unretrieved exceptions when the tasks are collected

    filt = PageClosedFilter()
    logging.getLogger("asyncio").addFilter(filt)
    try:
        with caplog.at_level(logging.DEBUG):
            worker = threading.Thread(target=in_own_loop, name="closed-page-writes")
            worker.start()
            worker.join()
    finally:
        logging.getLogger("asyncio").removeFilter(filt)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [type(r.exc_info[1]) for r in errors if r.exc_info] == [ValueError], caplog.text
    assert "a page closed while messages were sent to it" in caplog.text


def test_port_in_use_is_a_clear_error(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert _demo.main(["--port", str(port), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "--port" in err


def test_a_taken_default_port_falls_back_to_one_just_above_it_not_an_ephemeral_one():
    """A port the kernel picks (bind to 0) can be taken by any outgoing connection before
    Voila listens on it (a parallel test worker's did): the demo looks just above 8866."""
    with socket.socket() as sock:
        with contextlib.suppress(OSError):  # taken by us (or already by another process)
            sock.bind(("127.0.0.1", _demo.DEFAULT_PORT + 1))
        port = _demo._free_port("127.0.0.1")
    assert _demo.DEFAULT_PORT + 2 <= port < _demo.DEFAULT_PORT + 100


def _http_server(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_another_server_answering_on_the_port_is_not_taken_for_the_demos_voila():
    """Two demos started at once may check the same free port; the one whose Voila lost the
    bind must not hand out a URL that reaches the other's server (its token fails there)."""
    port = _demo._free_port("127.0.0.1")
    other = _http_server(port)  # answers on the port, like the other demo's Voila
    ours = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])  # lost the bind
    try:
        wait_until(lambda: _demo._listens(other, port), what="the other server listening")
        with pytest.raises(_demo.PortTakenError, match="another process took the port"):
            _demo._wait_ready(f"http://127.0.0.1:{port}/", "127.0.0.1", port, ours, 30)
    finally:
        ours.wait()
        other.terminate()
        other.wait()
    # its own server listening and answering is ready
    ours = _http_server(port)
    try:
        _demo._wait_ready(f"http://127.0.0.1:{port}/", "127.0.0.1", port, ours, 60)
        assert _demo._listens(ours, port)
    finally:
        ours.terminate()
        ours.wait()


def test_command_binds_loopback_and_never_retries_other_ports():
    cmd = _demo.demo_command(_demo.DEMO_NOTEBOOK, "127.0.0.1", 8123)
    assert (
        "--Voila.ip=127.0.0.1" in cmd and "--port=8123" in cmd and "--Voila.port_retries=0" in cmd
    )
    assert "labkit.widgets._voila_app" in cmd and not any("xsrf" in a or "token" in a for a in cmd)


def _wait_for_url(log_path, proc, timeout_s=90.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        match = re.search(r"dashboard at (http://\S+)", text)
        if match:
            return match.group(1)
        if proc.poll() is not None:
            pytest.fail(f"labkit demo exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"labkit demo printed no URL in {timeout_s} s:\n{log_path.read_text()[-3000:]}")


def _status(url: str, headers: dict | None = None) -> tuple[int, dict]:
    """Status and headers of a GET, without following redirects."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kw):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=60) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, dict(exc.headers)


def _segments_of(pids: set[int]) -> list[str]:
    return [
        n
        for n in os.listdir("/dev/shm")
        if n.startswith("labkit-") and int(n.split("-")[1]) in pids
    ]


# the window sizes the demo is checked (and photographed for docs/) at
WINDOW_SIZES = [(1400, 1000), (1920, 1080)]
# where the screenshots go: the test's tmp_path, or LABKIT_SCREENSHOT_DIR (docs/ to refresh them)
SCREENSHOT_DIR_ENV = "LABKIT_SCREENSHOT_DIR"

# CSS boxes of the parts of the page the layout checks look at
_BOXES_JS = """() => {
  const box = (sel) => { const e = document.querySelector(sel); if (!e) return null;
    const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height,
      visible: getComputedStyle(e).display !== "none" && r.width > 0}; };
  return {stage: box(".lk-live .lk-stage"), hist: box(".lk-live .lk-hist"),
          vprof: box(".lk-live .lk-vprof"), hprof: box(".lk-live .lk-hprof"),
          side: box(".labkit-dashboard .widget-tab"), stats: document.querySelector(".lk-live .lk-stats").textContent};
}"""


#: the demo's processes dump every thread's stack on SIGABRT (faulthandler), for _stop_demo
_DEMO_ENV = {**os.environ, "PYTHONFAULTHANDLER": "1"}


def _as_from_a_terminal() -> None:
    """(preexec_fn) The demo starts with Ctrl-C's and kill's signals at their defaults, as from a
    shell, whatever this worker's thread had blocked or ignored when it forked."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _stop_demo(proc, sig, log_path, tree) -> int:
    """Send ``sig`` to the demo and return its exit code. A demo still running after 60 s is
    made to dump its threads' stacks into its log (SIGABRT), its whole ``tree`` (Voila and
    kernels, in a session of their own) is killed, and the test fails with the log's end."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with open(f"/proc/{proc.pid}/status") as fh:  # is the signal pending, blocked, ignored?
            masks = " ".join(line.strip() for line in fh if line.startswith("Sig"))
        proc.send_signal(signal.SIGABRT)
        try:
            proc.wait(timeout=10)
        finally:
            children = tree[1:]  # psutil.Process objects (tree[0] is the Popen)
            for p in children:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            _gone, left = psutil.wait_procs(children, timeout=10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        raise AssertionError(
            f"the demo did not stop within 60 s of {sig.name} ({masks}); its processes: "
            f"{[p.pid for p in children]} (alive after kill: {left}); its log (with the stacks of its "
            f"threads when it was aborted):\n{log_path.read_text(errors='replace')[-6000:]}"
        ) from None


def _open_demo(page, url, size) -> None:
    """Open the demo at ``size`` and wait until it is live: traces drawn, frames painted."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(url)
    page.locator(".labkit-dashboard").wait_for(timeout=90_000)
    page.locator(".labkit-state-running").wait_for(timeout=30_000)
    # the signal trace draws a line per channel (sine, noise, events) on its canvas; (deadlines
    # of 90 s: the page's first minute, while its kernel starts the scope, is its busiest; under
    # stress-ng a call into the page once took over 30 s to be answered there)
    wait_trace_lines(page, ".labkit-dashboard .labkit-traceplot", 3, timeout_s=90)
    wait_painting(page, frames=60, timeout_s=90)  # the live view painted frames, and keeps painting
    page.locator(".labkit-health", has_text="display").wait_for(timeout=30_000)


def _fits(boxes, height) -> bool:
    """The image uses its page: as tall as the window allows, fully in view, no empty area
    beside it (only the room the profile strip takes when there is a profile)."""
    stage, side = boxes["stage"], boxes["side"]
    return (
        stage["h"] >= 0.75 * height
        and stage["y"] + stage["h"] <= height
        and 0 <= side["x"] - (stage["x"] + stage["w"]) <= 90
    )


def _check_layout(page, size, shots) -> dict:
    """At the window ``size`` (set now, on the live page): the layout fits it once the page has
    laid out again, and what a person sees holds; saves a screenshot; returns the boxes."""
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    boxes = wait_until(
        lambda: b if _fits(b := page.evaluate(_BOXES_JS), height) else None,
        timeout_s=30,
        what=f"the dashboard laid out for {width}x{height}",
    )
    # no profile yet: no profile strips
    assert not boxes["vprof"]["visible"] and not boxes["hprof"]["visible"], boxes
    wait_painting(page, frames=10)  # and it still paints at this size
    # skips are named as skips at the display's rate; loss is never shown here
    page.wait_for_function(
        "() => /skipped \\d+, display at \\d+ Hz/.test(document.querySelector('.lk-live .lk-stats').textContent)",
        timeout=10_000,
    )
    assert "drop" not in page.locator(".lk-live .lk-stats").inner_text()
    page.screenshot(path=str(shots / f"demo_{width}x{height}.png"))
    assert page.console_errors == []
    return boxes


@pytest.mark.browser
@pytest.mark.slow
def test_demo_serves_a_live_dashboard_that_uses_its_page_and_stops_on_ctrl_c(page, tmp_path):
    log_path = tmp_path / "demo.log"
    shots = Path(os.environ.get(SCREENSHOT_DIR_ENV) or tmp_path)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # no --port: the demo picks one (8866, else one above it)
            [sys.executable, "-m", "labkit.cli", "demo", "--no-browser"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_DEMO_ENV,
            preexec_fn=_as_from_a_terminal,
        )
    kernel_pids: set[int] = set()
    tree: list = [proc]
    try:
        url = _wait_for_url(log_path, proc)
        port = int(re.match(r"http://127\.0\.0\.1:(\d+)/", url).group(1))
        assert _demo.DEFAULT_PORT <= port < 32768  # not a port the kernel hands out
        base = f"http://127.0.0.1:{port}/"
        assert url.startswith(f"{base}?token=") and len(url.split("token=")[1]) >= 32
        # no token: the login page, no kernel; a foreign Host: refused (no DNS rebinding)
        status, headers = _status(base)
        assert status == 302 and _status(f"{base}?token=wrong")[0] == 302
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
        assert _status(url, {"Host": f"evil.example:{port}"})[0] == 403
        _open_demo(page, url, WINDOW_SIZES[0])
        # the layout fits each window size, and follows the window when it is resized
        small, large = (_check_layout(page, size, shots) for size in WINDOW_SIZES)
        # the image grows with the window
        assert large["stage"]["w"] > small["stage"]["w"] + 40, (small, large)

        # a click on the image makes a profile: the strips appear (the image makes room for
        # them, still fully in view) and are drawn; Clear takes them away again
        stage = page.locator(".lk-live .lk-stage")
        box = stage.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
        for strip in (".lk-live .lk-vprof", ".lk-live .lk-hprof"):
            page.locator(strip).wait_for(state="visible", timeout=5000)
        boxes = page.evaluate(_BOXES_JS)
        assert boxes["hprof"]["y"] + boxes["hprof"]["h"] <= WINDOW_SIZES[1][1], boxes
        assert boxes["stage"]["w"] < large["stage"]["w"]
        page.screenshot(path=str(shots / "demo_profiles.png"))
        page.locator(".lk-live button", has_text="Clear").click()
        page.locator(".lk-live .lk-vprof").wait_for(state="hidden", timeout=5000)

        tree = [proc, *psutil.Process(proc.pid).children(recursive=True)]
        kernels = [p for p in tree[1:] if "ipykernel" in " ".join(p.cmdline())]
        assert kernels, "no kernel was started"
        kernel_pids = {p.pid for p in kernels}
        assert _segments_of(kernel_pids)  # the kernel's scope owns its ring and trace buffer
        # leaving the page shuts its kernel down (Voila's unload request passes the XSRF check)
        page.goto("about:blank")
        gone, alive = psutil.wait_procs(kernels, timeout=60)
        assert not alive, "closing the page left its kernel running"
        assert not _segments_of(kernel_pids), "the closed page's kernel left its segments"
        page.goto(url)  # a second view: its kernel is stopped with the demo below
        page.locator(".labkit-state-running").wait_for(timeout=90_000)
        tree = [proc, *psutil.Process(proc.pid).children(recursive=True)]
        kernel_pids = {p.pid for p in tree[1:] if "ipykernel" in " ".join(p.cmdline())}
        assert _segments_of(kernel_pids)
        page.goto("about:blank")
    finally:
        if proc.poll() is None:
            tree = [proc, *psutil.Process(proc.pid).children(recursive=True)]
        code = _stop_demo(proc, signal.SIGINT, log_path, tree)
    assert code == 0, log_path.read_text()[-3000:]
    assert "stopping" in log_path.read_text()
    assert log_problems(log_path.read_text()) == []  # no traceback in the kernels' log
    gone, alive = psutil.wait_procs(tree[1:], timeout=10)
    assert not alive, f"left running after Ctrl-C: {[p.pid for p in alive]}"
    assert not _segments_of(kernel_pids), "kernels left their shared memory behind on stop"


def test_demo_stops_everything_on_sigterm(tmp_path):
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labkit.cli", "demo", "--no-browser", "--size", "128"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_DEMO_ENV,
            preexec_fn=_as_from_a_terminal,
        )  # fmt: skip
    try:
        _wait_for_url(log_path, proc)
        tree = [proc, *psutil.Process(proc.pid).children(recursive=True)]
        assert len(tree) > 1, "the demo started no server process"
        code = _stop_demo(proc, signal.SIGTERM, log_path, tree)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, log_path.read_text()[-3000:]
    gone, alive = psutil.wait_procs(tree[1:], timeout=10)
    assert not alive, f"left running after SIGTERM: {[p.cmdline()[:3] for p in alive]}"


def test_wheel_ships_the_demo_notebook():
    from hatchling.builders.wheel import WheelBuilder

    root = _demo.DEMO_NOTEBOOK.parents[2]
    shipped = {f.distribution_path for f in WheelBuilder(str(root)).recurse_included_files()}
    assert "labkit/widgets/demo.ipynb" in shipped
