"""Owner liveness comes from the owner's lock on its segment, not from the PID in its name.

An owner in another PID namespace (a container) has a PID that means nothing here; the sweep must
leave its ring alone while it lives and remove it once it is gone, however it died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from labkit.buffers import RingReader, sweep_stale_segments
from labkit.buffers._shm import pid_alive
from labkit.testing import wait_until

_OWNER = """
import sys
from labkit.buffers import FrameRing
ring = FrameRing.create((8, 8), "uint16", n_slots=2)
ring.write(__import__("numpy").full((8, 8), 7, "uint16"))
print(ring.name, flush=True)
sys.stdin.read()   # until the test closes stdin (or kills us)
ring.close()
"""


def _dead_pid_here() -> int:
    """A PID no process has on this side (what a namespaced owner may well be called)."""
    with open("/proc/sys/kernel/pid_max") as fh:
        pid_max = int(fh.read())
    return next(p for p in range(pid_max - 2, 300, -1) if not pid_alive(p))


def _owner_in_new_pid_namespace(pid: int) -> subprocess.Popen:
    # sh is PID 1 of the new namespace; the python it forks gets the PID after ns_last_pid
    script = f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid; {sys.executable} -c '{_OWNER}'"
    return subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc", "sh", "-c", script],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.skipif(os.getuid() != 0, reason="new PID namespaces need root (CI runs as root)")
def test_a_ring_owned_in_another_pid_namespace_survives_sweeps_until_its_owner_dies():
    pid = _dead_pid_here()
    owner = _owner_in_new_pid_namespace(pid)
    try:
        name = owner.stdout.readline().strip()
        assert name.startswith(f"labkit-{pid}-"), name  # named after a PID dead on this side
        assert not pid_alive(pid)  # so a PID-based sweep would have deleted a live ring
        assert name not in sweep_stale_segments()
        assert os.path.exists(f"/dev/shm/{name}")
        with RingReader.attach(name, "from-the-host") as reader:
            assert reader.ring.owner_alive()
            assert reader.latest().data[0, 0] == 7
        owner.send_signal(signal.SIGKILL)  # unshare dies, and with it the namespace's processes
        owner.wait(10)
        wait_until(lambda: name in sweep_stale_segments() or not os.path.exists(f"/dev/shm/{name}"),
                   what="the sweep to remove the dead owner's ring")  # fmt: skip
        assert not os.path.exists(f"/dev/shm/{name}")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdin.close()
        owner.stdout.close()


def test_a_killed_owner_is_seen_dead_by_its_readers_at_once(tmp_path):
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        name = owner.stdout.readline().strip()
        with RingReader.attach(name, "watcher") as reader:
            assert reader.ring.owner_alive()
            owner.kill()
            owner.wait(10)
            assert not reader.ring.owner_alive()  # its lock went with it
        assert name in sweep_stale_segments()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdin.close()
        owner.stdout.close()


def test_segments_of_the_older_naming_scheme_are_never_swept():
    """labkit versions before owner locks named segments labkit_<pid>_<token> and had no lock:
    such a segment from a version still running must not be taken for a dead owner's."""
    import _posixshmem

    name = f"labkit_{_dead_pid_here()}_0123456789ab"
    fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        os.ftruncate(fd, 4096)
        assert name not in sweep_stale_segments()
        assert os.path.exists(f"/dev/shm/{name}")
    finally:
        os.close(fd)
        _posixshmem.shm_unlink("/" + name)
