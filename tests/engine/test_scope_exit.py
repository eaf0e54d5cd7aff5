"""A scope left open is closed when its interpreter exits (a notebook's kernel shutting down).

Each test runs a real Python process that opens scopes and exits without closing them, then
checks what it left: its engine child process, its shared-memory segments, warnings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

ROOT = Path(__file__).parents[2]


def _run(code: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
    )


def _segments_of(pids: set[int]) -> list[str]:
    return [
        n
        for n in os.listdir("/dev/shm")
        if n.startswith("labkit-") and int(n.split("-")[1]) in pids
    ]


def test_scopes_left_open_release_engine_process_and_shared_memory_at_exit():
    done = _run(
        """
        import os
        import labkit as lk

        thread = lk.Scope(shape=(64, 64))
        process = lk.Scope(shape=(64, 64), mode="process")
        for scope in (thread, process):
            scope.start()
            with scope.open_reader(name="peek") as reader:
                reader.next(timeout=30)   # frames are flowing
        children = [c.pid for c in __import__("psutil").Process().children(recursive=True)]
        print("PIDS", os.getpid(), *children, flush=True)
        # no close(): the interpreter exits with both scopes streaming
        """
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pids = {int(p) for p in done.stdout.split("PIDS")[1].split()}
    assert len(pids) >= 2, "the process-mode scope started no engine process"
    gone, alive = psutil.wait_procs([p for p in map(_process, pids) if p], timeout=10)
    assert not alive, f"left running: {[p.pid for p in alive]}"
    assert _segments_of(pids) == [], "shared memory left behind"
    # closed by the exit hook, before garbage collection would warn about a forgotten scope
    assert "was not closed" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def test_a_forked_child_exiting_leaves_the_parents_scope_running():
    done = _run(
        """
        import os, signal, sys, time, warnings
        import labkit as lk

        scope = lk.Scope(shape=(64, 64))
        scope.start()
        warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
        pid = os.fork()
        if pid == 0:
            sys.exit(0)   # runs the exit hooks in the child: they must leave the scope alone
        deadline = time.monotonic() + 30
        while (waited := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if waited[0] == 0:   # a child hanging in the exit hooks: end it, report it
            os.kill(pid, signal.SIGKILL)
            waited = os.waitpid(pid, 0)
        status = waited[1]
        with scope.open_reader(name="after") as reader:
            first = reader.next(timeout=30).index
            later = reader.next(timeout=30).index
        print("CHILD", os.waitstatus_to_exitcode(status), "STATE", scope.state.value,
              "FRAMES", later > first, flush=True)
        """
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "CHILD 0 STATE running FRAMES True" in done.stdout, done.stdout + done.stderr[-3000:]
