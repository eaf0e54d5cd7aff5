"""``labkit engine``: serve an engine so notebooks can ``lk.connect(...)`` to it.

Examples::

    labkit engine                                   # this machine: a private ipc socket
    labkit engine --address tcp://0.0.0.0:45600     # other machines: CURVE keys, see below
    labkit engine --address tcp://0.0.0.0:45600 --keys-file ~/rig-keys.json   # same keys each run

Every engine writes a connection file (mode 0600) and prints its path: ``lk.connect(path)`` reaches
it. For TCP the file holds the keys a client needs; copy it to the notebook machine (``scp``) and
keep it private. With ``--keys-file`` the keys survive restarts, so the copy stays valid.

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
from labkit.rpc import RpcError, ServerKeys

log = logging.getLogger(__name__)

__all__ = ["main"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="labkit engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--address",
        default=None,
        help="ZeroMQ endpoint to bind: tcp://HOST:PORT (always CURVE-authenticated) or ipc://PATH "
        "(default: a private ipc socket in the runtime directory)",
    )
    p.add_argument(
        "--keys-file",
        default=None,
        help="TCP only: the server's keys (read, or created with mode 0600), so the connection "
        "file stays valid across restarts; never give this file to clients",
    )
    p.add_argument(
        "--connection-file",
        default=None,
        help="where to write the connection file (default: the runtime directory)",
    )
    p.add_argument(
        "--stream-port",
        type=int,
        default=0,
        help="TCP only: the port of the stream export (frames and traces for remote clients; "
        "same keys; default: any free port, which clients learn from the engine)",
    )
    p.add_argument(
        "--public-host",
        default=None,
        help="host name clients use, written in the connection file (default: this machine's)",
    )
    p.add_argument(
        "--devices",
        default=None,
        help="device factory 'package.module:function' (default: simulated)",
    )
    p.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="PACKAGE.MODULE:FUNCTION",
        help="a user command to serve (repeat for several); clients call it as "
        "scope.commands.<name>(...)",
    )
    p.add_argument(
        "--allow-client-code",
        action="store_true",
        help="let clients add commands and nodes by import path: anyone with the connection "
        "file can then run any function importable on this machine",
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


def main(argv: list[str] | None = None) -> int:
    """Run the engine server in the foreground until Ctrl-C / SIGTERM (or the parent dies)."""
    args = _parse(argv)
    level = (
        int(args.log_level)
        if str(args.log_level).isdigit()
        else getattr(logging, args.log_level.upper())
    )
    child = args.parent_pid is not None
    try:
        if args.keys_file and not str(args.address or "").startswith("tcp://"):
            raise ValueError("--keys-file is for TCP servers: add --address tcp://HOST:PORT")
        keys = ServerKeys.load_or_create(args.keys_file) if args.keys_file else None
        shape = tuple(int(v) for v in args.shape.split(","))
        devices = build_devices(args.devices, seed=args.seed, shape=shape)  # type: ignore[arg-type]
        server = EngineServer(
            devices,
            args.address,
            commands=args.command,
            allow_client_code=args.allow_client_code,
            keys=keys,
            connection_file=False if child else (args.connection_file or True),
            public_host=args.public_host,
            stream_port=args.stream_port,
            parent_pid=args.parent_pid,
            ring_slots=args.ring_slots,
        )
    except (ValueError, RpcError, OSError) as exc:
        print(f"labkit engine: {exc}", file=sys.stderr)
        return 2
    root = logging.getLogger()
    if not child:  # a terminal: show the log there too (before our handler exists)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings become log records, so they are forwarded too
    forward = LogForwardHandler(server._emit)
    root.addHandler(forward)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: server.request_stop())
        if not child:
            signal.signal(signal.SIGINT, lambda *_: server.request_stop())
        else:  # Ctrl-C in the parent's terminal is for the parent, which shuts this engine down
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def ready(address: str) -> None:
        if not child:
            print(
                f"labkit engine serving on {address} (pid {os.getpid()}); connection file "
                f"{server.rpc.connection_file}; Ctrl-C to stop",
                flush=True,
            )

    try:
        return server.serve(ready)
    finally:
        root.removeHandler(forward)
