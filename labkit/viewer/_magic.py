"""IPython magics: ``%load_ext labkit.viewer`` then ``%watch x y`` and ``%manager``.

``%watch x y`` watch · ``%watch -d x`` (or ``-s``) stop · ``%watch -x x`` (or ``-r``) stop and
close the windows · ``%watch -z`` stop all (``-xz``: and close their windows) ·
``%watch --restore [x]`` reconnect a restored workspace · ``%watch -m 1 x`` into manager 1 ·
``%watch`` list watched names. The flags are erlab's (``-s``/``-r`` are labkit's older spellings).

``%manager`` (or ``%manager list``) lists the live managers · ``%manager use 1`` makes manager 1
the default · ``%manager current`` shows the default · ``%manager clear`` forgets it.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

__all__ = ["load_ipython_extension", "manager_magic", "unload_ipython_extension", "watch_magic"]


class _ArgumentError(ValueError):
    """A ``%watch`` / ``%manager`` line that does not parse (the message shows the usage)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never SystemExit inside a kernel
        raise _ArgumentError(f"{message}\n{self.format_usage()}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%watch", add_help=False)
    p.add_argument("names", nargs="*")
    p.add_argument("-d", "-s", "--stop", dest="stop", action="store_true")
    p.add_argument("-x", "-r", "--remove", dest="remove", action="store_true")
    p.add_argument("-z", "--stop-all", dest="stop_all", action="store_true")
    p.add_argument("--restore", action="store_true")
    p.add_argument("-m", "--manager", "-t", "--target", dest="target", default=None)
    p.add_argument("--source-label", dest="source_label", default=None)
    return p


def watch_magic(shell: Any, line: str) -> list[str]:
    """Run ``%watch <line>`` for ``shell``; returns the watched names.

    Raises:
        ValueError: the line does not parse (the message shows the usage).
    """
    from labkit.viewer._watch_api import watch, watched_variables

    args = _parser().parse_args(shlex.split(line, comments=True))  # "%watch x  # note"
    if not (args.names or args.stop_all or args.restore or args.stop or args.remove):
        return watched_variables(shell=shell)
    target = int(args.target) if args.target and args.target.lstrip("-").isdigit() else args.target
    return watch(
        *args.names,
        shell=shell,
        stop=args.stop,
        remove=args.remove,
        stop_all=args.stop_all,
        restore=args.restore,
        target=target,
        source_label=args.source_label,
    )


def manager_magic(line: str) -> Any:
    """Run ``%manager <line>``: ``list`` (default), ``use <index>``, ``current``, ``clear``.

    Raises:
        ValueError: another command (the message lists them).
    """
    from labkit.viewer._target import (
        clear_default_manager,
        get_default_manager,
        managers,
        set_default_manager,
    )

    parts = line.split()
    command = parts[0] if parts else "list"
    if not parts or (command == "list" and len(parts) == 1):
        return managers()
    if command == "use" and len(parts) == 2:
        target = parts[1]
        return set_default_manager(int(target) if target.lstrip("-").isdigit() else target)
    if command == "current" and len(parts) == 1:
        return get_default_manager()
    if command == "clear" and len(parts) == 1:
        clear_default_manager()
        return None
    raise ValueError(f"usage: %manager [list | use <index> | current | clear], got {line!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%watch`` and ``%manager`` (called by ``%load_ext labkit.viewer``)."""

    def _watch(line: str) -> list[str]:
        return watch_magic(ipython, line)

    def _manager(line: str) -> Any:
        return manager_magic(line)

    _watch.__doc__ = _manager.__doc__ = __doc__
    ipython.register_magic_function(_watch, "line", "watch")
    ipython.register_magic_function(_manager, "line", "manager")


def unload_ipython_extension(ipython: Any) -> None:
    from labkit.viewer._watch_api import shutdown

    shutdown()
