"""Helpers of the remote tests: a network namespace joined to this one."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass


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
