"""Run in a child process by the kill -9 test: a sim scope spooling to S3 until killed.

usage: python s3_spool_child.py URL OPTIONS_JSON
"""

from __future__ import annotations

import json
import sys

import labkit as lk


def main() -> None:
    url, options = sys.argv[1], json.loads(sys.argv[2])
    with lk.Scope(shape=(64, 80)) as scope:
        scope.start()
        scope.spool.storage_options = options
        h = scope.spool.start(url, shard_seconds=0.1, preflight_mode="skip")
        print(json.dumps({"path": str(h.path)}), flush=True)
        h.wait()  # until killed


if __name__ == "__main__":
    main()
