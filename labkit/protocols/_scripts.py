"""Scripts: a list of registered commands run in the engine, saved as YAML.

::

    script = lk.Script([
        ("set_property", {"device": "camera", "name": "exposure_ms", "value": 20}),
        ("move", {"z_um": 5}),
        ("wait", {"seconds": 0.5}),
        ("spool", {"frames": 100}),
    ])
    script.save("focus.yaml")                 # and lk.Script.load("focus.yaml")
    handle = scope.run_script(script)         # pause() / resume() / cancel() at step boundaries
    lk.print_script_commands()                # every command with its signature

The YAML form is ``{labkit_script: 1, name: ..., steps: [{command: {arg: value}}, ...]}``. A
failed step stops the script with its error and leaves the devices safe (stages stopped,
shutters closed). :func:`script_command` registers more commands.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.protocols._steps import ProtocolError, Step, StepControl, move_step

if TYPE_CHECKING:
    from labkit.protocols._table import ProtocolHost, ProtocolRun, ProtocolTable

__all__ = [
    "SCRIPT_COMMANDS",
    "Script",
    "ScriptContext",
    "ScriptError",
    "print_script_commands",
    "script_command",
    "script_commands",
]

_FORMAT = 1
_KEYS = ("labkit_script", "name", "steps")


class ScriptError(ProtocolError, ValueError):
    """A script names an unknown command or argument, or is not a valid script file."""


@dataclass(frozen=True)
class ScriptCommand:
    name: str
    fn: Callable[..., Any]
    description: str
    signature: inspect.Signature

    def check(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``args`` bound to the command (unknown and missing ones named)."""
        try:
            self.signature.bind(**args)
        except TypeError as exc:
            raise ScriptError(f"{self.name}{self.text()}: {exc}") from None
        return dict(args)

    def text(self) -> str:
        """``(name: type = default, ...)``."""
        parts = []
        for p in self.signature.parameters.values():
            kind = p.annotation
            kind = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
            default = "" if p.default is p.empty else f" = {p.default!r}"
            parts.append(f"{p.name}: {kind}{default}")
        return f"({', '.join(parts)})"


#: every script command by name (see :func:`script_command`)
SCRIPT_COMMANDS: dict[str, ScriptCommand] = {}


def script_command(fn: Callable[..., Any] | None = None, *, name: str = "") -> Any:
    """Register ``fn(ctx, **args)`` as a script command (usable as a decorator).

    ``ctx`` is the :class:`ScriptContext`; the other arguments are the step's, named in YAML.
    """

    def register(f: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(f, eval_str=True)
        params = list(sig.parameters.values())[1:]
        doc = (f.__doc__ or "").strip().splitlines()
        cmd_name = name or f.__name__.removeprefix("cmd_")
        SCRIPT_COMMANDS[cmd_name] = ScriptCommand(
            cmd_name, f, doc[0] if doc else "", sig.replace(parameters=params)
        )
        return f

    return register(fn) if fn is not None else register


def script_commands() -> dict[str, str]:
    """``{name: "name(signature) — description"}`` of every script command."""
    return {n: f"{n}{c.text()} — {c.description}" for n, c in SCRIPT_COMMANDS.items()}


def print_script_commands() -> None:
    """Print every script command with its signature and what it does."""
    for line in script_commands().values():
        print(line)


@dataclass(frozen=True)
class ScriptStep:
    command: str
    args: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{self.command}({inner})"


class Script:
    """An ordered list of script commands (checked when made).

    Args:
        steps: ``(command, {arg: value})`` pairs, ``{command: {arg: value}}`` dicts or
            :class:`ScriptStep`.
        name: shown in panels and events.

    Raises:
        ScriptError: an unknown command (lists them) or bad arguments (names the signature).
    """

    def __init__(self, steps: list[Any] = (), name: str = "script") -> None:  # type: ignore[assignment]
        self.name = str(name)
        self.steps = [self._step(i, s) for i, s in enumerate(steps)]

    @staticmethod
    def _step(i: int, raw: Any) -> ScriptStep:
        if isinstance(raw, ScriptStep):
            command, args = raw.command, raw.args
        elif isinstance(raw, tuple | list) and len(raw) in (1, 2):
            command, args = raw[0], (raw[1] if len(raw) == 2 else {})
        elif isinstance(raw, Mapping) and len(raw) == 1:
            command, args = next(iter(raw.items()))
        else:
            raise ScriptError(
                f"step {i + 1}: {raw!r} is not a step; write {{command: {{arg: value}}}}"
            )
        args = {} if args is None else args
        if command not in SCRIPT_COMMANDS:
            raise ScriptError(
                f"step {i + 1}: unknown command {command!r}; commands: {', '.join(SCRIPT_COMMANDS)}"
            )
        if not isinstance(args, Mapping):
            raise ScriptError(
                f"step {i + 1} ({command}): arguments must be a mapping, not {args!r}"
            )
        try:
            return ScriptStep(command, SCRIPT_COMMANDS[command].check(args))
        except ScriptError as exc:
            raise ScriptError(f"step {i + 1}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"labkit_script": _FORMAT, "name": self.name,
                "steps": [{s.command: dict(s.args)} for s in self.steps]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any) -> Script:
        """Raises ScriptError for unknown keys (named), another format or bad steps."""
        if not isinstance(data, Mapping):
            raise ScriptError(f"a script is a mapping with keys {', '.join(_KEYS)}; got {data!r}")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ScriptError(
                f"unknown script key(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(_KEYS)}"
            )
        if data.get("labkit_script", _FORMAT) != _FORMAT:
            raise ScriptError(
                f"labkit_script {data['labkit_script']!r}: this labkit reads {_FORMAT}"
            )
        steps = data.get("steps") or []
        if not isinstance(steps, list):
            raise ScriptError("steps must be a list of {command: {arg: value}}")
        return cls(steps, name=data.get("name", "script"))

    def save(self, path: str | Path) -> Path:
        """Write the script as YAML; returns the path."""
        import yaml

        path = Path(path)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Script:
        """Read a YAML script (:meth:`from_dict` checks it)."""
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            raise ScriptError(f"{path} is not valid YAML: {exc}") from None
        return cls.from_dict(data)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"<Script {self.name!r}: {len(self.steps)} steps>"


class ScriptContext:
    """What a script command gets as ``ctx``: the engine's devices and services, and the run."""

    def __init__(self, table: ProtocolTable, host: ProtocolHost, run: ProtocolRun) -> None:
        self.table, self.host, self.run_state = table, host, run
        self.devices = host.devices
        self.control: StepControl = run.control
        self.last_snap: dict[str, Any] = {}

    def device(self, name: str, kind: str) -> Any:
        """The device ``name`` (or the first of ``kind`` when name is empty)."""
        if name:
            if name not in self.devices:
                raise ProtocolError(f"no device {name!r}; devices: {', '.join(self.devices)}")
            return self.devices[name]
        for dev in self.devices.values():
            if getattr(dev, "kind", "") == kind:
                return dev
        raise ProtocolError(f"no {kind} among the devices: {', '.join(self.devices)}")

    def _call(self, step: ScriptStep, control: StepControl) -> Any:
        return SCRIPT_COMMANDS[step.command].fn(self, **step.args)

    def run(self, script: Script) -> list[Any]:
        runner = self.run_state.runner
        steps = [Step(s.label(), partial(self._call, s)) for s in script.steps]
        results = runner.run(steps)
        self.run_state.steps_done = len(steps)
        return results


# -- the built-in commands -----------------------------------------------------------------------


@script_command
def cmd_set_property(ctx: ScriptContext, device: str, name: str, value: Any) -> Any:
    """Set property ``name`` of ``device`` to ``value`` (checked by the device)."""
    return ctx.device(device, "").set(name, value)


@script_command
def cmd_move(
    ctx: ScriptContext, x_um: float = math.nan, y_um: float = math.nan, z_um: float = math.nan,
    device: str = "", timeout_s: float = 30.0,
) -> None:  # fmt: skip
    """Move the stage to the axes given (µm; NaN = unchanged) and wait until it arrives."""
    x, y, z = (None if math.isnan(float(v)) else float(v) for v in (x_um, y_um, z_um))
    move_step(ctx.device(device, "stage"), x=x, y=y, z=z, timeout_s=timeout_s).fn(ctx.control)


@script_command
def cmd_wait(ctx: ScriptContext, seconds: float) -> None:
    """Wait ``seconds`` (abort interrupts the wait)."""
    ctx.control.sleep_until(ctx.control.clock() + float(seconds))


@script_command
def cmd_snap(ctx: ScriptContext, camera: str = "") -> dict[str, float]:
    """Snap one frame; its mean and metadata become the step's result."""
    frame, meta = ctx.device(camera, "camera").snap()
    ctx.last_snap = {"mean": float(frame.mean()), **{k: float(v) for k, v in meta.items()}}
    return ctx.last_snap


@script_command
def cmd_spool(
    ctx: ScriptContext, frames: int, path: str = "", settings: dict | None = None
) -> dict:
    """Record ``frames`` frames with the spooler (settings as ``scope.spool.start`` takes)."""
    return ctx.host.spool(int(frames), path, dict(settings or {}), ctx.control)


@script_command
def cmd_run_mda(ctx: ScriptContext, sequence: dict, path: str = "") -> dict:
    """Run a useq MDASequence (as a mapping) and wait for it; ``path``: an .ome.zarr to write."""
    import useq

    from labkit.protocols._mda import MdaRunner
    from labkit.protocols._mda_sink import MdaSink
    from labkit.protocols._steps import StepRunner

    seq = useq.MDASequence.model_validate(sequence)
    sink = MdaSink(path) if path else None
    # its events are steps under this script's control: pause and abort reach them
    runner = StepRunner(ctx.devices, ctx.control)
    mda = MdaRunner(seq, ctx.devices, sink, runner, burst=ctx.host.burst)
    status = "failed"
    try:
        mda.run()
        status = "done"
    finally:
        if sink is not None:
            sink.finish({"status": status, "sequence": seq.model_dump(mode="json"),
                         "t_s": mda.t_seconds(), "z_positions_um": list(seq.z_plan or [])})  # fmt: skip
    return {"frames": mda.frames_done, "path": path}


@script_command
def cmd_run_node(
    ctx: ScriptContext, node: str, name: str = "", input: str = "", params: dict | None = None
) -> dict:
    """Add a processing node (a built-in name or 'package.module:Name') to the engine."""
    return ctx.host.add_node(node, name, input, dict(params or {}))


@script_command
def cmd_call(ctx: ScriptContext, function: str, args: dict | None = None) -> Any:
    """Call a user command of the engine (``scope.commands``) with ``args``."""
    return ctx.host.run_command(function, dict(args or {}))
