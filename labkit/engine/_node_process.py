"""A node in a worker process (``mode="process"``): for work that holds the GIL.

The worker (``python -m labkit.engine._node_worker``, its spec the first line of its stdin)
builds the node, maps the input ring itself and owns its output buffer; it talks to the engine over its stdin/stdout (JSON lines: this
is a parent and its own child, not a socket anyone else can reach). Killed or crashed, its output
disappears and the engine reports the node ``failed`` (health and an ``error`` event) while the
cameras keep streaming.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from labkit.engine._nodes import NodeError, plain_params
from labkit.engine._streams import StreamInfo

log = logging.getLogger(__name__)

__all__ = ["ProcessNodeRunner", "child_env"]


def child_env() -> dict[str, str]:
    """This process's environment, with its ``sys.path`` on the child's PYTHONPATH (so a child
    imports what this process can: device factories, node classes, commands)."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*paths, *extra]))
    return env


class ProcessNodeRunner:
    """Drives one node worker process."""

    mode = "process"

    def __init__(
        self,
        name: str,
        spec: str,
        params: dict[str, Any],
        input: StreamInfo,
        on_output: Callable[[StreamInfo], None],
        on_gone: Callable[[str], None],
        on_error: Callable[[str, BaseException], None],
    ) -> None:
        self.name = name
        self._on_output, self._on_gone, self._on_error = on_output, on_gone, on_error
        self._health: dict[str, Any] = {"state": "created", "input": input.name}
        self.output_info: StreamInfo | None = None
        self._closing = False
        self._lock = threading.Lock()
        payload = json.dumps(
            {"name": name, "node": spec, "params": plain_params(params), "input": input.to_json()}
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labkit.engine._node_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=child_env(), close_fds=True, start_new_session=True,
        )  # fmt: skip
        # the spec goes as the first line of stdin, not argv: parameters such as a bead
        # tracker's z table are larger than one argument may be (128 KiB on Linux)
        self._send_line(payload)
        self._ready = threading.Event()
        self._failure = ""
        self._thread = threading.Thread(target=self._read, name=f"labkit-node-{name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(60) or self._failure:
            self.close()
            raise NodeError(
                f"node {name!r} did not start in its worker process: "
                f"{self._failure or 'no answer in 60 s'}"
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                log.warning("node %s worker said: %s", self.name, line.rstrip())
                continue
            if "output" in msg:
                self.output_info = StreamInfo.from_json(msg["output"])
                self._on_output(self.output_info)
            elif "health" in msg:
                self._health = msg["health"]
                self._ready.set()
            elif "failed" in msg:  # could not even start (bad parameters, bad input)
                self._failure = msg["failed"]
                self._ready.set()
            elif "error" in msg:
                self._health = {**self._health, "state": "failed", "error": msg["error"]}
                self._on_error(self.name, NodeError(msg["error"]))
        code = self.proc.wait()
        self._ready.set()
        if not self._closing:
            stderr = self.proc.stderr.read()[-2000:] if self.proc.stderr is not None else ""
            reason = f"its worker process (pid {self.proc.pid}) exited with code {code}"
            self._health = {**self._health, "state": "failed", "error": reason}
            self._on_gone(self.name)
            self._on_error(
                self.name,
                NodeError(
                    f"node {self.name!r}: {reason}{(': ' + stderr.strip()) if stderr.strip() else ''}"
                ),
            )

    def _send(self, msg: dict[str, Any]) -> None:
        self._send_line(json.dumps(msg))

    def _send_line(self, line: str) -> None:
        with self._lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):  # the worker is gone: its reader reports it
                pass

    def follow(self, info: StreamInfo) -> None:
        self._send({"input": info.to_json()})

    def health(self) -> dict[str, Any]:
        return {**self._health, "mode": self.mode, "pid": self.proc.pid}

    @property
    def ident(self) -> int | None:
        return None

    def close(self) -> None:
        self._closing = True
        self._send({"stop": True})
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            log.warning("node %s worker did not stop in 10 s; killing it", self.name)
            self.proc.kill()
            self.proc.wait()
        if self._thread is not threading.current_thread():
            self._thread.join(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:  # stdin of a worker that died: nothing to flush to
                    pass
