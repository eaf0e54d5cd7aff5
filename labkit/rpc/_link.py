"""Timing logic of a stream link, on a given clock reading: link state from heartbeats, and a
token bucket that paces a sender to a byte rate (a slow link, emulated in the sender)."""

from __future__ import annotations

__all__ = ["LinkWatch", "TokenBucket"]


class LinkWatch:
    """``up`` from the first message; ``down`` when the connection drops (:meth:`disconnected`:
    libzmq's own heartbeats, which any arriving byte satisfies, cut a silent connection) or when
    no whole message arrived for ``timeout_s`` (a peer that still answers libzmq pings but sends
    nothing); ``up`` again with the next message. Ping after ``ping_s`` without sending (the
    server forgets a silent client). The transitions return True for the caller to publish.

    Raises ``ValueError`` unless ``0 < ping_s < timeout_s``.
    """

    def __init__(self, ping_s: float = 0.25, timeout_s: float = 5.0) -> None:
        if not 0 < ping_s < timeout_s:
            raise ValueError(f"need 0 < ping_s < timeout_s, got {ping_s}, {timeout_s}")
        self.ping_s, self.timeout_s = ping_s, timeout_s
        self.state = "connecting"
        self.last_rx: float | None = None
        self.last_tx: float | None = None
        self.down_since: float | None = None
        self.downs = 0

    def received(self, now: float) -> bool:
        """A message arrived; True if this brought the link up."""
        self.last_rx = now
        if self.state != "up":
            self.state, self.down_since = "up", None
            return True
        return False

    def sent(self, now: float) -> None:
        self.last_tx = now

    def should_ping(self, now: float) -> bool:
        return self.last_tx is None or now - self.last_tx >= self.ping_s

    def disconnected(self, now: float) -> bool:
        """The connection dropped; True if this took the link down."""
        if self.state == "up":
            self.state, self.down_since = "down", now
            self.downs += 1
            return True
        return False

    def check(self, now: float) -> bool:
        """True if the link just went down (silent for ``timeout_s``)."""
        if self.state == "up" and self.last_rx is not None and now - self.last_rx >= self.timeout_s:
            self.state, self.down_since = "down", now
            self.downs += 1
            return True
        return False

    def next_due(self, now: float) -> float:
        """Seconds until :meth:`check` or :meth:`should_ping` may change their answer."""
        due = [self.ping_s if self.last_tx is None else self.last_tx + self.ping_s - now]
        if self.state == "up" and self.last_rx is not None:
            due.append(self.last_rx + self.timeout_s - now)
        return max(0.0, min(due))


class TokenBucket:
    """Allow ``rate`` bytes per second with bursts of ``burst`` bytes (``rate`` None: no limit).

    A send that does not fit waits (the caller drops a display frame instead of queueing it).
    """

    def __init__(self, rate: float | None, burst: float | None = None, now: float = 0.0) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"rate must be > 0 bytes/s or None, got {rate!r}")
        self.rate = rate
        self.burst = float(burst if burst is not None else (rate or 0.0) / 4)
        self.tokens = self.burst
        self.stamp = now

    def _refill(self, now: float) -> None:
        if self.rate is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def allow(self, nbytes: int, now: float) -> bool:
        """True (and the bytes taken) if ``nbytes`` may go now. A message larger than the burst
        goes once the bucket is full, leaving it in debt (so the average rate holds)."""
        if self.rate is None:
            return True
        self._refill(now)
        if self.tokens >= min(nbytes, self.burst):
            self.tokens -= nbytes
            return True
        return False

    def wait_s(self, nbytes: int, now: float) -> float:
        """Seconds until :meth:`allow` of ``nbytes`` can succeed (0 without a limit)."""
        if self.rate is None:
            return 0.0
        self._refill(now)
        return max(0.0, (min(nbytes, self.burst) - self.tokens) / self.rate)
