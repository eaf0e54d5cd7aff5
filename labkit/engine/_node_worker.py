"""Entry point of a node worker process: ``python -m labkit.engine._node_worker``.

Reads its spec (``{"name", "node", "params", "input"}``) as the first line of stdin, then
``{"input": ...}`` and ``{"stop": true}`` lines on stdin (EOF: the engine is gone), writes
``{"output": ...}``, ``{"health": ...}`` every half second, ``{"error": ...}`` or ``{"failed": ...}``.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from labkit.engine._node_runner import NodeLoop
from labkit.engine._node_table import make_node
from labkit.engine._streams import StreamInfo

_HEALTH_S = 0.5


def _say(msg: dict[str, Any], lock: threading.Lock) -> None:
    with lock:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    spec = json.loads(sys.stdin.readline())
    lock = threading.Lock()
    try:
        node = make_node(spec["node"], spec["params"])
        loop = NodeLoop(
            spec["name"],
            node,
            StreamInfo.from_json(spec["input"]),
            on_output=lambda info: _say({"output": info.to_json()}, lock),
            on_error=lambda exc: _say({"error": f"{type(exc).__name__}: {exc}"}, lock),
        )
        loop.attach()  # before the first health message says the node is ready
        node.start()
    except Exception as exc:  # bad node, parameters or input: the engine raises it to the caller
        _say({"failed": f"{type(exc).__name__}: {exc}"}, lock)
        return 1
    worker = threading.Thread(target=loop.run, name="labkit-node", daemon=True)
    worker.start()
    done = threading.Event()

    def report() -> None:
        while not done.wait(_HEALTH_S):
            _say({"health": loop.health()}, lock)

    _say({"health": loop.health()}, lock)
    threading.Thread(target=report, daemon=True).start()
    for line in sys.stdin:  # EOF: the engine closed our stdin or died
        msg = json.loads(line)
        if msg.get("stop"):
            break
        if "input" in msg:
            loop.follow(StreamInfo.from_json(msg["input"]))
    loop.stop()
    worker.join(10)
    done.set()
    node.close()
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
