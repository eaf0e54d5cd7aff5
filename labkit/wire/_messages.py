"""Typed, versioned wire messages (msgspec Structs in a tagged union).

Every message class derives from :class:`Message`, carries a tag (its class name, in the ``msg``
field on the wire) and a version field ``v``. A receiver that does not know the tag or speaks another
version raises :class:`~labkit.wire.WireDecodeError` instead of guessing. Upper layers may add their
own message types with :func:`register_message`.
"""

from __future__ import annotations

import traceback as _traceback
from typing import Any, NoReturn

import msgspec

from labkit.wire._errors import exception_from_remote, type_name


class Message(msgspec.Struct, tag=True, tag_field="msg", kw_only=True):
    """Base of all wire messages. ``v`` is the message version (bump it when fields change)."""

    v: int = 1


class Request(Message):
    """Call ``method`` with keyword ``params`` on the other side; answered by Reply or ErrorReply."""

    id: int
    method: str
    params: dict[str, Any] = {}


class Reply(Message):
    """Successful answer to the :class:`Request` with the same ``id``."""

    id: int
    result: Any = None


class ErrorReply(Message):
    """Failed answer to a request: qualified exception ``type``, ``message`` and remote ``traceback``."""

    id: int
    type: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, id: int, exc: BaseException) -> ErrorReply:
        """Describe ``exc`` (raised while serving request ``id``) for sending back to the caller."""
        try:
            if isinstance(exc, KeyError) and len(exc.args) == 1:
                message = str(exc.args[0])  # str(KeyError('x')) adds quotes; keep the key itself
            else:
                message = str(exc)
        except Exception:  # a broken __str__ must not break the error path
            message = repr(exc.args)
        try:
            text = "".join(_traceback.format_exception(exc))
        except Exception:  # pragma: no cover - defensive
            text = ""
        return cls(id=id, type=type_name(type(exc)), message=message, traceback=text)

    def to_exception(self) -> BaseException:
        """The local exception: the registered class of ``type`` if any, else RemoteError."""
        return exception_from_remote(self.type, self.message, self.traceback)

    def raise_(self) -> NoReturn:
        """Raise :meth:`to_exception` (a registered labkit class, or :class:`RemoteError`)."""
        raise self.to_exception()


class Event(Message, kw_only=True):
    """A notification on ``topic`` (state, health, log, error, property, spool, ...).

    ``seq`` increases by one per event from one source to one receiver; ``lost`` is the running
    total of events that source had to drop for this receiver (it never blocks on a slow one);
    ``epoch`` changes when the source starts counting afresh (a restarted server).
    """

    v: int = 2
    topic: str
    payload: Any = None
    seq: int = 0
    lost: int = 0
    epoch: int = 0


_MESSAGE_TYPES: dict[str, type[Message]] = {}
_VERSIONS: dict[type[Message], int] = {}


def register_message(cls: type[Message]) -> type[Message]:
    """Make a :class:`Message` subclass decodable (usable as a class decorator).

    Raises:
        TypeError: ``cls`` is not a Message subclass.
        ValueError: another class already uses the same tag.
    """
    if not (isinstance(cls, type) and issubclass(cls, Message)):
        raise TypeError(f"register_message expects a labkit.wire.Message subclass, got {cls!r}")
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{type_name(cls)} must use a str tag (the default class name)")
    other = _MESSAGE_TYPES.get(tag)
    if other is not None and other is not cls:
        raise ValueError(
            f"message tag {tag!r} of {type_name(cls)} is already used by {type_name(other)}; "
            "rename the class or pass tag='...' in its class definition"
        )
    _MESSAGE_TYPES[tag] = cls
    _VERSIONS[cls] = _default_version(cls)
    return cls


def _default_version(cls: type[Message]) -> int:
    for field in msgspec.structs.fields(cls):
        if field.name == "v":
            return int(field.default)
    return 1  # pragma: no cover - every Message has v


def message_type(tag: object) -> type[Message] | None:
    """The registered message class for a wire tag, or None."""
    return _MESSAGE_TYPES.get(tag) if isinstance(tag, str) else None


def message_version(cls: type[Message]) -> int:
    """The version this side speaks for ``cls`` (the default of its ``v`` field)."""
    return _VERSIONS[cls]


for _cls in (Request, Reply, ErrorReply, Event):
    register_message(_cls)
del _cls
