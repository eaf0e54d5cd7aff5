"""``labkit demo``: a Voila dashboard of a simulated scope, served on loopback.

Runs Voila (``_voila_app``: Host check, XSRF, anti-framing headers) on the notebook shipped with
the package (``labkit/widgets/demo.ipynb``) with a fresh random token, prints the URL (with the
token), opens a browser unless ``--no-browser``, and on Ctrl-C (SIGINT) or SIGTERM stops Voila,
which shuts its kernels down (their scopes close and release their shared memory); anything
still alive after a grace period is killed. Exit code 0 after Ctrl-C, 2 for bad options.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path

import psutil

from labkit.errors import LabkitError
from labkit.widgets._voila_app import TOKEN_ENV, is_loopback

__all__ = ["DEMO_NOTEBOOK", "DemoError", "demo_command", "main"]

logger = logging.getLogger(__name__)

DEMO_NOTEBOOK = Path(__file__).with_name("demo.ipynb")
DEFAULT_PORT = 8866  # Voila's usual port
_PORT_ATTEMPTS = 3  # ports tried when another server takes the one picked before Voila binds it


class DemoError(LabkitError, RuntimeError):
    """The demo server could not start; the message says why and what to try."""


def _check_port(ip: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((ip, port))
        except OSError as exc:
            raise DemoError(
                f"cannot listen on {ip}:{port} ({exc.strerror}); choose another port with --port, "
                f"or omit --port to let labkit pick a free one"
            ) from None


def _free_port(ip: str) -> int:
    """A free port above the default one, below the kernel's ephemeral range: a port the system
    picks (bind to 0) comes from that range, where any outgoing connection may take it in the
    seconds before Voila listens (seen with parallel test workers); the system's pick last."""
    for port in range(DEFAULT_PORT + 1, DEFAULT_PORT + 100):
        try:
            _check_port(ip, port)
            return port
        except DemoError:
            continue
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def demo_command(notebook: Path, ip: str, port: int) -> list[str]:
    """The Voila command line that serves ``notebook`` on ``ip:port``."""
    return [
        sys.executable,
        "-m",
        "labkit.widgets._voila_app",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--Voila.port_retries=0",
        # a lab-only extension that fails to load in Voila and logs a console error
        "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension",
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit demo",
        description="Serve a Voila dashboard of a simulated microscope (live view, devices, traces, spool).",
    )
    parser.add_argument("--ip", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port (default {DEFAULT_PORT}, or a free one if that is taken)",
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --ip (anyone who gets the URL with its token controls the scope; "
        "the page is plain HTTP, so only on a trusted network)",
    )
    parser.add_argument(
        "--size", type=int, default=1024, help="simulated camera size in pixels (default 1024)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for Voila to start"
    )
    return parser


class PortTakenError(DemoError):
    """Voila could not listen on the port: another server took it after it was checked."""


def _listens(proc: subprocess.Popen, port: int) -> bool:
    """True once ``proc`` itself listens on ``port``."""
    try:
        connections = psutil.Process(proc.pid).net_connections(kind="inet")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


def _wait_ready(url: str, ip: str, port: int, proc: subprocess.Popen, timeout_s: float) -> None:
    """Wait until this Voila (``proc``) listens on ``ip:port`` and answers at ``url``.

    Another server answering there is not enough: a second demo started at the same moment may
    have checked the same free port and bound it first (then this Voila exits: port_retries=0).

    Raises:
        PortTakenError: this Voila exited while another process listens on ``port``.
        DemoError: it exited otherwise, or did not answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            message = f"Voila exited with code {proc.returncode} before serving {url}"
            try:
                _check_port(ip, port)
            except DemoError:
                raise PortTakenError(f"{message}: another process took the port") from None
            raise DemoError(f"{message}; see its log above")
        if _listens(proc, port):
            try:
                with urllib.request.urlopen(url + "voila/static/voila.js", timeout=2.0) as response:  # noqa: S310
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code < 500:
                    return
            except OSError:
                pass
        time.sleep(0.2)
    raise DemoError(f"Voila did not answer at {url} within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM Voila (it shuts its kernels down), then clear its process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            logger.warning("Voila did not stop within %.0f s; killing it", grace_s)
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)  # kernels Voila left behind share its process group
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    if proc.poll() is None:
        proc.wait(timeout=5.0)


def _wait_interruptibly(proc: subprocess.Popen) -> int:
    """Voila's exit code, looking every 0.5 s: Python runs a signal's handler (Ctrl-C's
    KeyboardInterrupt) between the looks even if the signal did not interrupt the sleep itself.
    (Not ``proc.wait(timeout)``: that polls every 50 ms.)"""
    while (code := proc.poll()) is None:
        time.sleep(0.5)
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C. Returns the exit code (0 after Ctrl-C, 2 for bad options, 1 on failure)."""
    args = _parser().parse_args(argv)
    if not is_loopback(args.ip) and not args.allow_remote:
        print(
            f"labkit demo: refusing to serve on {args.ip}: the page travels unencrypted, so anyone "
            "on the network who sees its URL could run the scope. Use the default 127.0.0.1 (and an "
            "SSH tunnel), or pass --allow-remote if this network is trusted.",
            file=sys.stderr,
        )
        return 2
    if not DEMO_NOTEBOOK.exists():
        print(f"labkit demo: {DEMO_NOTEBOOK} is missing; reinstall labkit", file=sys.stderr)
        return 1
    try:
        if args.port is None:
            try:
                _check_port(args.ip, DEFAULT_PORT)
                port = DEFAULT_PORT
            except DemoError:
                port = _free_port(args.ip)
        else:
            port = args.port
            _check_port(args.ip, port)
    except DemoError as exc:
        print(f"labkit demo: {exc}", file=sys.stderr)
        return 2
    host = f"[{args.ip}]" if ":" in args.ip else args.ip
    token = secrets.token_urlsafe(32)
    env = dict(os.environ, LABKIT_DEMO_SIZE=str(args.size), JUPYTER_PLATFORM_DIRS="1")
    env[TOKEN_ENV] = token  # not on the command line: other users can read process lists
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    proc: subprocess.Popen | None = None
    try:
        for attempt in range(_PORT_ATTEMPTS):
            url = f"http://{host}:{port}/"
            proc = subprocess.Popen(
                demo_command(DEMO_NOTEBOOK, args.ip, port),
                cwd=DEMO_NOTEBOOK.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us only; we stop Voila in order
            )
            try:
                _wait_ready(url, args.ip, port, proc, args.timeout)
                break
            except PortTakenError:
                if args.port is not None or attempt == _PORT_ATTEMPTS - 1:
                    raise
                port = _free_port(args.ip)  # a free port picked: another one
        assert proc is not None  # the loop ran at least once
        url = f"{url}?token={token}"
        print(f"labkit demo: dashboard at {url}  (Ctrl-C to stop)", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        code = _wait_interruptibly(proc)
        print(f"labkit demo: Voila exited with code {code}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labkit demo: stopping (shutting down kernels)...", flush=True)
        return 0
    except DemoError as exc:
        print(f"labkit demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if proc is not None:
            _stop(proc)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
