"""Voila and JupyterLab servers for browser tests: started once, torn down with their kernels.

Each server runs in its own session (process group) so that ``stop()`` reaches the kernels it
spawned too: SIGTERM to the group, a grace period, then SIGKILL. Logs go to a file in the
server's state directory (kernels write their stderr there too: tracebacks of background
threads land in it) and their tail is quoted in every startup error. The server and its kernels
get a home directory of their own (``server.home``), so a notebook that records to
``~/labkit-data`` writes below it, not into the user's home.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from labkit.errors import LabkitError

logger = logging.getLogger(__name__)

__all__ = [
    "JupyterServerError",
    "LabServer",
    "VoilaServer",
    "die_with_parent",
    "free_port",
    "marimo_run",
    "wait_http",
]


class JupyterServerError(LabkitError, RuntimeError):
    """A test server did not start or answer; the message quotes the end of its log."""


def die_with_parent() -> Any:
    """A ``preexec_fn`` for a server or browser started in a session of its own: the kernel sends
    it SIGTERM when the process that started it dies, even by SIGKILL (a test timed out, a bench
    CLI was killed), so it cannot outlive its owner and keep loading the machine.

    Linux ``prctl(PR_SET_PDEATHSIG)``; start the child from a thread that lives as long as the
    owner (the signal follows the thread that forked). ``None`` (no preexec) elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    owner = os.getpid()

    def preexec() -> None:
        if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
            os._exit(127)
        if os.getppid() != owner:  # the owner died before prctl took effect
            os._exit(0)

    return preexec


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _http(method: str, url: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        exc.close()
        return exc.code, body


def wait_http(url: str, timeout_s: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers with a status below 500.

    Raises:
        JupyterServerError: the process exited first, or ``timeout_s`` (seconds) passed.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise JupyterServerError(
                f"server exited with code {proc.returncode} before {url} answered"
            )
        try:
            status, _ = _http("GET", url, timeout_s=2.0)
            if status < 500:
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise JupyterServerError(f"{url} did not answer within {timeout_s:.0f} s")


_KERNEL_FILE = re.compile(r"kernel-([0-9a-f-]{36})\.json")


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


class _Server:
    """A server subprocess in its own process group, serving ``root`` on a loopback port."""

    kind = "server"

    def __init__(self, root: Path | str | None = None, port: int | None = None) -> None:
        self._own_root = root is None
        self.root = (
            Path(tempfile.mkdtemp(prefix=f"labkit-{self.kind}-")) if root is None else Path(root)
        )
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"labkit-{self.kind}-state-"))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.state_dir / "server.log"
        self.home = self.state_dir / "home"
        self.proc: subprocess.Popen | None = None

    def _command(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["JUPYTER_RUNTIME_DIR"] = str(self.state_dir / "runtime")
        env["PYTHONUNBUFFERED"] = "1"
        self.home.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(self.home)
        return env

    def log_tail(self, n_chars: int = 3000) -> str:
        """The last ``n_chars`` characters of the server log (for error messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError:
            return "<no log>"

    def log_size(self) -> int:
        """Bytes in the server log now: pass it to :meth:`log_since` to read what came after."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        """What the server and its kernels logged after ``offset`` (from :meth:`log_size`)."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def start(self, timeout_s: float = 90.0) -> _Server:
        """Start the server and wait until it answers HTTP.

        Raises:
            JupyterServerError: it exited or did not answer in ``timeout_s`` seconds (log quoted).
        """
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                self._command(),
                cwd=self.root,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # prctl only, before exec
            )
        finally:
            log.close()
        try:
            wait_http(self.url + "/api/status", timeout_s, self.proc)
        except JupyterServerError as exc:
            self._terminate()  # (its log stays for the message; stop() removes it)
            raise JupyterServerError(
                f"{self.kind} on {self.url} failed: {exc}\n{self.log_tail()}"
            ) from None
        logger.info("%s serving %s at %s", self.kind, self.root, self.url)
        return self

    # kernels -------------------------------------------------------------------------------

    def kernels(self) -> list[dict]:
        """Running kernels as listed by the server REST API (``[]`` if it does not list them)."""
        try:
            status, body = _http("GET", self.url + "/api/kernels")
        except OSError:
            return []
        return json.loads(body) if status == 200 else []

    def shutdown_kernels(self) -> int:
        """Shut down every kernel the server runs (REST ``DELETE /api/kernels/<id>``); return the count."""
        count = 0
        for kernel in self.kernels():
            try:
                status, _ = _http(
                    "DELETE", f"{self.url}/api/kernels/{kernel['id']}", timeout_s=15.0
                )
                count += status in (200, 204)
            except OSError:
                logger.warning("could not shut down kernel %s", kernel.get("id"))
        return count

    # teardown --------------------------------------------------------------------------------

    def stop(self, grace_s: float = 10.0) -> None:
        """Terminate the server and its kernels (SIGTERM to the process group, then SIGKILL),
        then remove its state directory (log, home, runtime) and the root it made itself."""
        try:
            self._terminate(grace_s)
        finally:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)

    def _terminate(self, grace_s: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            self.shutdown_kernels()
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait_s)
                # the group may still hold kernels whose parent already exited
                os.killpg(proc.pid, signal.SIGKILL)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                pass
            break
        if proc.poll() is None:
            proc.wait(timeout=5.0)

    def __enter__(self) -> _Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class VoilaServer(_Server):
    """``voila <root>``: renders any notebook of ``root`` at ``render_url(name)``."""

    kind = "voila"

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "voila",
            str(self.root),
            "--no-browser",
            f"--port={self.port}",
            "--Voila.ip=127.0.0.1",
            # this lab extension cannot load outside JupyterLab and logs a console error
            "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension",
            # the page's beforeunload kernel shutdown is a POST without an _xsrf field: allow it
            "--Voila.tornado_settings=disable_check_xsrf=True",
        ]

    def kernels(self) -> list[dict]:
        """Kernels of this server (Voila has no kernels REST API): ``[{"id", "pid"}]`` from processes."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True) if self.proc else []
        except psutil.Error:
            return []
        found = []
        for child in children:
            match = _KERNEL_FILE.search(" ".join(_cmdline(child)))
            if match:
                found.append({"id": match.group(1), "pid": child.pid})
        return found

    def shutdown_kernels(self, timeout_s: float = 10.0) -> int:
        """Shut every kernel down the way Voila's page does on unload (``POST /voila/api/shutdown/<id>``).

        The kernel gets a shutdown request, so its atexit handlers run (scopes close, shared memory
        is unlinked). Kernels still alive after ``timeout_s`` seconds are killed. Returns the count.
        """
        kernels = self.kernels()
        for kernel in kernels:
            try:
                _http("POST", f"{self.url}/voila/api/shutdown/{kernel['id']}", timeout_s=timeout_s)
            except OSError:
                logger.warning("could not ask Voila to shut down kernel %s", kernel["id"])
        deadline = time.monotonic() + timeout_s
        while self.kernels() and time.monotonic() < deadline:
            time.sleep(0.1)
        for kernel in self.kernels():
            logger.warning("killing Voila kernel pid %s: it did not shut down", kernel["pid"])
            try:
                psutil.Process(kernel["pid"]).kill()
            except psutil.Error:
                pass
        return len(kernels)

    def render_url(self, nb_name: str) -> str:
        """URL of the Voila rendering of ``root/nb_name``."""
        return f"{self.url}/voila/render/{quote(str(nb_name))}"


class LabServer(_Server):
    """JupyterLab (and Notebook 7, same server) on ``root``, no auth, loopback only."""

    kind = "lab"

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabServerApp.workspaces_dir=" + str(self.state_dir / "workspaces"),
        ]

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env["JUPYTERLAB_SETTINGS_DIR"] = str(self.state_dir / "settings")
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(self.state_dir / "workspaces")
        return env

    def notebook_url(self, nb_name: str) -> str:
        """JupyterLab URL opening ``root/nb_name`` in a fresh workspace (``?reset``)."""
        return f"{self.url}/lab/tree/{quote(str(nb_name))}?reset"

    def notebook7_url(self, nb_name: str) -> str:
        """Notebook 7 URL of ``root/nb_name``."""
        return f"{self.url}/notebooks/{quote(str(nb_name))}"

    def shutdown_kernels(self) -> int:
        """Delete sessions (so the UI forgets them) and then any kernel still running."""
        try:
            status, body = _http("GET", self.url + "/api/sessions")
            sessions = json.loads(body) if status == 200 else []
        except OSError:
            sessions = []
        for session in sessions:
            try:
                _http("DELETE", f"{self.url}/api/sessions/{session['id']}", timeout_s=15.0)
            except OSError:
                logger.warning("could not delete session %s", session.get("id"))
        return len(sessions) + super().shutdown_kernels()


@contextlib.contextmanager
def marimo_run(app: Path, log_path: Path, timeout_s: float = 90.0) -> Iterator[str]:
    """``marimo run app`` headless on a free loopback port; yields its URL.

    Stops it with SIGINT (marimo exits and the app's ``atexit`` hooks release its scope), then
    SIGKILL to the process group after 30 s. Raises ``JupyterServerError`` when it does not
    stop on SIGINT, quoting the log.
    """
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marimo", "run", str(app), "--headless", "--host", "127.0.0.1",
             "--port", str(port), "--no-token", "--no-sandbox", "--no-skew-protection"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout_s, proc)
        try:
            yield f"http://127.0.0.1:{port}/"
        except BaseException as exc:  # whatever failed in the app's page: its log says why
            exc.add_note(f"marimo log (last 3000 chars):\n{log_path.read_text()[-3000:]}")
            raise
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise JupyterServerError(
                f"marimo did not stop on SIGINT:\n{log_path.read_text()[-2000:]}"
            ) from None
