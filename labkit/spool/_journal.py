"""Append-only journal of a series: one JSON object per line, flushed after every shard.

It says exactly which frames exist on disk (frame number, ring index, timestamp, z, shard key)
and records events (start, dropped frames, errors, stop). A torn last line after a crash is
ignored by the reader.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def journal_path(series_path: Path) -> Path:
    """Beside the series: ``name.ome.zarr.journal.jsonl`` / ``name.h5.journal.jsonl``.

    (Not inside the zarr directory: zarr-python warns about files it does not know there.)
    """
    series_path = Path(series_path)
    return series_path.with_name(series_path.name + ".journal.jsonl")


class Journal:
    """Writer: ``append(record)`` is one ``write`` on an O_APPEND descriptor (+ fsync if asked)."""

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, record: dict[str, Any], sync: bool = True) -> None:
        """One line, one ``write``; fdatasync too when ``sync`` and the journal syncs at all."""
        line = json.dumps(record, separators=(",", ":"), allow_nan=True) + "\n"
        os.write(self._fd, line.encode())
        if sync and self._fsync:
            os.fdatasync(self._fd)

    def append_many(self, records: list[dict[str, Any]], sync: bool = False) -> None:
        """Several lines in one ``write`` (a batch of dropped ranges, synced marks...)."""
        if not records:
            return
        data = "".join(
            json.dumps(r, separators=(",", ":"), allow_nan=True) + "\n" for r in records
        ).encode()
        view = memoryview(data)
        while len(view):  # O_APPEND: a short write (rare) continues at the end
            view = view[os.write(self._fd, view) :]
        if sync and self._fsync:
            os.fdatasync(self._fd)

    def sync(self) -> None:
        if self._fsync and self._fd >= 0:
            os.fdatasync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def shard_exists(series_path: Path):
    """``exists(location)`` for :func:`summarize`: zarr shards must be on disk; single files always pass."""
    series_path = Path(series_path)

    def exists(location: str) -> bool:
        if not series_path.is_dir():
            return True
        return (series_path / location).is_file()

    return exists


def read_journal(path: Path) -> list[dict[str, Any]]:
    """All complete records; a torn or garbled line (crash mid-write) is skipped with a log line."""
    records: list[dict[str, Any]] = []
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return records
    for i, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            log.warning(
                "journal %s: skipping unreadable line %d (torn write after a crash)", path, i + 1
            )
    return records


def summarize(records: list[dict[str, Any]], exists: Any = None) -> dict[str, Any]:
    """Frames on disk (sorted per-frame columns), dropped count, events, and whether it stopped.

    ``exists(location) -> bool`` drops blocks whose shard is missing (listed, then lost in a
    power cut before it was synced).
    """
    frames: dict[str, list] = {
        "frame": [],
        "index": [],
        "timestamp_s": [],
        "exposure_ms": [],
        "z_um": [],
    }
    dropped = 0
    events = []
    start = None
    stopped = False
    for rec in records:
        ev = rec.get("event")
        if ev == "synced":
            continue
        if ev == "block":
            if exists is not None and not exists(rec["location"]):
                continue
            for key in frames:
                frames[key].extend(rec[key])
        elif ev == "start":
            start = rec
        elif ev == "dropped":
            dropped += int(rec.get("count", 0))
            events.append(rec)
        elif ev in ("stop", "repaired"):
            stopped = True
            events.append(rec)
        elif ev is not None:
            events.append(rec)
    order = sorted(range(len(frames["frame"])), key=frames["frame"].__getitem__)
    frames = {k: [v[i] for i in order] for k, v in frames.items()}
    return {
        "start": start,
        "frames": frames,
        "frames_dropped": dropped,
        "events": events,
        "stopped": stopped,
    }
