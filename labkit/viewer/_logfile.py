"""The log file of ``labkit manager`` processes (erlab's ``get_log_file_path``).

Every ``labkit manager`` appends to one file per user, ``manager.log`` in the log directory
(``$LABKIT_LOG_DIR``, else ``$XDG_STATE_HOME/labkit``, else ``~/.local/state/labkit``), each line
with the manager's pid. The directory is 0700 and the file 0600: the log holds page URLs with
their tokens. A file past :data:`MAX_LOG_BYTES` is moved to ``manager.log.1`` when a manager
starts. The path is known without a live manager, so the log of one that died can be read.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["LOG_DIR_ENV", "MAX_LOG_BYTES", "get_log_file_path", "log_to_file"]

LOG_DIR_ENV = "LABKIT_LOG_DIR"
MAX_LOG_BYTES = 5 << 20


def _log_dir() -> Path:
    env = os.environ.get(LOG_DIR_ENV)
    if env:
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "labkit"


def get_log_file_path() -> Path:
    """The file ``labkit manager`` processes write their log to (it may not exist yet)."""
    return _log_dir() / "manager.log"


def log_to_file(level: int = logging.INFO) -> logging.FileHandler:
    """Append the root logger's records at ``level`` and above to :func:`get_log_file_path`
    (made 0600 in a 0700 directory); returns the handler. For the ``labkit manager`` process.

    Raises:
        OSError: the directory or file cannot be made.
    """
    path = get_log_file_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
        os.replace(path, path.with_name(path.name + ".1"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # an older file made with a looser mode
    os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(
        logging.Formatter("%(asctime)s pid %(process)d %(name)s %(levelname)s %(message)s")
    )
    logging.getLogger().addHandler(handler)
    return handler
