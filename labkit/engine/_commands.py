"""The engine's RPC command table: one msgspec Struct of checked parameters per command.

A request ``Request(id, method, params)`` is valid when ``method`` is a key of :data:`COMMANDS` and
``params`` converts to that command's Struct (unknown or mistyped fields are rejected with a message
naming the field). The engine then calls ``Engine.cmd_<method>(params)``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from labkit.engine._state import EngineError

__all__ = ["COMMANDS", "CommandError", "UnknownCommandError", "validate_params"]


class CommandError(EngineError, ValueError):
    """A request named a known command with parameters of the wrong name or type."""


class UnknownCommandError(EngineError, LookupError):
    """A request named a command the engine does not have (the message lists those it has)."""


class _Params(msgspec.Struct, forbid_unknown_fields=True):
    pass


class NoParams(_Params):
    pass


class Hello(_Params):
    client: str = ""
    subscribe: bool = True


class Describe(_Params):
    device: str | None = None


class GetProperty(_Params):
    device: str
    name: str


class SetProperty(_Params):
    device: str
    name: str
    value: Any


class GetAttribute(_Params):
    device: str
    name: str


class Snap(_Params):
    device: str = "camera"


class MoveStage(_Params):
    device: str = "stage"
    x_um: float | None = None
    y_um: float | None = None
    z_um: float | None = None
    wait: bool = False
    timeout_s: float = 30.0


class StageCall(_Params):
    device: str = "stage"
    timeout_s: float = 30.0


class CallAction(_Params):
    device: str
    action: str
    args: dict[str, Any] = {}
    call_id: str = ""  # names the progress events of this call


class AddCommand(_Params):
    path: str
    name: str = ""


class AddNode(_Params):
    node: str  # a built-in name or 'package.module:Name'
    name: str = ""
    input: str = ""
    mode: str = "thread"
    params: dict[str, Any] = {}


class RemoveNode(_Params):
    name: str


class Tracking(_Params):
    op: str  # an operation of labkit.engine._tracking.EngineTracking
    args: dict[str, Any] = {}
    call_id: str = ""  # names the progress events of this call


class RunCommand(_Params):
    name: str
    args: dict[str, Any] = {}


class RunMda(_Params):
    sequence: Any  # a useq.MDASequence as a mapping (thread mode: the object itself)
    path: str = ""  # the .ome.zarr series to write ("" writes nothing)
    autofocus: Any = None  # 'package.module:function' (thread mode: the function)
    camera: str = ""
    burst: bool = True


class RunScript(_Params):
    script: Any  # a labkit.protocols.Script as a mapping (thread mode: the object itself)


class ProtocolControl(_Params):
    id: str
    action: str


class ProtocolStatus(_Params):
    id: str = ""


COMMANDS: dict[str, type[_Params]] = {
    "hello": Hello,
    "ping": NoParams,
    "status": NoParams,
    "describe": Describe,
    "device_settings": NoParams,
    "get_property": GetProperty,
    "set_property": SetProperty,
    "get_attribute": GetAttribute,
    "snap": Snap,
    "start": NoParams,
    "stop": NoParams,
    "health": NoParams,
    "move_stage": MoveStage,
    "stage_position": StageCall,
    "stage_wait": StageCall,
    "stage_is_moving": StageCall,
    "call_action": CallAction,
    "streams": NoParams,
    "commands": NoParams,
    "add_command": AddCommand,
    "run_command": RunCommand,
    "add_node": AddNode,
    "remove_node": RemoveNode,
    "nodes": NoParams,
    "run_mda": RunMda,
    "run_script": RunScript,
    "protocol_control": ProtocolControl,
    "protocols": ProtocolStatus,
    "tracking": Tracking,
    "shutdown": NoParams,
}


def validate_params(method: Any, params: Any) -> _Params:
    """Return the checked parameter Struct for ``method``.

    Raises:
        UnknownCommandError: ``method`` is not a command of the engine.
        CommandError: ``params`` has unknown fields, misses required ones or has wrong types.
    """
    spec = COMMANDS.get(method) if isinstance(method, str) else None
    if spec is None:
        raise UnknownCommandError(
            f"unknown engine command {method!r}; the engine understands: {', '.join(sorted(COMMANDS))}"
        )
    if params is None:
        params = {}
    try:
        return msgspec.convert(params, spec, strict=False)
    except msgspec.ValidationError as exc:
        fields = ", ".join(spec.__struct_fields__) or "no parameters"
        raise CommandError(
            f"bad parameters for engine command {method!r}: {exc}; it takes: {fields}"
        ) from None
