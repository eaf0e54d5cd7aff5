"""``labkit engine`` as a child process, for tests and benchmarks of remote engines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServedEngine", "serve_engine"]


@dataclass
class ServedEngine:
    """A ``labkit engine`` process and what a client needs to reach it; :meth:`stop` ends it."""

    proc: subprocess.Popen
    address: str
    connection_file: str

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s (idempotent)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def serve_engine(
    runtime: str | os.PathLike,
    address: str,
    *args: str,
    shape: str = "256,256",
    prefix: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> ServedEngine:
    """Start ``labkit engine --address ADDRESS ARGS`` with its runtime directory ``runtime`` (mode
    0700), under ``prefix`` (e.g. ``("ip", "netns", "exec", NAME)``), with ``env`` added to
    this process's environment (e.g. ``HOME``: where its spooler writes); returns once it serves.

    Raises:
        RuntimeError: it did not start (its first line of output is quoted).
    """
    env = {**os.environ, **(env or {}), "LABKIT_RUNTIME_DIR": str(Path(runtime))}
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "labkit.cli", "engine", "--address", address,
         "--shape", shape, "--log-level", "WARNING", *args],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "serving on " not in line:
        proc.kill()
        proc.wait(5)
        proc.stdout.close()
        raise RuntimeError(f"labkit engine did not start: {line!r}")
    served_at = line.split("serving on ")[1].split()[0]
    connection_file = line.split("connection file ")[1].split(";")[0]
    return ServedEngine(proc, served_at, connection_file)
