"""Server logs are read for problems; marimo's answer to a message for a closed session is its own."""

from __future__ import annotations

from labkit.testing import log_problems, marimo_log_problems

LOG = """INFO:     127.0.0.1 - "GET / HTTP/1.1" 200
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "deps.py", line 173, in require_current_session
    raise ValueError(f"Invalid session id: {session_id}")
ValueError: Invalid session id: s_1a2b3c
INFO:     shutting down
Traceback (most recent call last):
  File "app.py", line 3, in _
    1 / 0
ZeroDivisionError: division by zero
Exception in thread labkit-pump:
"""


def test_log_problems_finds_every_traceback_and_thread_error():
    assert len(log_problems(LOG)) == 3


def test_marimo_log_problems_leaves_out_only_the_closed_session_answer():
    problems = marimo_log_problems(LOG)
    assert len(problems) == 2
    assert "ZeroDivisionError" in problems[0] and "Exception in thread" in problems[1]
    assert not any("Invalid session id" in p for p in problems)
