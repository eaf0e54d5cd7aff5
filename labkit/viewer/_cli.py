"""``labkit manager``: run a viewer manager in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from labkit.viewer._proto import WireSecurityError, is_loopback_ip, new_key
from labkit.viewer._registry import Registry
from labkit.viewer._server import DEFAULT_EVENT_PORT, DEFAULT_REQUEST_PORT, ManagerServer

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labkit manager", description="Start a viewer manager for lk.show / lk.watch."
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_REQUEST_PORT,
        help="request port (free port if taken; 0 = any)",
    )
    p.add_argument(
        "--event-port",
        type=int,
        default=DEFAULT_EVENT_PORT,
        help="event port (free port if taken; 0 = any)",
    )
    p.add_argument("--ip", default="127.0.0.1", help="bind address; non-loopback needs an auth key")
    p.add_argument(
        "--key", default=None, help="HMAC auth key (generated for non-loopback --ip when omitted)"
    )
    p.add_argument(
        "--registry-dir",
        default=None,
        help="registry directory (default $LABKIT_RUNTIME_DIR or the Jupyter runtime dir)",
    )
    p.add_argument("--page-port", type=int, default=0, help="web page port (0 = any free port)")
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
    key = args.key.encode() if args.key else None
    key_file = ""
    registry = Registry(args.registry_dir)
    if key is None and not is_loopback_ip(args.ip):
        key = new_key()
        if isinstance(key, str):
            key = key.encode()
    if key is not None:
        registry.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key_file = str(registry.directory / f"manager-{os.getpid()}.json")
    try:
        server = ManagerServer(
            args.ip, args.port, args.event_port, key=key, registry_dir=registry.directory,
            page=not args.no_page, page_port=args.page_port, key_file=key_file,
        )  # fmt: skip
    except (ValueError, WireSecurityError) as exc:
        print(f"labkit manager: {exc}", file=sys.stderr)
        return 2
    if key_file and key is not None:
        path = Path(key_file)
        path.touch(mode=0o600)
        info = {
            "ip": args.ip,
            "request_port": server.request_port,
            "event_port": server.event_port,
            "key": key.decode(),
        }
        path.write_text(json.dumps(info), "utf-8")
        print(f"connection file (share it to connect; it holds the key): {key_file}", flush=True)
    print(
        f"labkit manager {server.uid} (pid {os.getpid()}): requests tcp://{args.ip}:{server.request_port}, "
        f"events tcp://{args.ip}:{server.event_port}, page {server.url or '-'}",
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
    finally:
        if key_file:
            Path(key_file).unlink(missing_ok=True)
    return 0
