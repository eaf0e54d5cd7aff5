"""The Protocols type checkers see for ``scope.camera``/``.stage``/``.signal`` match the proxies the
scope really returns: every member exists on the proxy of the simulated device, settable members
are writable properties, read-only members are not, values and return values have the declared
types, and methods take the declared parameters. So the stubs cannot drift from the runtime.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

import pytest
import xarray as xr

from labkit.devices import ActionSpec, PropertySpec
from labkit.engine import CameraProxy, DeviceProxy, Scope, SignalProxy, StageProxy

_NAMES = {"xr": xr, "PropertySpec": PropertySpec, "ActionSpec": ActionSpec}
_SKIP_CALL = {"call_action"}  # needs an action name; its signature is still checked


def _members(proto: type) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(settable attributes, read-only properties, methods) of a Protocol, with their types."""
    hints = typing.get_type_hints(proto, localns=_NAMES)
    settable, readonly, methods = dict(hints), {}, {}
    for klass in proto.__mro__:
        if klass.__module__ != proto.__module__:
            continue
        for name, value in vars(klass).items():
            if isinstance(value, property) and name not in readonly:
                assert value.fget is not None
                readonly[name] = typing.get_type_hints(value.fget, localns=_NAMES)["return"]
            elif inspect.isfunction(value) and not name.startswith("_") and name not in methods:
                methods[name] = value
    return settable, readonly, methods


def _conforms(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is float:
        return isinstance(value, float | int) and not isinstance(value, bool)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(_conforms, value, args))
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(v, args[1]) for v in value.values())
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    return isinstance(value, origin or hint)


@pytest.fixture(scope="module", params=["thread", "process"])
def scope(request):
    with Scope(mode=request.param, shape=(64, 80), ring_slots=8) as scope:
        yield scope


PROTOCOLS = [("camera", CameraProxy), ("stage", StageProxy), ("signal", SignalProxy)]


@pytest.mark.parametrize(("kind", "proto"), PROTOCOLS, ids=[k for k, _ in PROTOCOLS])
def test_every_protocol_member_is_on_the_real_proxy(scope, kind, proto):
    proxy = getattr(scope, kind)
    assert isinstance(proxy, DeviceProxy) and proxy.kind == kind
    settable, readonly, methods = _members(proto)
    assert settable or readonly or methods
    specs = proxy.property_specs()
    for name, hint in settable.items():
        assert name in specs and not specs[name].readonly, f"{kind}.{name} is not settable"
        value = getattr(proxy, name)
        assert _conforms(value, hint), f"{kind}.{name} = {value!r} is not {hint}"
        setattr(proxy, name, value)  # writes back what it read
    for name, hint in readonly.items():
        assert name not in specs or specs[name].readonly, f"{kind}.{name} is settable"
        value = getattr(proxy, name)
        assert _conforms(value, hint), f"{kind}.{name} = {value!r} is not {hint}"
    for name, fn in methods.items():
        bound = getattr(proxy, name)
        declared = list(inspect.signature(fn).parameters.values())[1:]  # without self
        real = list(inspect.signature(bound).parameters.values())
        assert [(p.name, p.default) for p in real] == [(p.name, p.default) for p in declared], (
            f"{kind}.{name}{inspect.signature(bound)} differs from the Protocol"
        )
        if name in _SKIP_CALL:
            continue
        result = bound()
        hint = typing.get_type_hints(fn, localns=_NAMES)["return"]
        assert _conforms(result, hint), f"{kind}.{name}() returned {type(result)}, not {hint}"


def test_the_protocols_cover_what_the_proxies_add_for_each_kind():
    """A method the proxy gains for a kind (``_METHODS`` in ``_proxy``) is in that Protocol."""
    from labkit.engine._proxy import _ATTRIBUTES, _METHODS

    for kind, proto in PROTOCOLS:
        settable, readonly, methods = _members(proto)
        assert set(_METHODS.get(kind, ())) <= set(methods), kind
        assert set(_ATTRIBUTES.get(kind, ())) <= set(readonly), kind
