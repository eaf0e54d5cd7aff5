"""Client side of the engine connection: a DEALER socket, pending calls and a receiver thread.

One call is in flight at a time (the engine runs commands one at a time anyway). The calling thread
sends its request and reads the socket itself until its reply arrives (waiting on the socket's
``zmq.FD`` and draining every waiting message after each wake-up, as its edge-triggered contract
requires), so a round trip costs no thread hand-off; events that arrive meanwhile go to ``on_event``
in order, before the reply is returned. Between calls the receiver thread drains the socket every
10 ms (events) and watches the engine process (death noticed within ~10 ms).
"""

from __future__ import annotations

import itertools
import logging
import select
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from labkit.engine import _wire as w
from labkit.engine._state import EngineDiedError

log = logging.getLogger(__name__)

__all__ = ["EngineConnection"]

_RECEIVER_TICK_S = 0.1  # a waiting caller re-checks for death / timeout this often
_IDLE_POLL_S = 0.01  # between calls, events are picked up within this delay
_REMOTE_SILENCE_S = 5.0  # health events arrive every second; silence this long means dead


class _Pending:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class EngineConnection:
    """A connection to an engine server at ``address``.

    Args:
        address: ZeroMQ endpoint of the engine's ROUTER.
        on_event: called with each ``labkit.wire.Event`` in order, on the receiver thread or the
            caller's thread (keep it short; the Scope only queues it).
        on_died: called once with a reason when the engine is found dead.
        proc: the engine's process when this side owns it (death is then detected by ``proc.poll()``
            within ~0.1 s); without it an engine silent for 5 s is taken as dead.
        key: HMAC key for signed messages.
    """

    def __init__(
        self,
        address: str,
        on_event: Callable[[w.Event], None],
        on_died: Callable[[str], None],
        proc: subprocess.Popen | None = None,
        key: str | bytes | None = None,
        label: str = "engine",
        death_note: Callable[[], str] | None = None,
    ) -> None:
        self.address = address
        self.key = key
        self._on_event = on_event
        self._on_died = on_died
        self._proc = proc
        self._death_note = death_note
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()  # the socket
        self._call_lock = threading.Lock()  # one call in flight; its caller reads the socket
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, 100_000)
        self._sock.connect(address)
        self._fd = int(self._sock.getsockopt(zmq.FD))  # type: ignore[arg-type]
        self._closed = False
        self.dead_reason: str | None = None
        self.garbage_received = 0
        self._last_rx = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"labkit-rx-{label}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self.dead_reason is None and not self._closed

    # -- calls -----------------------------------------------------------------------------------

    def call(self, method: str, params: dict | None = None, timeout_s: float | None = None) -> Any:
        """Send a request and wait for its reply.

        Raises:
            EngineDiedError: the engine died before answering (or was already dead).
            TimeoutError: no reply within ``timeout_s``.
            the remote exception (registered labkit/builtin types as themselves, else RemoteError).
        """
        if self.dead_reason is not None:
            raise EngineDiedError(self.dead_reason)
        if self._closed:
            raise EngineDiedError(
                "the connection to the engine is closed; create a new Scope or connect()"
            )
        req_id = next(self._ids)
        pending = _Pending()
        frames = w.encode_frames(w.Request(id=req_id, method=method, params=params or {}), self.key)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        if not self._call_lock.acquire(timeout=-1 if timeout_s is None else max(0.0, timeout_s)):
            raise TimeoutError(
                f"engine at {self.address} is still busy with another call after {timeout_s} s; "
                f"{method!r} was not sent"
            )
        try:
            self._pending[req_id] = pending
            try:
                with self._lock:
                    if self._closed:
                        raise EngineDiedError("the connection to the engine was closed")
                    if self.dead_reason is not None:
                        raise EngineDiedError(self.dead_reason)
                    self._sock.send_multipart(frames, copy=True)
                    self._drain_locked()
                while not pending.done.is_set():
                    wait_s = _RECEIVER_TICK_S
                    if deadline is not None:
                        wait_s = min(wait_s, deadline - time.monotonic())
                        if wait_s <= 0:
                            raise TimeoutError(
                                f"engine at {self.address} did not answer {method!r} within "
                                f"{timeout_s} s; check it is running (scope.health()) or restart it "
                                "(scope.restart())"
                            )
                    try:
                        select.select([self._fd], [], [], wait_s)
                    except (OSError, ValueError):  # closed under us
                        break
                    with self._lock:
                        if self._closed or self.dead_reason is not None:
                            break
                        self._drain_locked()
            finally:
                self._pending.pop(req_id, None)
        finally:
            self._call_lock.release()
        if not pending.done.is_set():
            raise EngineDiedError(self.dead_reason or "the connection to the engine was closed")
        if pending.error is not None:
            raise pending.error
        return pending.result

    # -- receiving -------------------------------------------------------------------------------

    def _drain_locked(self) -> None:
        sock = self._sock
        while int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:  # type: ignore[arg-type]
            frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            self._last_rx = time.monotonic()
            try:
                msg = w.decode_frames(frames, self.key)
            except Exception as exc:
                self.garbage_received += 1
                log.warning("dropped an undecodable message from the engine: %s", exc)
                continue
            if isinstance(msg, w.Event):
                try:
                    self._on_event(msg)
                except Exception:  # pragma: no cover - Scope's handler only queues
                    log.exception("event handler failed")
                continue
            pending = self._pending.get(getattr(msg, "id", -1))
            if pending is None:
                if isinstance(msg, w.ErrorReply):
                    log.warning("engine error for no pending call: %s: %s", msg.type, msg.message)
                continue
            if isinstance(msg, w.ErrorReply):
                pending.error = msg.to_exception()
            else:
                pending.result = getattr(msg, "result", None)
            pending.done.set()

    def _run(self) -> None:
        # Between calls, look for events every _IDLE_POLL_S without waiting on the socket: a thread
        # blocked on the socket would wake up with every reply and fight the caller for the GIL.
        while not self._closed:
            time.sleep(_IDLE_POLL_S)
            if self._call_lock.acquire(blocking=False):  # during a call its caller reads the socket
                try:
                    with self._lock:
                        if self._closed:
                            return
                        try:
                            self._drain_locked()
                        except zmq.ZMQError:
                            if self._closed:
                                return
                            raise
                finally:
                    self._call_lock.release()
            reason = self._check_dead()
            if reason is not None:
                self._die(reason)
                return

    def _check_dead(self) -> str | None:
        if self._proc is not None:
            code = self._proc.poll()
            if code is None:
                return None
            note = self._death_note() if self._death_note is not None else ""
            return (
                f"the engine process (pid {self._proc.pid}) exited with code {code}; "
                f"call scope.restart() (or scope.start()) to bring up a fresh engine{note}"
            )
        silence_s = _REMOTE_SILENCE_S * (12 if self._call_lock.locked() else 1)  # long commands
        if time.monotonic() - self._last_rx > silence_s:
            return (
                f"no message from the engine at {self.address} for {silence_s:g} s; check "
                "that 'labkit engine' is still running there, then connect() again"
            )
        return None

    def _die(self, reason: str) -> None:
        if self.dead_reason is not None:
            return
        self.dead_reason = reason
        for pending in list(self._pending.values()):
            pending.error = EngineDiedError(reason)
            pending.done.set()
        try:
            self._on_died(reason)
        except Exception:  # pragma: no cover
            log.exception("on_died handler failed")

    def close(self) -> None:
        """Stop the receiver thread and close the socket (pending calls fail with EngineDiedError)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)
        with self._lock:
            self._sock.close(linger=0)
        self._ctx.term()
        for pending in list(self._pending.values()):
            pending.error = EngineDiedError("the connection to the engine was closed")
            pending.done.set()
