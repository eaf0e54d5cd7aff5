"""``labkit engine``: serve an engine so notebooks can ``lk.connect(address)`` to it.

Example::

    labkit engine --address tcp://127.0.0.1:45600            # loopback, no key needed
    labkit engine --address tcp://0.0.0.0:45600 --key-file k  # other hosts: an HMAC key is required

The same loop runs the child process of ``Scope(mode="process")`` (``--parent-pid``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from labkit.engine._devices import build_devices
from labkit.engine._server import EngineServer, LogForwardHandler
from labkit.wire import WireSecurityError, check_bind_address

log = logging.getLogger(__name__)

__all__ = ["main"]

DEFAULT_ADDRESS = "tcp://127.0.0.1:45600"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="labkit engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help=f"ZeroMQ endpoint to bind (default {DEFAULT_ADDRESS})",
    )
    p.add_argument(
        "--key", help="HMAC key (text); prefer --key-file so it stays out of the process list"
    )
    p.add_argument("--key-file", help="file holding the HMAC key")
    p.add_argument(
        "--devices",
        default=None,
        help="device factory 'package.module:function' (default: simulated)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated devices")
    p.add_argument(
        "--shape", default="2048,2048", help="simulated camera shape 'height,width' in pixels"
    )
    p.add_argument(
        "--ring-slots", type=int, default=64, help="frames held by the shared-memory ring"
    )
    p.add_argument("--log-level", default="INFO", help="log level (name or number)")
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _key(args: argparse.Namespace) -> bytes | None:
    if args.key_file:
        with open(args.key_file, "rb") as fh:
            return fh.read().strip()
    return args.key.encode() if args.key else None


def main(argv: list[str] | None = None) -> int:
    """Run the engine server in the foreground until Ctrl-C / SIGTERM (or the parent dies)."""
    args = _parse(argv)
    level = (
        int(args.log_level)
        if str(args.log_level).isdigit()
        else getattr(logging, args.log_level.upper())
    )
    key = _key(args)
    try:
        check_bind_address(args.address, key)
        shape = tuple(int(v) for v in args.shape.split(","))
        devices = build_devices(args.devices, seed=args.seed, shape=shape)  # type: ignore[arg-type]
    except (ValueError, WireSecurityError) as exc:
        print(f"labkit engine: {exc}", file=sys.stderr)
        return 2
    server = EngineServer(
        devices, args.address, key=key, parent_pid=args.parent_pid, ring_slots=args.ring_slots
    )
    root = logging.getLogger()
    if args.parent_pid is None:  # a terminal: show the log there too (before our handler exists)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings become log records, so they are forwarded too
    forward = LogForwardHandler(server._emit)
    root.addHandler(forward)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: server.request_stop())
        if args.parent_pid is None:
            signal.signal(signal.SIGINT, lambda *_: server.request_stop())
        else:  # Ctrl-C in the parent's terminal is for the parent, which shuts this engine down
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def ready(address: str) -> None:
        if args.parent_pid is None:
            print(
                f"labkit engine serving on {address} (pid {os.getpid()}); Ctrl-C to stop",
                flush=True,
            )

    try:
        return server.serve(ready)
    finally:
        root.removeHandler(forward)
