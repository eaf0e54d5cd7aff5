"""The engine: owns the devices and the frame ring, runs acquisition, answers typed RPC, emits events.

``Scope(mode="thread")`` runs it in a background thread of this process, ``Scope(mode="process")`` in a
child process reached over ZeroMQ; ``connect(address)`` reaches one served by ``labkit engine``::

    import labkit as lk

    with lk.Scope(mode="process") as scope:       # ready: devices and ring exist
        scope.camera.exposure_ms = 10               # one RPC; PropertyLimitError names the limit
        frame = scope.camera.snap()                 # xr.DataArray (y, x), coords in µm
        scope.subscribe(print)                      # state / property / health / log / error events
        scope.start()                               # frames stream into the shared-memory ring
        with scope.open_reader(name="mine") as reader:
            print(reader.next(timeout=1).index)
        print(scope.health())

Modules: ``_state`` (states, errors, snapshots), ``_engine`` (devices, ring, acquisition loop, command
handlers), ``_commands`` (the checked RPC table), ``_server`` / ``_client`` (ZeroMQ ROUTER/DEALER),
``_hosts`` (thread / process / remote), ``_scope`` and ``_proxy`` (what the notebook holds).
"""

from labkit.engine import events
from labkit.engine._commands import CommandError, UnknownCommandError
from labkit.engine._connect import connect
from labkit.engine._engine import UnknownDeviceError
from labkit.engine._nodes import (
    DownsampleNode,
    FrameStatsNode,
    FunctionNode,
    Node,
    NodeError,
    NodeOutput,
    NodeState,
    NodeStateError,
    RoiStatsNode,
)
from labkit.engine._proxy import DeviceProxy
from labkit.engine._proxy_types import CameraProxy, DeviceProxyLike, SignalProxy, StageProxy
from labkit.engine._remote_client import LinkDownError, RemoteFrameReader, RemoteTraceReader
from labkit.engine._remote_spool import RemoteSpool, RemoteSpoolHandle
from labkit.engine._scope import Scope
from labkit.engine._scope_settings import ScopeSettings
from labkit.engine._settings_file import SettingsError
from labkit.engine._state import (
    EngineDiedError,
    EngineError,
    EngineState,
    EngineStateError,
    EngineStatus,
    ScopeHealth,
)
from labkit.engine._streams import StreamInfo
from labkit.engine._tracking import ScanCancelledError
from labkit.engine._user_commands import UnknownUserCommandError
from labkit.protocols import (
    ProtocolCancelled,
    ProtocolError,
    ScriptError,
    StepError,
    UnknownProtocolError,
)
from labkit.wire import register_error as _register_error

for _cls in (
    EngineError,
    EngineStateError,
    EngineDiedError,
    CommandError,
    UnknownCommandError,
    UnknownDeviceError,
    UnknownUserCommandError,
    NodeError,
    NodeStateError,
    ScanCancelledError,
    events.EventPayloadError,
    events.UnknownTopicError,
    SettingsError,
    ProtocolError,
    ProtocolCancelled,
    StepError,
    ScriptError,
    UnknownProtocolError,
):
    _register_error(_cls)
del _cls

__all__ = [
    # typed events (one Struct per topic)
    "events",
    # scopes
    "Scope",
    "connect",
    "DeviceProxy",
    # what type checkers see of scope.camera / .stage / .signal
    "DeviceProxyLike",
    "CameraProxy",
    "StageProxy",
    "SignalProxy",
    "StreamInfo",
    # remote engines (docs/remote.md)
    "RemoteFrameReader",
    "RemoteTraceReader",
    "RemoteSpool",
    "RemoteSpoolHandle",
    "LinkDownError",
    # settings files
    "ScopeSettings",
    # nodes
    "Node",
    "NodeOutput",
    "NodeState",
    "RoiStatsNode",
    "FrameStatsNode",
    "DownsampleNode",
    "FunctionNode",
    # state and health
    "EngineState",
    "EngineStatus",
    "ScopeHealth",
    # errors
    "EngineError",
    "EngineStateError",
    "EngineDiedError",
    "CommandError",
    "UnknownCommandError",
    "UnknownDeviceError",
    "UnknownUserCommandError",
    "NodeError",
    "NodeStateError",
    "SettingsError",
    "ScanCancelledError",
]
