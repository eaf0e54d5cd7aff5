"""Where a series lives: a local path (the default, written with O_DIRECT and fdatasync) or any
fsspec store given as a URL (``memory://``, ``s3://bucket/...``, ``gs://``...).

An object store has no append, no rename and no fdatasync: every object is written whole by
one PUT, which either lands complete or not at all. :class:`ObjectStore` is the little the
spool needs from one (whole objects, byte ranges, listings), :class:`ObjectJournal` is the
journal as numbered segment objects (one per journal write).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

__all__ = [
    "LocalSeries",
    "ObjectJournal",
    "ObjectStore",
    "is_url",
    "read_object_journal",
    "series_location",
]


def is_url(location: Any) -> bool:
    """True for an fsspec URL of a store other than the local filesystem (``file://`` is local)."""
    if not isinstance(location, str) or "://" not in location:
        return False
    return location.split("://", 1)[0] not in ("file", "local")


def local_path(location: str | Path) -> Path:
    """A local series location as a Path (``file://`` URLs included, ``~`` expanded)."""
    text = str(location)
    if text.startswith(("file://", "local://")):
        text = text.split("://", 1)[1]
    return Path(text).expanduser()


class LocalSeries:
    """A series directory on the local filesystem, read with the same calls as :class:`ObjectStore`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.url = str(self.path)

    def get(self, relative: str, start: int | None = None, end: int | None = None) -> bytes:
        with open(self.path / relative, "rb") as fh:
            if start is not None:
                fh.seek(start, 2 if start < 0 else 0)
            return fh.read() if end is None else fh.read(end - fh.tell())

    def exists(self, relative: str = "") -> bool:
        return (self.path / relative).exists()

    def read_json(self, relative: str) -> Any:
        return json.loads((self.path / relative).read_text())


def series_location(
    location: str | Path, storage_options: dict[str, Any] | None = None
) -> LocalSeries | ObjectStore:
    """A series given as a local path or an fsspec URL, as something to read it through."""
    if is_url(location):
        return ObjectStore(str(location), storage_options)
    if storage_options:
        raise TypeError(
            f"storage_options are for fsspec URLs (s3://..., memory://...); {location} is a local path"
        )
    return LocalSeries(local_path(location))


class ObjectStore:
    """A series location in an fsspec filesystem: ``url`` (protocol + key) and what the spool
    reads and writes there.

    ``storage_options`` go to ``fsspec.url_to_fs`` (for S3: ``key``, ``secret``,
    ``client_kwargs={"endpoint_url": ...}``; s3fs also reads the usual ``AWS_*`` variables).
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        try:
            self.fs, self.root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            from labkit.spool._errors import SpoolError

            raise SpoolError(
                f"cannot open the store of {url!r}: {exc}. Install its fsspec backend "
                "(s3fs for s3://, gcsfs for gs://) or pass a local path"
            ) from exc
        self.protocol = url.split("://", 1)[0]
        self.root = self.root.rstrip("/")
        self.url = f"{self.protocol}://{self.root}"
        self.storage_options = dict(storage_options or {})

    def child(self, *parts: str) -> ObjectStore:
        """The store at ``url/part/...`` (same filesystem, same options)."""
        other = object.__new__(ObjectStore)
        other.fs, other.protocol, other.storage_options = (
            self.fs,
            self.protocol,
            self.storage_options,
        )
        other.root = "/".join([self.root, *(p.strip("/") for p in parts)])
        other.url = f"{self.protocol}://{other.root}"
        return other

    @property
    def name(self) -> str:
        return self.root.rsplit("/", 1)[-1]

    @property
    def parent(self) -> ObjectStore:
        parent = object.__new__(ObjectStore)
        parent.fs, parent.protocol, parent.storage_options = (
            self.fs,
            self.protocol,
            self.storage_options,
        )
        parent.root = self.root.rsplit("/", 1)[0]
        parent.url = f"{self.protocol}://{parent.root}"
        return parent

    def key(self, relative: str = "") -> str:
        return f"{self.root}/{relative}" if relative else self.root

    def put(self, relative: str, data: bytes | bytearray | memoryview) -> None:
        """One whole object (a single PUT: it exists complete or not at all)."""
        self.fs.pipe_file(self.key(relative), bytes(data))

    def get(self, relative: str, start: int | None = None, end: int | None = None) -> bytes:
        """An object, or bytes ``[start, end)`` of it (``start < 0``: from the end);
        ``FileNotFoundError`` if it does not exist."""
        return self.fs.cat_file(self.key(relative), start=start, end=end)

    def exists(self, relative: str = "") -> bool:
        self.fs.invalidate_cache(self.key(relative))
        return bool(self.fs.exists(self.key(relative)))

    def find(self, relative: str = "") -> set[str]:
        """Every object below ``relative``, as keys relative to this store."""
        prefix = self.key(relative)
        self.fs.invalidate_cache(prefix)  # listings are cached by some filesystems (s3fs)
        try:
            found = self.fs.find(prefix)
        except FileNotFoundError:
            return set()
        return {str(k)[len(self.root) + 1 :] for k in found}

    def names(self, relative: str = "") -> list[str]:
        """The entries directly below ``relative`` (names only; none when it does not exist)."""
        self.fs.invalidate_cache(self.key(relative))  # a series grows: never a stale listing
        try:
            entries = self.fs.ls(self.key(relative), detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def read_json(self, relative: str) -> Any:
        return json.loads(self.get(relative))

    def write_json(self, relative: str, obj: Any) -> None:
        from labkit.spool._io import _json_default

        data = json.dumps(obj, indent=2, allow_nan=False, default=_json_default).encode()
        self.put(relative, data)

    def __repr__(self) -> str:
        return f"<ObjectStore {self.url}>"


def journal_store(series: ObjectStore) -> ObjectStore:
    """Beside the series: ``NAME.ome.zarr.journal/`` holding numbered segments."""
    return series.parent.child(series.name + ".journal")


class ObjectJournal:
    """The journal in an object store: each ``append``/``append_many`` is one new segment
    object ``<seq>.jsonl`` (a PUT is atomic, so a segment is complete or absent); readers list
    the segments in order. ``sync`` has nothing to do: a segment is durable once its PUT returned.
    """

    def __init__(self, series: ObjectStore) -> None:
        self.store = journal_store(series)
        self._lock = threading.Lock()
        self._seq = len(self.store.names())  # a reopened journal continues after its segments

    def append(self, record: dict[str, Any], sync: bool = True) -> None:
        self.append_many([record])

    def append_many(self, records: list[dict[str, Any]], sync: bool = False) -> None:
        if not records:
            return
        data = "".join(json.dumps(r, separators=(",", ":"), allow_nan=True) + "\n" for r in records)
        with self._lock:
            self.store.put(f"{self._seq:010d}.jsonl", data.encode())
            self._seq += 1

    def sync(self) -> None:
        """Nothing: every segment was durable when its PUT returned."""

    def close(self) -> None:
        """Nothing to release (no descriptor is held)."""


def read_object_journal(series: ObjectStore, skip: set[str] | None = None) -> list[dict[str, Any]]:
    """Every record of the segments not in ``skip`` (names read are added to it), in order."""
    store = journal_store(series)
    records: list[dict[str, Any]] = []
    for name in store.names():
        if not name.endswith(".jsonl") or (skip is not None and name in skip):
            continue
        try:
            data = store.get(name)
        except FileNotFoundError:  # pragma: no cover - listed, then removed by someone else
            continue
        records.extend(json.loads(line) for line in data.splitlines() if line.strip())
        if skip is not None:
            skip.add(name)
    return records
