"""``scope.commands``: the engine's user commands, callable like methods (see ``_user_commands``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.devices import ActionSpec

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope

__all__ = ["ScopeCommands", "function_path"]


def function_path(fn: Callable[..., Any]) -> str:
    """``package.module:function`` of an importable function (what another process can load).

    Raises:
        ValueError: a lambda, a local function, or one defined in ``__main__`` (not importable).
    """
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if module and qualname and "<" not in qualname and "." not in qualname and module != "__main__":
        return f"{module}:{qualname}"
    raise ValueError(
        f"{fn!r} cannot be loaded by another process (labkit never pickles); define it in an "
        "importable module and pass 'package.module:function', or use mode='thread'"
    )


class ScopeCommands:
    """``scope.commands.name(**kw)`` runs user command ``name`` in the engine; ``add`` adds one."""

    _scope: Scope

    def __init__(self, scope: Scope) -> None:
        object.__setattr__(self, "_scope", scope)

    def add(self, fn: Callable[..., Any] | str, name: str = "") -> ActionSpec:
        """Add a command: a function (thread mode) or ``"package.module:function"`` (any mode).

        Raises:
            ValueError: not importable (process mode), or the name is taken.
            TypeError: arguments without supported annotations.
            PermissionError: a remote engine that does not take code from its clients.
        """
        scope = self._scope
        if scope.mode == "thread" and callable(fn):
            spec = scope._host.engine.commands.add_function(fn, name)
        else:
            path = fn if isinstance(fn, str) else function_path(fn)
            spec = scope._call("add_command", path=path, name=name)
        return ActionSpec.from_json(spec)

    def describe(self) -> dict[str, ActionSpec]:
        """``{name: ActionSpec}`` of every user command."""
        return {n: ActionSpec.from_json(s) for n, s in self._scope._call("commands").items()}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        commands = self._scope._call("commands")
        if name not in commands:
            raise AttributeError(
                f"no user command {name!r}; commands: {', '.join(commands) or 'none'} "
                "(add one with scope.commands.add(fn))"
            )
        spec = ActionSpec.from_json(commands[name])

        def run(**kwargs: Any) -> Any:
            return self._scope._call("run_command", name=name, args=kwargs)

        run.__name__ = name
        run.__doc__ = f"{spec.description}\n\nArguments: {spec.signature()}"
        return run

    def __dir__(self) -> list[str]:
        try:
            names = list(self._scope._call("commands"))
        except Exception:  # noqa: BLE001 - dir() must not raise
            names = []
        return sorted({"add", "describe", *names})

    def __repr__(self) -> str:
        return f"<commands of {self._scope!r}: {', '.join(self.__dir__())}>"
