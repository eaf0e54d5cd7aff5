"""Low-level file writes: gathered writes of many buffers, atomic small files."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_IOV_MAX = 512


def write_all(fd: int, buffers: Sequence[Any]) -> int:
    """Write every buffer in order with ``os.writev`` (large sequential writes, no joining copy).

    Returns the bytes written; raises ``OSError`` (ENOSPC, EFBIG, EACCES...) from the kernel.
    """
    views = [memoryview(b).cast("B") for b in buffers if len(memoryview(b).cast("B"))]
    total = 0
    i = 0
    while i < len(views):
        n = os.writev(fd, views[i : i + _IOV_MAX])
        total += n
        while n:
            v = views[i]
            if n >= len(v):
                n -= len(v)
                i += 1
            else:
                views[i] = v[n:]
                n = 0
    return total


def write_file_atomic(path: Path, buffers: Sequence[Any], fsync: bool) -> int:
    """Write ``buffers`` to ``path`` through a hidden temp file and ``rename``.

    A reader (or a crash) sees either the old file, no file, or the complete new one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        n = write_all(fd, buffers)
        if fsync:
            os.fdatasync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.close(fd)
    os.replace(tmp, path)
    return n


def write_file_renamed(path: Path, buffers: Sequence[Any]) -> int:
    """Write to a hidden temp file, rename it into place and return the still-open descriptor.

    The caller fdatasyncs and closes it later (the flusher thread), so the disk flushes one
    shard while the next is being written. A crash leaves either no file or a complete one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, buffers)
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return fd


def write_json_atomic(path: Path, obj: Any, fsync: bool = True) -> None:
    data = json.dumps(obj, indent=2, allow_nan=False, default=_json_default).encode()
    write_file_atomic(path, [data], fsync)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def jsonable(obj: Any) -> Any:
    """A JSON-safe copy (numpy scalars -> Python, unknown objects -> repr, NaN -> None)."""
    import math

    def fix(x: Any) -> Any:
        if isinstance(x, dict):
            return {str(k): fix(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [fix(v) for v in x]
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, str | int | bool) or x is None or isinstance(x, float):
            return x
        return fix(_json_default(x))

    return fix(obj)
