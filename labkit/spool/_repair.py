"""``labkit repair PATH``: close a series a crash left open, using its journal.

The journal lists every frame that reached disk in a complete shard. Repair removes
half-written temp files, sets the array shape to the frames that exist, writes the final
metadata (status "repaired", per-frame timestamps/z, dropped count) and journals it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from labkit.spool._errors import SpoolError
from labkit.spool._io import jsonable, write_json_atomic
from labkit.spool._journal import Journal, journal_path, read_journal, shard_exists, summarize
from labkit.spool._layout import Layout


def repair_series(path: str | Path) -> dict[str, Any]:
    """Close the series at ``path``; returns ``{"path", "frames", "frames_dropped", "status"}``.

    Idempotent: a complete series is left unchanged (status "complete"). Raises
    ``FileNotFoundError`` / ``SpoolError`` when ``path`` is not a labkit series or has no journal.
    """
    from labkit.spool._open import _read_attrs

    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no series at {path}")
    attrs, method = _read_attrs(path)
    if attrs.get("status") in ("complete", "failed", "repaired"):
        return {
            "path": str(path),
            "frames": attrs.get("frames_written"),
            "frames_dropped": attrs.get("frames_dropped"),
            "status": attrs["status"],
        }
    jpath = journal_path(path)
    if not jpath.exists():
        raise SpoolError(f"{path} has no journal ({jpath.name}); it cannot be repaired")
    summary = summarize(read_journal(jpath), shard_exists(path))
    frames = summary["frames"]
    n = (max(frames["frame"]) + 1) if frames["frame"] else 0
    final = {
        **attrs,
        "status": "repaired",
        "repaired": time.time(),
        "frames_written": len(frames["frame"]),
        "frames_dropped": summary["frames_dropped"],
        "frames": frames,
    }
    if attrs.get("traces"):
        from labkit.spool._open_traces import repair_traces

        final["traces"] = repair_traces(path, method, attrs)
    if method == "zarr":
        for dirpath, _, files in os.walk(path):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    os.unlink(os.path.join(dirpath, name))
        root = json.loads((path / "zarr.json").read_text())
        root["attributes"]["labkit"] = jsonable(final)
        write_json_atomic(path / "zarr.json", root)
        layout = Layout.from_json(attrs["layout"])
        arr = json.loads((path / "0" / "zarr.json").read_text())
        arr["shape"] = list(layout.shape(n))
        write_json_atomic(path / "0" / "zarr.json", arr)
    else:  # single files: HDF5 keeps SWMR flags after a crash, TIFF tags cannot grow: use a sidecar
        write_json_atomic(path.with_name(path.name + ".json"), {"labkit": jsonable(final)})
    j = Journal(jpath)
    j.append({"event": "repaired", "time": time.time(), "frames": len(frames["frame"])})
    j.close()
    return {
        "path": str(path),
        "frames": len(frames["frame"]),
        "frames_dropped": summary["frames_dropped"],
        "status": "repaired",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labkit repair", description=__doc__)
    parser.add_argument(
        "paths", nargs="+", help="series to close (.ome.zarr directory, .h5 or .ome.tif)"
    )
    args = parser.parse_args(argv)
    code = 0
    for p in args.paths:
        try:
            r = repair_series(p)
        except (OSError, SpoolError, KeyError, ValueError) as exc:
            print(f"labkit repair: {p}: {exc}", file=sys.stderr)
            code = 1
            continue
        print(f"{r['path']}: {r['status']}, {r['frames']} frames, {r['frames_dropped']} dropped")
    return code
