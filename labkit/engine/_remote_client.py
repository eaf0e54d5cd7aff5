"""The client side of a remote engine: readers over the network and a spooler that runs there.

A Scope made by :func:`labkit.connect` on a TCP engine opens one :class:`RemoteStreams` (a
:class:`~labkit.rpc.StreamClient` to the engine's stream export). ``scope.open_reader(stream)``
then gives a :class:`RemoteFrameReader` or :class:`RemoteTraceReader`: the same reading methods
the widgets use on shared-memory readers (``latest``, ``wait``, ``lag``, ``read_new``), fed by
the network. While the link is down they raise :class:`LinkDownError` (the live view shows it in
red) and resume by themselves when it returns. ``scope.spool`` is a :class:`RemoteSpool`: series
are written on the engine's machine by a spooler beside the engine (``_remote_spool.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.buffers import Frame
from labkit.engine import events
from labkit.engine._state import EngineError
from labkit.engine._streams import StreamInfo
from labkit.rpc import ConnectionInfo, RpcClient
from labkit.rpc._stream_client import StreamClient, StreamLinkError, Subscription
from labkit.rpc._stream_wire import CODECS
from labkit.wire import Event

log = logging.getLogger(__name__)

__all__ = [
    "LinkDownError",
    "RemoteFrameReader",
    "RemoteStreams",
    "RemoteTraceReader",
    "check_stream_options",
]


class LinkDownError(EngineError, ConnectionError):
    """The network link to a remote engine is down; views resume when it returns."""


@dataclass(frozen=True)
class _RingShape:
    """What a view asks of ``reader.ring``: the frame shape and dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype
    n_slots: int = 1


STREAM_MODES = ("auto", "network", "shared")


def check_stream_options(streams: str, codec: str, credit: int) -> dict[str, Any]:
    """The options of :func:`labkit.connect` checked (``ValueError`` naming what is accepted)."""
    if streams not in STREAM_MODES:
        raise ValueError(f"streams must be one of {STREAM_MODES}, got {streams!r}")
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
    if not isinstance(credit, int) or not 1 <= credit <= 64:
        raise ValueError(f"credit is the frames in flight per view, 1 to 64; got {credit!r}")
    return {"streams": streams, "codec": codec, "credit": credit}


class RemoteStreams:
    """The stream link of one remote scope. ``streams``: ``auto`` (shared memory when the
    engine's buffers are on this machine), ``network`` or ``shared``; ``codec`` (``none``,
    ``lz4``, ``zstd``) and ``credit`` apply to the frames streams opened after they are set."""

    def __init__(
        self,
        rpc: RpcClient,
        on_event: Callable[[Event], None],
        streams: str = "auto",
        codec: str = "lz4",
        credit: int = 4,
    ) -> None:
        export = rpc.call("remote.export", {}, 10.0)
        info = rpc.info
        self.mode, self.codec, self.credit = streams, codec, credit
        self.max_bytes_s: float | None = None
        self._on_event = on_event
        self.client = StreamClient(
            ConnectionInfo(
                kind="streams",
                address=str(export["address"]),
                server_key=info.server_key,
                client_public=info.client_public,
                client_secret=info.client_secret,
            ),
            on_link=self._link_changed,
        )

    def _link_changed(self, state: str) -> None:
        link = events.LinkEvent(
            state=state, address=self.client.address, downs=self.client.link.downs
        )
        self._on_event(Event(topic="link", payload=events.to_payload("link", link)))

    @property
    def state(self) -> str:
        return self.client.link_state

    def link_info(self) -> dict[str, Any]:
        """``{"state", "downs", "reconnects", "address"}`` of the link (``Scope.link``)."""
        client = self.client
        return {
            "state": client.link_state,
            "downs": client.link.downs,
            "reconnects": max(0, client.connects - 1),
            "address": client.address,
        }

    def check(self) -> None:
        """Raise :class:`LinkDownError` while the link is down."""
        if self.client.link_state == "down":
            raise LinkDownError(
                f"the link to the engine at {self.client.address} is down; views resume when "
                "it returns (the engine goes on acquiring and spooling)"
            )

    def open(self, info: StreamInfo, name: str = "") -> Any:
        """A reader of ``info``'s stream over the network (close it)."""
        self.check()
        try:
            if info.kind == "frames":
                sub = self.client.subscribe(
                    info.name, codec=self.codec, credit=self.credit, max_bytes_s=self.max_bytes_s
                )
                return RemoteFrameReader(self, sub, info, name)
            sub = self.client.subscribe(info.name, credit=16)
        except StreamLinkError as exc:
            raise LinkDownError(str(exc)) from None
        return RemoteTraceReader(self, sub, info)

    def close(self) -> None:
        self.client.close()


class RemoteFrameReader:
    """A frames stream received over the network, read like a :class:`~labkit.buffers.RingReader`
    by the live view (``latest``, ``wait``, ``lag``, ``ring.shape``). ``frames_dropped``: display
    frames the engine skipped for this reader (a slow link); ``frames_lost`` stays 0 (nothing
    this reader read was torn)."""

    frames_lost = 0

    def __init__(
        self, streams: RemoteStreams, sub: Subscription, info: StreamInfo, name: str
    ) -> None:
        self._streams, self._sub, self.info, self.name = streams, sub, info, name
        self.ring = _RingShape(tuple(info.shape), np.dtype(info.dtype or "uint16"))
        self._last: int | None = None
        self.closed = False

    @property
    def frames_dropped(self) -> int:
        return self._sub.frames_dropped

    @property
    def frames_received(self) -> int:
        return self._sub.frames_received

    @property
    def lag(self) -> int:
        """1 if a frame newer than the last one read arrived, else 0."""
        frame = self._sub.latest()
        return int(frame is not None and (self._last is None or frame.index > self._last))

    def latest(self, copy: bool = True, out: np.ndarray | None = None) -> Frame | None:
        """The newest frame that arrived (its own array: ``copy`` changes nothing).

        Raises:
            LinkDownError: the link is down.  RingError-like LookupError: the stream went away.
        """
        self._streams.check()
        if self._sub.error is not None:
            raise LookupError(self._sub.error)
        frame = self._sub.latest()
        if frame is not None:
            self._last = frame.index
            if out is not None:
                np.copyto(out, frame.data)
        return frame

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a frame newer than the last one read arrived; False on timeout.

        Raises:
            LinkDownError: the link is down.
        """
        self._streams.check()
        return self._sub.wait(timeout, self._last)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sub.close()

    def __enter__(self) -> RemoteFrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteTraceReader:
    """A trace stream received over the network, read like a
    :class:`~labkit.buffers.TraceReader` (``read_new``, ``channels``, ``rows_lost``)."""

    def __init__(self, streams: RemoteStreams, sub: Subscription, info: StreamInfo) -> None:
        self._streams, self._sub, self.info = streams, sub, info
        self.channels = tuple(info.channels)
        self.rows_lost = 0
        self.closed = False

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Rows that arrived since the last call (none while the link is down)."""
        t, v, lost_total = self._sub.read_new()
        lost = max(0, lost_total - self.rows_lost)
        self.rows_lost = lost_total
        if v.shape[1] != max(1, len(self.channels)) and not t.size:
            v = np.empty((0, max(1, len(self.channels))))
        return t, v, lost

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sub.close()

    def __enter__(self) -> RemoteTraceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
