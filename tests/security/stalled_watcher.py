"""A notebook-like process watching a variable; commands on stdin, answers on stdout (JSON).

Commands: ``status`` (its watch info and the value of x), ``push`` (change x and push it).
"""

from __future__ import annotations

import json
import sys

import numpy as np

import labkit.viewer as lv

ns = {"x": np.zeros(8)}
lv.watch("x", namespace=ns, poll_interval_s=None, target=sys.argv[1])
print(
    json.dumps({"ready": True, "client_id": lv.watch_info()["watchers"][0]["client_id"]}),
    flush=True,
)
for line in sys.stdin:
    command = line.strip()
    if command == "push":
        ns["x"] = ns["x"] + 1
        lv.maybe_push()
    info = lv.watch_info()["watchers"][0]
    print(json.dumps({"events_lost": info["events_lost"], "x": ns["x"].tolist()}), flush=True)
lv.shutdown()
