"""Directory and series naming: date patterns and a letter counter (A, B, ... Z, BA, ...)."""

from __future__ import annotations

import os
import time
from pathlib import Path

DEFAULT_DIR_PATTERN = "~/labkit-data/%(year)d_%(month)02d_%(day)02d"
DEFAULT_SERIES_PATTERN = "%(day)d_%(month)d_series"

#: file extension of each spool method
EXTENSIONS = {"zarr": ".ome.zarr", "hdf5": ".h5", "tiff": ".ome.tif"}


def date_keys(t: float | None = None) -> dict[str, int | str]:
    """Keys usable in patterns: year, month, day, hour, minute, second, user."""
    tm = time.localtime(time.time() if t is None else t)
    return {
        "year": tm.tm_year,
        "month": tm.tm_mon,
        "day": tm.tm_mday,
        "hour": tm.tm_hour,
        "minute": tm.tm_min,
        "second": tm.tm_sec,
        "user": os.environ.get("USER", "user"),
    }


def expand(pattern: str, t: float | None = None) -> str:
    """Fill a ``%(year)d``-style pattern; raises ``ValueError`` naming unknown keys."""
    try:
        return pattern % date_keys(t)
    except KeyError as exc:
        raise ValueError(
            f"unknown key {exc} in pattern {pattern!r}; use year, month, day, hour, minute, second or user"
        ) from None


def num_to_letters(n: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'BA' (base 26 with A as zero, so names sort and never repeat)."""
    if n < 0:
        raise ValueError("counter must be >= 0")
    out = ""
    while True:
        out = chr(ord("A") + n % 26) + out
        n //= 26
        if n == 0:
            return out


def letters_to_num(s: str) -> int:
    n = 0
    for ch in s:
        if not "A" <= ch <= "Z":
            raise ValueError(s)
        n = n * 26 + ord(ch) - ord("A")
    return n


def strip_ext(name: str) -> str:
    for ext in sorted(EXTENSIONS.values(), key=len, reverse=True):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def next_series_name(dirname: Path, base: str) -> str:
    """The next unused ``<base>_<letters>`` in ``dirname`` (any extension counts as used; bases have no dots)."""
    return next_name_among(os.listdir(dirname) if dirname.is_dir() else [], base)


def next_name_among(names: list[str], base: str) -> str:
    """The next ``<base>_<letters>`` past every such name in ``names`` (entries of a directory
    or of an object store prefix)."""
    used = -1
    prefix = base + "_"
    for entry in names:
        stem = entry.split(".", 1)[0]  # any method's extension, sidecars and journals
        if stem.startswith(prefix):
            try:
                used = max(used, letters_to_num(stem[len(prefix) :]))
            except ValueError:
                continue
    return f"{base}_{num_to_letters(used + 1)}"
