"""Targets for spawned child processes in the buffers tests (importable by the child).

Only names and numbers cross the process boundary (as JSON over a pipe).
"""

from __future__ import annotations

import json
import time


def read_frames(ring_name: str, n: int, conn) -> None:
    """Attach a reader, say ready, read ``n`` frames and send back what it saw."""
    from labkit.buffers import RingReader

    with RingReader.attach(ring_name, name="child") as reader:
        conn.send_bytes(b"ready")
        seen = []
        for _ in range(n):
            frame = reader.next(timeout=10)
            seen.append(
                [
                    frame.index,
                    int(frame.data.sum(dtype="int64")),
                    int(frame.data[0, 0]),
                    frame.meta["z_um"],
                ]
            )
        conn.send_bytes(json.dumps({"frames": seen, "lost": reader.frames_lost}).encode())
        conn.recv_bytes()  # stay registered until the parent has looked at ring.stats()


def attach_and_exit(ring_name: str, trace_name: str, conn) -> None:
    """Attach to a ring and a trace buffer, read, and exit WITHOUT closing anything."""
    from labkit.buffers import FrameRing, TraceBuffer

    ring = FrameRing.attach(ring_name)
    reader = ring.reader("leaver")
    frame = reader.latest()
    trace = TraceBuffer.attach(trace_name)
    t, v = trace.reader().latest(3)
    conn.send_bytes(
        json.dumps({"index": frame.index, "value": int(frame.data[0, 0]), "t": t.tolist()}).encode()
    )
    # no close(): the process just ends, as a crashed or careless consumer would


def own_and_hang(conn) -> None:
    """Create a ring and a trace buffer, report their names, then wait to be killed."""
    import numpy as np

    from labkit.buffers import FrameRing, TraceBuffer

    ring = FrameRing.create((8, 8), "uint16", n_slots=2)
    trace = TraceBuffer.create(("v",), capacity=16)
    ring.write(np.ones((8, 8), np.uint16))
    conn.send_bytes(json.dumps({"ring": ring.name, "trace": trace.name}).encode())
    while True:
        time.sleep(1)
