"""Wire exceptions, :class:`RemoteError` and the registry of exception types re-raised by name.

A process that fails while serving a request sends an :class:`~labkit.wire.ErrorReply` carrying the
exception's qualified type name, message and formatted traceback. The receiving side turns it back
into an exception with :func:`exception_from_remote`:

- if the type name matches a class registered with :func:`register_error` (labkit's own errors and a
  few builtins such as ``ValueError``), that class is instantiated with the message, so
  ``except PropertyLimitError`` works across processes;
- otherwise a :class:`RemoteError` is raised.

Classes are only ever looked up in the registry: a type name coming off the wire is never imported.
"""

from __future__ import annotations

import importlib
import logging
import threading

from labkit.errors import LabkitError

logger = logging.getLogger(__name__)


class WireError(LabkitError):
    """Base class of every error raised by :mod:`labkit.wire`."""


class WireDecodeError(WireError, ValueError):
    """Frames could not be decoded: garbage, truncated, wrong buffer count, unknown type or version.

    Reply to the sender with an error (``ErrorReply.from_exception(0, exc)``) and drop the message;
    nothing in it was executed.
    """


class WireEncodeError(WireError, TypeError):
    """An object cannot be sent: unsupported type, object dtype or a non-JSON-able xarray attribute.

    The message names the path of the offending value and says how to convert it.
    """


class RemoteError(LabkitError):
    """An exception raised in another process (engine, viewer manager) whose type is not registered.

    Attributes:
        remote_type: qualified type name of the remote exception, e.g. ``"builtins.ZeroDivisionError"``.
        remote_message: ``str()`` of the remote exception.
        remote_traceback: the remote formatted traceback (text), also shown as a note.
    """

    def __init__(self, remote_type: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"{remote_type}: {message}")
        self.remote_type = remote_type
        self.remote_message = message
        self.remote_traceback = remote_traceback


_REGISTRY: dict[str, type[BaseException]] = {}
_DEFAULTS_LOADED = False
_DEFAULTS_LOCK = threading.Lock()

_BUILTIN_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    LookupError,
    AttributeError,
    RuntimeError,
    NotImplementedError,
    TimeoutError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    ZeroDivisionError,
)

# labkit exception types registered on first lookup (layers below wire only; buffers is a sibling
# layer and upper layers register their own errors, e.g. RingError, with register_error)
_LABKIT_ERRORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "labkit.devices",
        (
            "PropertyError",
            "PropertyLimitError",
            "PropertyValueError",
            "PropertyReadOnlyError",
            "UnknownPropertyError",
            "ActionArgumentError",
            "UnknownActionError",
        ),
    ),
)


def type_name(cls: type) -> str:
    """Qualified name used on the wire for an exception class: ``module.QualName``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_error(cls: type[BaseException]) -> type[BaseException]:
    """Let exceptions of ``cls`` raised in another process be re-raised locally as ``cls``.

    Usable as a class decorator. The class must accept the message as its only positional
    argument (``cls(message)``); if it does not, a :class:`RemoteError` is raised instead.

    Raises:
        TypeError: ``cls`` is not an exception class.
    """
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        raise TypeError(f"register_error expects an exception class, got {cls!r}")
    _REGISTRY[type_name(cls)] = cls
    return cls


def registered_error(name: str) -> type[BaseException] | None:
    """The registered class for a qualified type name, or None (never imports ``name``)."""
    _load_defaults()
    return _REGISTRY.get(name)


def _load_defaults() -> None:
    global _DEFAULTS_LOADED
    if _DEFAULTS_LOADED:
        return
    with _DEFAULTS_LOCK:
        if not _DEFAULTS_LOADED:
            _register_defaults()
            _DEFAULTS_LOADED = True


def _register_defaults() -> None:
    wire_errors = (WireError, WireDecodeError, WireEncodeError)
    for cls in (*_BUILTIN_ERRORS, *wire_errors):
        _REGISTRY.setdefault(type_name(cls), cls)
    for module_name, names in _LABKIT_ERRORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # pragma: no cover - layer not built
            continue
        for name in names:
            found = getattr(module, name, None)
            if isinstance(found, type) and issubclass(found, BaseException):
                _REGISTRY.setdefault(type_name(found), found)


def exception_from_remote(remote_type: str, message: str, remote_traceback: str) -> BaseException:
    """Build the local exception for a remote error (registered class, else :class:`RemoteError`).

    The remote traceback is attached as a note, and for registered classes also as ``__cause__``
    (a :class:`RemoteError`), so the notebook shows where it failed in the other process.
    """
    remote = RemoteError(remote_type, message, remote_traceback)
    if remote_traceback:
        remote.add_note(f"Remote traceback:\n{remote_traceback.rstrip()}")
    cls = registered_error(remote_type)
    if cls is None:
        return remote
    try:
        exc = cls(message)
    except Exception:  # the class needs other arguments: keep the generic form
        logger.debug("cannot rebuild %s from its message; raising RemoteError", remote_type)
        return remote
    exc.remote_type = remote_type  # type: ignore[attr-defined]
    exc.remote_traceback = remote_traceback  # type: ignore[attr-defined]
    exc.__cause__ = remote
    return exc
