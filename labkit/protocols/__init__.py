"""Protocols: useq-schema MDA sequences and scripts, run in the engine on one step machinery.

``scope.run_mda(useq.MDASequence(...))`` and ``scope.run_script(lk.Script([...]))`` start a run
in the engine and return a handle (pause / resume / cancel / wait / progress). The same
:class:`StepRunner` moves the spooler's z-steps and runs its timed tasks. An MDA writes one
OME-Zarr series (ome-writers' layout), read back by ``lk.open_series`` as ``(t, p, c, z, y, x)``.

Modules: ``_steps`` (steps, runner, control, safe state), ``_mda`` (events → steps),
``_mda_sink`` (the OME-Zarr series), ``_scripts`` (script commands, YAML), ``_table`` (the
engine's runs).
"""

from labkit.protocols._mda import MdaRunner, resolve_channel
from labkit.protocols._mda_sink import MdaSink, is_mda_series, open_mda_series
from labkit.protocols._scripts import (
    SCRIPT_COMMANDS,
    Script,
    ScriptContext,
    ScriptError,
    print_script_commands,
    script_command,
    script_commands,
)
from labkit.protocols._steps import (
    ProtocolCancelled,
    ProtocolError,
    RunState,
    Step,
    StepControl,
    StepError,
    StepRunner,
    move_step,
    safe_state,
)
from labkit.protocols._table import ProtocolHost, ProtocolTable, UnknownProtocolError

__all__ = [
    # steps
    "Step",
    "StepControl",
    "StepRunner",
    "RunState",
    "move_step",
    "safe_state",
    # MDA
    "MdaRunner",
    "MdaSink",
    "resolve_channel",
    "open_mda_series",
    "is_mda_series",
    # scripts
    "Script",
    "ScriptContext",
    "SCRIPT_COMMANDS",
    "script_command",
    "script_commands",
    "print_script_commands",
    # the engine's runs
    "ProtocolHost",
    "ProtocolTable",
    # errors
    "ProtocolError",
    "ProtocolCancelled",
    "StepError",
    "ScriptError",
    "UnknownProtocolError",
]
