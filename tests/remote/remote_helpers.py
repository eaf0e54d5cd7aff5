"""Helpers of the remote tests: a ``labkit engine`` process, a network namespace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Served:
    """A ``labkit engine`` process and what a client needs to reach it."""

    proc: subprocess.Popen
    address: str
    connection_file: str

    def stop(self) -> None:
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
    runtime: Path, address: str, *args: str, shape: str = "256,256", prefix: tuple[str, ...] = ()
) -> Served:
    """Start ``labkit engine --address ADDRESS`` (under ``prefix``, e.g. ``ip netns exec NS``)."""
    env = {**os.environ, "LABKIT_RUNTIME_DIR": str(runtime)}
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
        raise AssertionError(f"labkit engine did not start: {line!r}")
    served_at = line.split("serving on ")[1].split()[0]
    connection_file = line.split("connection file ")[1].split(";")[0]
    return Served(proc, served_at, connection_file)


@dataclass
class NetNs:
    """A network namespace ``name`` joined to this one: ``host_if`` here (``host_ip``), the
    engine side inside (``ns_ip``)."""

    name: str
    host_if: str
    host_ip: str
    ns_ip: str

    def exec_prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name)

    def link(self, up: bool) -> None:
        """Cut or restore the link (this side of the veth pair)."""
        subprocess.run(["ip", "link", "set", self.host_if, "up" if up else "down"], check=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)
