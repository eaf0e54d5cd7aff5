"""``labkit manager``: run a viewer manager in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from labkit.rpc import RpcError, ServerKeys
from labkit.rpc._runtime import load_or_create_token
from labkit.viewer._logfile import log_to_file
from labkit.viewer._server import ManagerServer

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labkit manager",
        description="Start a viewer manager for lk.show / lk.watch. On this machine it listens on "
        "a private ipc socket; with --address tcp://HOST:PORT other machines can reach it with "
        "the connection file it prints (CURVE keys; keep it private).",
    )
    p.add_argument(
        "--address",
        default=None,
        help="tcp://HOST:PORT (always CURVE-authenticated) or ipc://PATH "
        "(default: a private ipc socket in the runtime directory)",
    )
    p.add_argument(
        "--keys-file",
        default=None,
        help="TCP only: the server's keys (read, or created with mode 0600), so the connection "
        "file stays valid across restarts; never give this file to clients",
    )
    p.add_argument(
        "--public-host", default=None, help="host name clients use (written in the connection file)"
    )
    p.add_argument(
        "--registry-dir",
        default=None,
        help="registry directory (default $LABKIT_RUNTIME_DIR or the Jupyter runtime dir)",
    )
    p.add_argument("--page-port", type=int, default=0, help="web page port (0 = any free port)")
    p.add_argument(
        "--page-ip",
        default="127.0.0.1",
        help="web page address (default loopback; the page always needs its token)",
    )
    p.add_argument(
        "--page-token-file",
        default=None,
        help="keep the page's token in this file (read, or created with mode 0600), so the URL "
        "and open pages stay valid across restarts",
    )
    p.add_argument("--no-page", action="store_true", help="do not serve the web page")
    p.add_argument(
        "--no-browser", action="store_true", help="print the page URL instead of opening a browser"
    )
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        log_file = log_to_file(logging.getLogger().level).baseFilename
    except OSError as exc:
        log_file = "-"
        print(f"labkit manager: cannot write the log file ({exc}); logging to stderr only",
              file=sys.stderr)  # fmt: skip
    try:
        if args.keys_file and not str(args.address or "").startswith("tcp://"):
            raise ValueError("--keys-file is for TCP managers: add --address tcp://HOST:PORT")
        keys = ServerKeys.load_or_create(args.keys_file) if args.keys_file else None
        token = load_or_create_token(args.page_token_file) if args.page_token_file else None
        server = ManagerServer(
            args.address, keys=keys, registry_dir=args.registry_dir, page=not args.no_page,
            page_port=args.page_port, page_ip=args.page_ip, page_token=token,
            public_host=args.public_host,
        )  # fmt: skip
    except (ValueError, RpcError, OSError) as exc:
        print(f"labkit manager: {exc}", file=sys.stderr)
        return 2
    print(
        f"labkit manager {server.uid} (pid {os.getpid()}): {server.address}, connection file "
        f"{server.connection_file}, page {server.url or '-'}, log {log_file}",
        flush=True,
    )
    if server.url and not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    signal.signal(signal.SIGTERM, lambda *_: server.request_stop())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0
