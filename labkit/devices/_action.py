"""Device actions: methods a driver marks callable through the engine, with typed, checked arguments.

::

    from typing import Annotated
    from labkit.devices import Device, action, arg

    class Magnet(Device):
        kind = "magnet"

        @action(description="drive to the home switch")
        def home(self, speed_mm_s: Annotated[float, arg(units="mm/s", low=0.1, high=10)] = 1.0,
                 progress=None) -> float:
            ...
            progress(0.5, "halfway")       # optional: report progress (0..1, a message)
            return 0.0

Each argument is checked like a property (:class:`~labkit.devices.PropertySpec`: type, limits,
choices), so a bad one raises the same named errors, before the action runs. A parameter named
``progress`` receives a callable ``progress(fraction, message="")`` (a no-op when nobody listens);
it is not an argument callers pass. Actions are listed in ``describe()["actions"]`` and callable as
``scope.devices["magnet"].home(speed_mm_s=2)`` in every engine mode.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labkit.devices._property import PropertySpec, _kind_of
from labkit.errors import LabkitError

__all__ = [
    "ActionArgumentError",
    "ActionSpec",
    "Progress",
    "UnknownActionError",
    "action",
    "arg",
    "spec_of_callable",
]

#: ``progress(fraction, message="")``: fraction in [0, 1]
Progress = Callable[..., None]


class UnknownActionError(LabkitError, AttributeError, LookupError):
    """The device has no action of that name (the message lists those it has)."""


class ActionArgumentError(LabkitError, TypeError):
    """An action (or command) was called with an unknown or a missing argument."""


@dataclass(frozen=True)
class _Arg:
    fields: dict[str, Any]


def arg(
    *,
    units: str = "",
    low: float | None = None,
    high: float | None = None,
    allowed: tuple | list | None = None,
    description: str = "",
) -> _Arg:
    """Limits, units and choices of one action argument: ``Annotated[float, arg(units="mm")]``."""
    return _Arg(dict(units=units, low=low, high=high, allowed=allowed, description=description))


@dataclass(frozen=True)
class ActionSpec:
    """One action (or command): name, description, its arguments as specs, progress or not."""

    name: str
    description: str = ""
    args: tuple[PropertySpec, ...] = ()
    required: tuple[str, ...] = ()
    progress: bool = False
    engine: bool = False  # the callable takes the engine context (commands)

    def check(self, kwargs: dict[str, Any], owner: str = "") -> dict[str, Any]:
        """The arguments checked and coerced, defaults filled in.

        Raises:
            ActionArgumentError: an unknown or a missing argument (names the accepted ones).
            PropertyValueError, PropertyLimitError: a bad value (names the limit or choices).
        """
        if not isinstance(kwargs, dict):
            raise ActionArgumentError(f"arguments of {self.name} must be a dict of keywords")
        known = {a.name: a for a in self.args}
        unknown = sorted(set(kwargs) - set(known))
        where = f" of {owner}" if owner else ""
        if unknown:
            raise ActionArgumentError(
                f"{self.name}(){where} got unknown arguments {unknown}; it takes {self.signature()}"
            )
        missing = [n for n in self.required if n not in kwargs]
        if missing:
            raise ActionArgumentError(
                f"{self.name}(){where} needs {missing}; it takes {self.signature()}"
            )
        checked = {}
        for name, spec in known.items():
            if name in kwargs:
                checked[name] = spec.validate(kwargs[name], owner=f"{self.name}(){where}")
            elif spec.default is not None or name not in self.required:
                checked[name] = spec.default
        return checked

    def signature(self) -> str:
        parts = []
        for a in self.args:
            units = f" [{a.units}]" if a.units else ""
            default = "" if a.name in self.required else f"={a.default!r}"
            parts.append(f"{a.name}: {a.kind}{units}{default}")
        return f"({', '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "args": [a.to_json() for a in self.args],
            "required": list(self.required),
            "progress": self.progress,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActionSpec:
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            args=tuple(PropertySpec.from_json(a) for a in data.get("args", [])),
            required=tuple(data.get("required", [])),
            progress=bool(data.get("progress", False)),
        )


def spec_of_callable(fn: Callable[..., Any], name: str = "", description: str = "") -> ActionSpec:
    """The :class:`ActionSpec` of a function from its signature and annotations.

    Raises:
        TypeError: an argument without a supported annotation (float, int, bool, str, tuple[...],
            ``Literal[...]``, optionally ``Annotated[..., arg(...)]``), or ``*args``/``**kw``.
    """
    name = name or fn.__name__
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # a forward reference that does not resolve
        raise TypeError(f"cannot read the annotations of {name}: {exc}") from None
    args, required = [], []
    flags = {"progress": False, "engine": False}
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self":
            continue
        if p.name in flags:  # injected by the engine, not passed by callers
            flags[p.name] = True
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{name}: *args/**kwargs cannot be checked; name every argument")
        if p.name not in hints:
            raise TypeError(f"{name}: annotate argument {p.name!r} (e.g. {p.name}: float)")
        args.append(_arg_spec(name, p, hints[p.name]))
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
    doc = (fn.__doc__ or "").strip().splitlines()
    return ActionSpec(
        name=name,
        description=description or (doc[0] if doc else ""),
        args=tuple(args),
        required=tuple(required),
        progress=flags["progress"],
        engine=flags["engine"],
    )


def _arg_spec(owner: str, p: inspect.Parameter, hint: Any) -> PropertySpec:
    extra: dict[str, Any] = {}
    if typing.get_origin(hint) is typing.Annotated:
        hint, *meta = typing.get_args(hint)
        for m in meta:
            if isinstance(m, _Arg):
                extra = {k: v for k, v in m.fields.items() if v not in (None, "")}
    default = None if p.default is inspect.Parameter.empty else p.default
    kind: str
    item_kind: str | None
    length: int | None
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        kind, item_kind, length = "enum", _kind_of(type(choices[0]))[0], None
        extra["allowed"] = tuple(choices)
    else:
        try:
            kind, item_kind, length = _kind_of(hint)
        except TypeError as exc:
            raise TypeError(f"{owner}: argument {p.name!r}: {exc}") from None
        if extra.get("allowed") is not None:
            item_kind, kind = kind, "enum"
            extra["allowed"] = tuple(extra["allowed"])
    for key in ("low", "high"):
        if key in extra:
            extra[key] = float(extra[key])
    spec = PropertySpec(
        name=p.name, kind=kind, item_kind=item_kind, length=length, default=default, **extra
    )
    if default is not None:
        spec.validate(default, owner=owner)
    return spec


def action(fn: Callable[..., Any] | None = None, *, description: str = "") -> Any:
    """Mark a device method as an action (usable as ``@action`` or ``@action(description=...)``)."""

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__labkit_action__ = description  # type: ignore[attr-defined]
        return f

    return mark(fn) if fn is not None else mark
