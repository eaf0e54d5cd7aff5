"""The ``labkit`` command line: ``labkit demo | manager | engine | bench | repair``.

Each subcommand lives with the layer that owns it and exposes ``main(argv) -> int``;
this module only dispatches, so ``labkit --help`` stays fast.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading

# subcommand -> (module with main(argv), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("labkit.widgets._demo", "open a Voila dashboard of a simulated scope"),
    "manager": ("labkit.viewer._cli", "start a viewer manager (windows for watched xarray data)"),
    "engine": ("labkit.engine._serve", "serve an engine so remote notebooks can connect"),
    "bench": ("labkit.bench", "run benchmarks: table on stdout, JSON with --json"),
    "repair": ("labkit.spool._repair", "close a series left incomplete by a crash"),
}


def _usage() -> str:
    lines = ["usage: labkit <command> [options]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'labkit <command> --help' for the options of one command."]
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if argv[0] == "--version":
        from labkit import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"labkit: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (``kill``, ``timeout``, a service manager) shuts down like Ctrl-C, so servers,
        # browsers and kernels a command started are stopped too; manager/engine install their own
        signal.signal(signal.SIGTERM, _interrupt)
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
