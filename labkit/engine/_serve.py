"""``labkit engine``: serve an engine so notebooks can ``lk.connect(...)`` to it.

Examples::

    labkit engine                                   # this machine: a private ipc socket
    labkit engine --address tcp://0.0.0.0:45600     # other machines: CURVE keys, see below
    labkit engine --address tcp://0.0.0.0:45600 --keys-file ~/rig-keys.json   # same keys each run
    labkit engine --config rig.yaml                 # devices, properties and nodes from a file

Every engine writes a connection file (mode 0600) and prints its path: ``lk.connect(path)`` reaches
it. For TCP the file holds the keys a client needs; copy it to the notebook machine (``scp``) and
keep it private. With ``--keys-file`` the keys survive restarts, so the copy stays valid.

The same loop runs the child process of ``Scope(mode="process")`` (``--parent-pid``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from labkit.devices import DeviceFactory
from labkit.engine._devices import DevicesSpec, build_devices
from labkit.engine._scope_settings import add_nodes, set_bead_rois, set_device_properties
from labkit.engine._server import ENGINE_DIR_PREFIX, EngineServer, LogForwardHandler
from labkit.engine._settings_file import SettingsError, read_settings
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
        "--devices-kwargs",
        default=None,
        metavar="JSON",
        help="keyword arguments of the --devices factory as a JSON object, e.g. "
        '\'{"config": "MMConfig.cfg"}\'',
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
    p.add_argument(
        "--config",
        default=None,
        metavar="RIG.YAML",
        help="a settings file (docs/settings.md): builds the devices from its devices section "
        "(unless --devices is given), sets its properties and adds its nodes",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the simulated devices (0)")
    p.add_argument(
        "--shape", default=None, help="simulated camera shape 'height,width' in pixels (2048,2048)"
    )
    p.add_argument(
        "--ring-slots", type=int, default=None, help="frames held by the shared-memory ring (64)"
    )
    p.add_argument("--log-level", default="INFO", help="log level (name or number)")
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _devices_spec(args: argparse.Namespace) -> DevicesSpec:
    """``--devices`` (and its ``--devices-kwargs``) as a devices spec.

    Raises:
        ValueError: kwargs without a factory, or kwargs that are not a JSON object.
    """
    if args.devices_kwargs is None:
        return args.devices
    if not args.devices:
        raise ValueError("--devices-kwargs needs --devices PACKAGE.MODULE:FUNCTION")
    try:
        kwargs = json.loads(args.devices_kwargs)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--devices-kwargs is not JSON ({exc}); pass e.g. '{{\"seed\": 1}}'"
        ) from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--devices-kwargs must be a JSON object, not {args.devices_kwargs!r}")
    return DeviceFactory(args.devices, **kwargs)


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
        rig = read_settings(args.config) if args.config else None
        built = rig.engine if rig is not None else {}
        shape = tuple(int(v) for v in args.shape.split(",")) if args.shape else None
        devices = build_devices(
            _devices_spec(args) or (rig.devices if rig is not None else None),
            seed=built.get("seed", 0) if args.seed is None else args.seed,
            shape=shape or built.get("shape", (2048, 2048)),  # type: ignore[arg-type]
        )
        try:
            if rig is not None:
                set_device_properties(devices, rig)
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
                ring_slots=args.ring_slots or built.get("ring_slots", 64),
            )
        except BaseException:
            _close_devices(devices)
            raise
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

    failed: list[str] = []

    def ready(address: str) -> None:
        if rig is not None:
            try:
                add_nodes(server.engine, rig)
                set_bead_rois(server.engine, rig)
            except SettingsError as exc:
                failed.append(str(exc))
                print(f"labkit engine: {exc}", file=sys.stderr, flush=True)
                server.request_stop()
                return
            if rig.spool:
                log.info("the spool section of %s is for notebooks: scope.settings.load() it "
                         "there", rig.source)  # fmt: skip
        if not child:
            print(
                f"labkit engine serving on {address} (pid {os.getpid()}); connection file "
                f"{server.rpc.connection_file}; Ctrl-C to stop",
                flush=True,
            )

    try:
        code = server.serve(ready)
        return 2 if failed else code
    finally:
        root.removeHandler(forward)
        if server.parent_gone:
            remove_engine_dir(args.address)


def remove_engine_dir(address: str | None) -> bool:
    """Remove the private directory a process-mode Scope made for this engine (``address`` is
    ``ipc://<tmp>/labkit-engine-XXXX/engine.sock``): its parent, killed, could not. Anything
    else is left alone. Returns whether a directory was removed."""
    path = str(address or "")
    if not path.startswith("ipc://"):
        return False
    directory = Path(path.removeprefix("ipc://")).parent
    if not (
        directory.name.startswith(ENGINE_DIR_PREFIX)
        and directory.parent == Path(tempfile.gettempdir())
    ):
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return not directory.exists()


def _close_devices(devices: dict) -> None:
    """Release devices an engine will not serve after all (a refused setting, a port in use)."""
    for device in devices.values():
        try:
            device.close()
        except Exception:
            log.exception("closing %r failed", device)
