"""Servers and browsers that labkit's test and bench helpers start die with their owner, even when
the owner is killed with SIGKILL (a test timed out, a bench CLI was killed): nothing is left to load
the machine for the rest of the run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request

import psutil
import pytest

from labkit.testing._servers import JupyterServerError, VoilaServer, marimo_run


def _owner(code: str) -> tuple[subprocess.Popen, dict]:
    """A Python child running ``code``, which prints one JSON line once its children run."""
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = owner.stdout.readline()
    assert line, f"the owner exited first (code {owner.wait()})"
    return owner, json.loads(line)


def _reap(owner: subprocess.Popen) -> None:
    """SIGKILL the owner (nothing of it runs after) and close its pipes."""
    owner.kill()
    owner.wait()
    owner.stdin.close()
    owner.stdout.close()


def _killed_owner_leaves_nothing(owner: subprocess.Popen, pids: list[int]) -> None:
    procs = [psutil.Process(pid) for pid in pids]
    assert all(p.is_running() for p in procs)
    _reap(owner)
    gone, alive = psutil.wait_procs(procs, timeout=60)
    assert alive == [], f"still running after their owner was killed: {alive}"


def test_a_process_started_with_die_with_parent_ends_when_its_owner_is_killed():
    owner, info = _owner("""
        import json, subprocess
        from labkit.testing._servers import die_with_parent
        child = subprocess.Popen(["sleep", "600"], start_new_session=True,
                                 preexec_fn=die_with_parent())
        print(json.dumps({"pid": child.pid}), flush=True)
        input()
    """)
    _killed_owner_leaves_nothing(owner, [info["pid"]])


@pytest.mark.slow
def test_a_voila_server_and_its_kernel_end_when_their_owner_is_killed(tmp_path):
    root = tmp_path / "voila"
    owner, info = _owner(f"""
        import json
        from labkit.testing._jupyter import write_notebook
        from labkit.testing._servers import VoilaServer
        server = VoilaServer({str(root)!r}).start(timeout_s=120)
        write_notebook(server.root / "nb.ipynb", ["import os\\nos.getpid()"])
        print(json.dumps({{"pid": server.proc.pid, "url": server.render_url("nb.ipynb")}}),
              flush=True)
        input()
    """)
    try:
        with urllib.request.urlopen(info["url"], timeout=120) as page:  # noqa: S310 - loopback
            page.read()  # Voila ran the notebook in a kernel of its own
        kernels = [p.pid for p in psutil.Process(info["pid"]).children(recursive=True)]
        assert kernels, "Voila started no kernel for the page"
        _killed_owner_leaves_nothing(owner, [info["pid"], *kernels])
    finally:
        if not owner.stdout.closed:
            _reap(owner)
        for p in psutil.process_iter(["cmdline"]):  # never leave the server behind a failure
            if str(root) in " ".join(p.info["cmdline"] or []):
                p.kill()


def test_marimo_run_failures_carry_the_log(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import marimo\napp = marimo.App()\n")
    log = tmp_path / "marimo.log"
    with pytest.raises(KeyError) as info, marimo_run(app, log):
        raise KeyError("the page failed")
    (note,) = info.value.__notes__
    assert note.startswith("marimo log") and f"Running {app.name}" in note


def test_a_server_that_cannot_start_says_why(tmp_path):
    server = VoilaServer(tmp_path / "voila")
    server._command = lambda: [sys.executable, "-c", "import sys; print('no voila'); sys.exit(3)"]
    with pytest.raises(JupyterServerError, match="no voila"):
        server.start(timeout_s=60)
    assert server.proc is None
    assert not any(
        "no voila" in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
    )
    assert server.log_path.is_file()  # kept for the message; stop() removes the state directory
    server.stop()
    assert not server.state_dir.exists() and server.root.is_dir()  # the caller's root stays
    own = VoilaServer()  # a root of its own: removed too
    assert own.root.is_dir() and own.state_dir.is_dir()
    own.stop()
    assert not own.root.exists() and not own.state_dir.exists()
