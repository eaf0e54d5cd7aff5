"""``%watch`` IPython magic: ``%load_ext labkit.viewer`` then ``%watch x y``.

``%watch x y`` watch · ``%watch -s x`` stop · ``%watch -r x`` stop and close windows ·
``%watch -z`` stop all · ``%watch --restore`` reconnect a restored workspace ·
``%watch`` list watched names.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension", "watch_magic"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%watch", add_help=False)
    p.add_argument("names", nargs="*")
    p.add_argument("-s", "--stop", action="store_true")
    p.add_argument("-r", "--remove", action="store_true")
    p.add_argument("-z", "--stop-all", action="store_true")
    p.add_argument("--restore", action="store_true")
    p.add_argument("-t", "--target", default=None)
    return p


def watch_magic(shell: Any, line: str) -> list[str]:
    """Run ``%watch <line>`` for ``shell``; returns the watched names."""
    from labkit.viewer._api import watch, watched_variables

    args = _parser().parse_args(shlex.split(line))
    if not (args.names or args.stop_all or args.restore or args.stop or args.remove):
        return watched_variables()
    return watch(
        *args.names,
        shell=shell,
        stop=args.stop,
        remove=args.remove,
        stop_all=args.stop_all,
        restore=args.restore,
        target=args.target,
    )


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%watch`` (called by ``%load_ext labkit.viewer``)."""

    def _watch(line: str) -> list[str]:
        return watch_magic(ipython, line)

    _watch.__doc__ = __doc__
    ipython.register_magic_function(_watch, "line", "watch")


def unload_ipython_extension(ipython: Any) -> None:
    from labkit.viewer._api import shutdown

    shutdown()
