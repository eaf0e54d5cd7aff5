"""When to ping a quiet server and when to give up on it. Pure logic on a given clock reading."""

from __future__ import annotations

__all__ = ["Liveness"]


class Liveness:
    """Track the last message received; ping after ``ping_s`` of silence, dead after ``liveness_s``.

    Nothing is judged before the first message arrives (connecting has its own timeout).
    """

    def __init__(self, ping_s: float = 1.0, liveness_s: float = 5.0) -> None:
        if not 0 < ping_s < liveness_s:
            raise ValueError(
                f"need 0 < ping_s < liveness_s, got ping_s={ping_s}, liveness_s={liveness_s}"
            )
        self.ping_s, self.liveness_s = ping_s, liveness_s
        self.last_rx: float | None = None
        self.last_ping: float | None = None
        self.pings_sent = 0

    def received(self, now: float) -> None:
        self.last_rx = now

    def next_check(self, now: float) -> float | None:
        """Seconds until :meth:`check` may say something new (None: nothing to watch yet)."""
        if self.last_rx is None:
            return None
        due = [self.last_rx + self.liveness_s, self.last_rx + self.ping_s]
        if self.last_ping is not None and self.last_ping > self.last_rx:
            due[1] = self.last_ping + self.ping_s
        return max(0.0, min(due) - now)

    def check(self, now: float) -> str:
        """``"ok"``, ``"ping"`` (send one now; recorded) or ``"dead"``."""
        if self.last_rx is None:
            return "ok"
        silent = now - self.last_rx
        if silent >= self.liveness_s:
            return "dead"
        if silent >= self.ping_s and (
            self.last_ping is None
            or self.last_ping <= self.last_rx
            or now - self.last_ping >= self.ping_s
        ):
            self.last_ping = now
            self.pings_sent += 1
            return "ping"
        return "ok"
