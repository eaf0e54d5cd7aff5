"""Scopes still open when the interpreter exits are closed then (a notebook's kernel shutting down)."""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope

log = logging.getLogger(__name__)

__all__ = ["close_at_exit"]

# scopes this process opened, by the pid that opened them (closing a closed scope does nothing)
_open_scopes: weakref.WeakKeyDictionary[Scope, int] = weakref.WeakKeyDictionary()


def close_at_exit(scope: Scope) -> None:
    """Close ``scope`` as the interpreter exits, unless it is closed (or collected) before."""
    _open_scopes[scope] = os.getpid()


@atexit.register
def _close_open_scopes() -> None:
    """Close every scope this process opened and did not close, as the interpreter exits.

    A notebook's scope stays open while the notebook is (Run All leaves its views live); when the
    kernel shuts down, this releases its engine, child process, shared memory and sockets. A forked
    child inherits this handler and copies of the scopes but not their engines: it closes only the
    scopes its own process opened.
    """
    for scope, pid in list(_open_scopes.items()):
        if pid == os.getpid():
            try:
                scope.close()
            except Exception:
                log.exception("closing %s at exit failed", scope._label)
