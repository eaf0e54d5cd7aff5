"""Run in a child process by the fault tests: spool from a SimHost, report as JSON on stdout.

usage: python spool_child.py DIR MODE [FSIZE_BYTES]
MODE "crash": spool forever (the parent kills us); "fsize": spool under RLIMIT_FSIZE;
"crash-traces-zarr"/"crash-traces-hdf5": spool forever with a trace stream fed at 500 Hz.
"""

from __future__ import annotations

import json
import resource
import signal
import sys

from spool_host import SimHost, StreamHost, slow_zarr_sink

from labkit.spool import SpoolController


def main() -> None:
    dirname, mode = sys.argv[1], sys.argv[2]
    traces = mode.startswith("crash-traces")
    # the ring's shared memory is sized before the limit applies
    host = (
        StreamHost(capacity=100_000, feed_hz=500, rate_hz=200) if traces else SimHost(rate_hz=200)
    )
    if mode.startswith("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of dying
        limit = int(sys.argv[3])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    ctl = SpoolController(host, dir_pattern=dirname)
    method = {"fsize-tiff": "tiff", "crash-hdf5": "hdf5", "crash-tiff": "tiff"}.get(mode, "zarr")
    comp = "lz4" if method == "zarr" and mode != "crash-zarr-raw" else None
    if mode in ("crash-hdf5-lz4", "crash-tiff-zstd"):  # compressed single-file series
        method, comp = mode.split("-")[1:]
    extra: dict = {}
    if traces:  # trace rows journaled five times a second
        method, extra = mode.rsplit("-", 1)[1], {"trace_streams": ["daq"], "fsync_interval_s": 0.2}
    if mode == "crash-drops":  # a disk too slow for the camera: the spool drops frames
        ctl.register_acquisition_type("slow", slow_zarr_sink(0.25))
        method, extra = "slow", {"queue_shards": 2}
    h = ctl.start(
        fn="series",
        method=method,
        compression=comp,
        shard_seconds=0.02 if mode == "fsize-tiff" else 0.1,
        preflight_mode="skip",
        max_frames=None if mode.startswith("crash") else 200,
        **extra,
    )
    print(json.dumps({"path": str(h.path)}), flush=True)
    if mode.startswith("crash"):
        h.wait()  # until killed
    try:
        h.wait(timeout=60)
        out = {"error": None}
    except OSError as exc:
        out = {"error": str(exc), "type": type(exc).__name__}
    p = h.progress
    out.update(
        frames_written=p.frames_written,
        state=p.state,
        progress_error=p.error,
        events=[e["event"] for _, e in host.events],
    )
    host.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
