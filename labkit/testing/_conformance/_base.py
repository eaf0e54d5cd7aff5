"""What every conformance check shares: :class:`Problem` (a check's verdict), ``need``, naming and
the engine's JSON conversion, and the fixes suggested when a check raises instead of failing."""

from __future__ import annotations

import json
from typing import Any

from labkit.errors import LabkitError

__all__ = [
    "FIXES",
    "Problem",
    "jsonable",
    "label",
    "need",
    "need_members",
    "need_settable_numbers",
    "strict_json",
]


#: what to do when a check raises instead of failing cleanly
FIXES = {
    "describe_json": "make describe() return only str, numbers, bools, None, lists and dicts "
    "(subclass labkit.devices.Device and extend its describe() instead of replacing it)",
    "property_round_trip": "accept every value inside a property's limits and choices, or refuse "
    "it with a PropertyError (e.g. PropertyLimitError) from _apply",
    "close_idempotent": "make close() safe to call twice (return early when already closed) and "
    "call super().close()",
    "listeners": "call every listener after a successful set (Device.set calls Device._notify)",
    "actions": "mark actions with @action and annotate every argument; let Device.call_action "
    "check the arguments before the method runs",
}


class Problem(LabkitError):
    """A check found the device wrong: ``problem`` (what) and ``fix`` (what to do)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def need(condition: Any, problem: str, fix: str) -> None:
    if not condition:
        raise Problem(problem, fix)


def label(dev: Any) -> str:
    """How reports name a device: ``"AcmeCamera 'camera'"``."""
    return f"{type(dev).__name__} {getattr(dev, 'name', '?')!r}"


def jsonable(value: Any) -> Any:
    """The engine's own conversion of values for the wire (numpy scalars, tuples)."""
    from labkit.engine._frames import jsonable as convert  # lazy: the engine is a layer up

    return convert(value)


def strict_json(value: Any, what: str, fix: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Problem(f"{what} is not JSON-able ({exc})", fix) from None


def need_members(dev: Any, protocol: type, members: tuple[str, ...], fix: str) -> None:
    """``dev`` has every member of a ``labkit.devices`` protocol (named in the problem)."""
    missing = [m for m in members if not hasattr(dev, m)]
    need(
        not missing and isinstance(dev, protocol),
        f"it lacks {', '.join(missing)} of the labkit.devices.{protocol.__name__} protocol",
        fix,
    )


def need_settable_numbers(dev: Any, names: tuple[str, ...]) -> None:
    """Each of ``names`` is a settable float/int property (a proxy reaches only properties)."""
    specs = dev.property_specs()
    for name in names:
        spec = specs.get(name)
        need(
            spec is not None and spec.kind in ("float", "int") and not spec.readonly,
            f"{name} is not a settable numeric property (a scope's proxy cannot reach it)",
            f"declare {name} = prop(float, units=..., low=..., high=...)",
        )
