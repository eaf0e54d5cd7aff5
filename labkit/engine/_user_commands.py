"""User commands: functions a user adds to an engine, called from the notebook like built-ins.

::

    def expose(engine, exposure_ms: float, frames: int = 1) -> float:
        '''Set the exposure of every camera; returns the mean of a snap.'''
        for cam in engine.cameras.values():
            cam.exposure_ms = exposure_ms
        ...

    scope = lk.Scope(commands=[expose])        # thread mode: any function
    scope = lk.Scope(mode="process", commands=["mylab.commands:expose"])   # importable
    scope.commands.expose(exposure_ms=20)

Arguments are checked like device properties (annotations, ``Annotated[float, arg(...)]``); a
first parameter named ``engine`` receives the :class:`~labkit.engine._engine.Engine` (its devices,
cameras, streams and ``emit``). Adding commands by import path runs code in the engine's process,
so only the engine's owner may (a process-mode child's parent); ``labkit engine`` serves the
commands it was started with (``--commands``) and refuses ``add_command`` from clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.devices import ActionSpec
from labkit.devices._action import spec_of_callable
from labkit.devices._factory import load_callable
from labkit.engine._state import EngineError

if TYPE_CHECKING:
    from labkit.engine._engine import Engine

__all__ = ["UnknownUserCommandError", "UserCommands", "load_function"]


class UnknownUserCommandError(EngineError, LookupError):
    """No user command of that name (the message lists those there are)."""


def load_function(path: str) -> Callable[..., Any]:
    """The function ``package.module:function``.

    Raises:
        ValueError: not that form, not importable, or not callable.
    """
    return load_callable(path)


class UserCommands:
    """The user commands of one engine."""

    def __init__(self, engine: Engine, allow_client_code: bool = True) -> None:
        self._engine = engine
        self.allow_client_code = allow_client_code
        self._commands: dict[str, tuple[Callable[..., Any], ActionSpec]] = {}

    def add_function(self, fn: Callable[..., Any], name: str = "") -> dict[str, Any]:
        """Add a function (from the engine's own process); returns its description.

        Raises:
            TypeError: arguments that cannot be checked (see :func:`spec_of_callable`).
            ValueError: the name is taken by a built-in or another command.
        """
        from labkit.engine._commands import COMMANDS

        spec = spec_of_callable(fn, name or fn.__name__)
        if spec.name in COMMANDS:
            raise ValueError(
                f"{spec.name!r} is a built-in engine command; add it under another name"
            )
        if spec.name in self._commands and self._commands[spec.name][0] is not fn:
            raise ValueError(f"a command named {spec.name!r} exists already; pick another name")
        self._commands[spec.name] = (fn, spec)
        return spec.to_json()

    def add(self, path: str, name: str = "") -> dict[str, Any]:
        """Add ``package.module:function`` at a client's request.

        Raises:
            PermissionError: this engine does not accept code from its clients.
        """
        if not self.allow_client_code:
            raise PermissionError(
                "this engine does not run code its clients name; add commands where it runs "
                "(labkit engine --commands package.module:function)"
            )
        return self.add_function(load_function(path), name)

    def describe(self) -> dict[str, Any]:
        return {name: spec.to_json() for name, (_, spec) in self._commands.items()}

    def run(self, name: str, args: dict[str, Any]) -> Any:
        """Check the arguments and run command ``name``; returns its result.

        Raises:
            UnknownUserCommandError: no such command.
            ActionArgumentError, PropertyError: bad arguments (before anything runs).
        """
        found = self._commands.get(name)
        if found is None:
            known = ", ".join(self._commands) or "none yet (scope.commands.add(fn))"
            raise UnknownUserCommandError(f"no user command {name!r}; commands: {known}")
        fn, spec = found
        kwargs = spec.check(dict(args))
        if spec.engine:
            kwargs["engine"] = self._engine
        return fn(**kwargs)
