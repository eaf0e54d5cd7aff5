"""Typed events: one msgspec Struct per topic, and the registry from topic to Struct.

A scope's subscribers receive :class:`labkit.wire.Event` objects whose ``payload`` is plain data
(what travels over the wire, unchanged for remote clients and the front end). :func:`parse` turns
one into the Struct registered for its topic::

    from labkit.engine import events

    def on_event(event):
        prop = events.parse(event, events.PropertyEvent)   # None for other topics
        if prop is not None:
            print(prop.device, prop.name, prop.value)
        match events.parse(event):                           # any registered topic
            case events.StateEvent(state=state, reason=reason):
                print("engine", state, reason)

Emit sites build the Struct and send ``to_payload(topic, struct)``; a plain payload is checked
against the topic's Struct the same way. A payload that does not fit its Struct, or a topic nobody
registered, raises :class:`EventPayloadError` / :class:`UnknownTopicError` when the environment
variable ``LABKIT_STRICT_EVENTS=1`` is set (the test suite sets it, and child engine processes
inherit it); otherwise the event is sent as it is and a warning is logged once per topic, so a
mistake in an event never stops an experiment.

Registering a topic is one decorator on a Struct in this module::

    @topic("mda")
    class MdaEvent(EngineEvent):
        '''Progress of a multi-dimensional acquisition.'''

        index: int
        total: int
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, overload

import msgspec

from labkit.engine._state import EngineState
from labkit.engine._streams import StreamInfo
from labkit.errors import LabkitError
from labkit.wire import Event

log = logging.getLogger(__name__)

__all__ = [
    # registry
    "EngineEvent",
    "topic",
    "topics",
    "parse",
    "to_payload",
    "checked",
    "strict",
    "STRICT_ENV",
    # errors
    "EventPayloadError",
    "UnknownTopicError",
    # topics
    "StateEvent",
    "HealthEvent",
    "PropertyEvent",
    "RingEvent",
    "StreamsEvent",
    "ProgressEvent",
    "LogEvent",
    "ErrorEvent",
    "SpoolEvent",
    "ProtocolEvent",
    "LinkEvent",
    # parts
    "ReaderHealth",
    "CameraHealth",
    "NodeHealth",
]

#: set to ``1`` to raise on a bad event instead of logging a warning
STRICT_ENV = "LABKIT_STRICT_EVENTS"


class EventPayloadError(LabkitError, ValueError):
    """An event's payload does not match the Struct registered for its topic."""


class UnknownTopicError(LabkitError, LookupError):
    """An event on a topic no Struct is registered for (the message lists the topics)."""


class EngineEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every event payload; ``topic`` is set by :func:`topic` when the class registers."""

    topic: ClassVar[str] = ""


class _Part(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A nested record of an event payload."""


E = TypeVar("E", bound=EngineEvent)

_TOPICS: dict[str, type[EngineEvent]] = {}
_warned: set[str] = set()
_warned_lock = threading.Lock()


def topic(name: str) -> Callable[[type[E]], type[E]]:
    """Class decorator: register a Struct as the payload of events on topic ``name``.

    Raises:
        TypeError: the class is not an :class:`EngineEvent`.
        ValueError: another class already has this topic.
    """

    def register(cls: type[E]) -> type[E]:
        if not (isinstance(cls, type) and issubclass(cls, EngineEvent)):
            raise TypeError(f"@topic({name!r}) needs an EngineEvent subclass, got {cls!r}")
        other = _TOPICS.get(name)
        if other is not None and other is not cls:
            raise ValueError(f"topic {name!r} is already registered to {other.__qualname__}")
        cls.topic = name
        _TOPICS[name] = cls
        return cls

    return register


def topics() -> dict[str, type[EngineEvent]]:
    """``{topic: Struct}`` of every registered topic."""
    return dict(_TOPICS)


def strict() -> bool:
    """True when bad events raise (``LABKIT_STRICT_EVENTS=1``), False when they log a warning."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def _struct_of(name: str) -> type[EngineEvent]:
    cls = _TOPICS.get(name)
    if cls is None:
        raise UnknownTopicError(
            f"no event Struct is registered for topic {name!r}; topics: {', '.join(_TOPICS)}. "
            f"Register one in labkit/engine/events.py with @topic({name!r})"
        )
    return cls


def _convert(name: str, payload: Any, cls: type[E]) -> E:
    try:
        return msgspec.convert(payload, cls)
    except msgspec.ValidationError as exc:
        raise EventPayloadError(
            f"the payload of a {name!r} event does not match {cls.__qualname__}: {exc}"
        ) from None


@overload
def parse(event: Event) -> EngineEvent: ...
@overload
def parse(event: Event, as_type: type[E]) -> E | None: ...
def parse(event: Event, as_type: type[E] | None = None) -> EngineEvent | E | None:
    """The payload of ``event`` as the Struct registered for its topic.

    With ``as_type`` (e.g. ``events.StateEvent``) events on other topics give None, so a
    subscriber can pick its topic in one line.

    Raises:
        UnknownTopicError: no Struct is registered for the event's topic (without ``as_type``).
        EventPayloadError: the payload does not match the Struct.
    """
    if as_type is not None:
        if event.topic != as_type.topic:
            return None
        return _convert(event.topic, event.payload, as_type)
    return _convert(event.topic, event.payload, _struct_of(event.topic))


def _problem(name: str, exc: LabkitError) -> None:
    if strict():
        raise exc
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    log.warning("%s (sent anyway; set %s=1 to raise instead)", exc, STRICT_ENV)


def to_payload(name: str, payload: Any) -> Any:
    """The wire payload of an event on topic ``name``: a Struct as plain data, checked.

    ``payload`` is the topic's Struct or plain data of the same shape. A mismatch or an
    unregistered topic raises in strict mode (see :func:`strict`), else logs a warning once per
    topic and returns the payload as plain data as far as it can.

    Raises:
        EventPayloadError: (strict mode) the payload does not match the topic's Struct.
        UnknownTopicError: (strict mode) nothing is registered for ``name``.
    """
    cls = _TOPICS.get(name)
    if isinstance(payload, msgspec.Struct):
        try:
            plain = _lists(msgspec.to_builtins(payload))
        except TypeError as exc:
            _problem(name, EventPayloadError(f"the {name!r} event cannot be sent: {exc}"))
            return msgspec.structs.asdict(payload)
        if cls is not None and type(payload) is not cls:
            _problem(
                name,
                EventPayloadError(
                    f"a {type(payload).__qualname__} was sent on topic {name!r}, whose payload "
                    f"is {cls.__qualname__}"
                ),
            )
            return plain
        payload = plain
    if cls is None:
        try:
            _struct_of(name)
        except UnknownTopicError as exc:
            _problem(name, exc)
        return payload
    try:
        _convert(name, payload, cls)
    except EventPayloadError as exc:
        _problem(name, exc)
    return payload


def _lists(obj: Any) -> Any:
    """Tuples as lists, as JSON and msgpack carry them (and as plain payloads always had them)."""
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_lists(v) for v in obj]
    return obj


def checked(emit: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    """Wrap an ``emit(topic, payload)`` callable so every payload goes through :func:`to_payload`."""

    def emit_checked(name: str, payload: Any) -> None:
        emit(name, to_payload(name, payload))

    return emit_checked


# -- topics ----------------------------------------------------------------------------------------


@topic("state")
class StateEvent(EngineEvent, omit_defaults=True):
    """The engine changed state; ``reason`` says why it ``failed`` (empty otherwise)."""

    state: EngineState
    previous: EngineState
    reason: str = ""


class ReaderHealth(_Part):
    """One reader of a frame ring: frames behind the newest, frames it lost."""

    lag: int
    frames_lost: int


class CameraHealth(_Part):
    """One camera's acquisition figures (``HealthEvent.streams`` by stream name)."""

    frames_acquired: int
    fps: float
    frames_late: int
    ring_fill: float
    readers: dict[str, ReaderHealth]
    ring_name: str | None


class NodeHealth(_Part):
    """One processing node's figures (``HealthEvent.nodes`` by node name)."""

    state: str
    input: str
    mode: str
    frames_in: int = 0
    frames_out: int = 0
    frames_lost: int = 0
    lag: int = 0
    ms_per_frame: float = 0.0
    error: str | None = None
    pid: int | None = None  # a node in a worker process


@topic("health")
class HealthEvent(EngineEvent):
    """Acquisition health, about once a second (the fields of ``ScopeHealth``).

    The top-level figures are the first camera's; ``streams`` has every camera's.
    """

    state: EngineState
    frames_acquired: int
    fps: float
    ring_fill: float
    readers: dict[str, ReaderHealth] = {}
    uptime_s: float = 0.0
    frames_late: int = 0
    ring_name: str | None = None
    streams: dict[str, CameraHealth] = {}
    nodes: dict[str, NodeHealth] = {}


@topic("property")
class PropertyEvent(EngineEvent):
    """Property ``name`` of ``device`` changed to ``value`` (whoever set it)."""

    device: str
    name: str
    value: Any


@topic("ring")
class RingEvent(EngineEvent):
    """A camera's frame ring was replaced (its frame shape or dtype changed): reopen readers."""

    stream: str
    ring_name: str
    shape: tuple[int, ...]
    dtype: str


@topic("streams")
class StreamsEvent(EngineEvent):
    """The engine's streams changed (a node added or removed, a ring replaced): all of them now."""

    streams: dict[str, StreamInfo]


@topic("progress")
class ProgressEvent(EngineEvent):
    """A device action reports progress; ``call_id`` names the call (``proxy.home(progress=fn)``)."""

    device: str
    action: str
    call_id: str
    fraction: float
    message: str


class BeadRoi(_Part):
    """A bead ROI: top-left ``(y, x)``, height ``h`` and width ``w`` in frame px."""

    name: str
    y: int
    x: int
    h: int
    w: int


@topic("tracking")
class TrackingEvent(EngineEvent):
    """The bead ROIs changed (``scope.tracking.rois``): all of them now."""

    rois: list[BeadRoi]


@topic("bead_lock")
class BeadLockEvent(EngineEvent):
    """The bead lock changed state (``off``, ``searching``, ``locked``, ``lost``); ``reason``
    says why on ``lost``. ``error`` is the last (x px, y px, z µm) error (None: not measured),
    ``correction_um`` the stage's (x, y, z) offset from where the lock engaged, ``target`` the
    held position."""

    state: str
    previous: str
    reason: str
    bead: str
    tracker: str
    error: list[float | None]
    correction_um: list[float | None]
    target: list[float | None]
    stage_moves: int


@topic("log")
class LogEvent(EngineEvent):
    """A log record of the engine (the ``logging.LogRecord`` fields of the same names)."""

    name: str
    levelno: int
    levelname: str
    msg: str
    pathname: str
    lineno: int
    funcName: str
    created: float
    process: int | None
    processName: str | None
    threadName: str | None
    exc_text: str | None


@topic("error")
class ErrorEvent(EngineEvent):
    """Something failed where no call could raise it.

    ``where`` is ``"engine"`` (the engine died), ``"acquisition:<camera or signal>"`` or
    ``"node:<name>"``; ``type`` is the exception's class name.
    """

    type: str
    message: str
    where: str


@topic("spool")
class SpoolEvent(EngineEvent):
    """A spooled series started, progressed (~4 Hz), ended, or passed preflight with warnings.

    ``event`` is ``started``, ``progress``, ``finished``, ``failed``, ``cancelled`` or
    ``preflight_warning`` (which carries ``problems`` and no figures). Rates in MB/s, times in s.
    """

    event: str
    series: str
    state: str = ""
    path: str = ""
    frames_written: int = 0
    frames_read: int = 0
    frames_expected: int | None = None
    frames_dropped: int = 0
    frames_discarded: int = 0
    frames_skipped_moving: int = 0
    mb_s_in: float = 0.0
    mb_s_out: float = 0.0
    mb_written: float = 0.0
    ring_fill: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    error: str | None = None
    problems: list[str] = []


@topic("protocol")
class ProtocolEvent(EngineEvent):
    """A protocol run (an MDA sequence or a script, ``labkit.protocols``) changed: its status.

    ``state`` is ``pending``, ``running``, ``paused``, ``done``, ``cancelled`` or ``failed``;
    ``index`` the MDA axes of the current event (``{"t": 0, "z": 3}``), empty for scripts.
    """

    id: str
    kind: str
    state: str
    step: str = ""
    index: dict[str, int] = {}
    steps_done: int = 0
    steps_total: int = 0
    frames_done: int = 0
    frames_total: int = 0
    path: str = ""
    error: str | None = None
    error_type: str | None = None


@topic("link")
class LinkEvent(EngineEvent):
    """The network link to a remote TCP engine went ``down`` or came back ``up`` (the engine
    itself goes on; docs/remote.md). ``downs`` counts the times it went down."""

    state: str
    address: str
    downs: int
