"""One authenticated request/event layer for every labkit server (engine, viewer manager).

::

    from labkit.rpc import RpcServer, RpcClient

    server = RpcServer(None, kind="demo", dispatch=lambda method, params, call: params).start()
    client = RpcClient(server.address, on_event=print, subscribe=True)
    client.call("echo", {"x": 1})        # -> {"x": 1}
    server.publish("tick", {"n": 1})     # reliable: numbered, acked, replayed after a reconnect
    client.close(); server.stop()

Same-host servers listen on ``ipc://`` sockets in the private runtime directory (mode 0700: file
permissions are the gate, and browsers cannot reach unix sockets). TCP servers, loopback included,
always use CURVE: the server writes a 0600 connection file with the keys a client needs, and a ZAP
handler refuses every other peer (including the unversioned ZMTP/1.0 peer a web page's POST would
be). See ``docs/security.md``. A TCP engine also exports its streams (frames, traces) to remote
clients with :class:`StreamServer` / :class:`StreamClient` (``docs/remote.md``).
"""

from labkit.rpc._backlog import EventBacklog
from labkit.rpc._client import RpcClient, resolve_connection
from labkit.rpc._errors import (
    ConnectionFileError,
    RpcAuthError,
    RpcError,
    RpcTimeoutError,
    RpcUnavailableError,
    RuntimeDirError,
    ServerBusyError,
)
from labkit.rpc._inline import InlinePolicy
from labkit.rpc._liveness import Liveness
from labkit.rpc._runtime import (
    ConnectionInfo,
    ServerKeys,
    check_private_dir,
    read_connection_file,
    runtime_dir,
    write_connection_file,
)
from labkit.rpc._security import RateLimitedLog
from labkit.rpc._server import CallInfo, RpcServer
from labkit.rpc._stream_client import StreamClient, StreamLinkError, Subscription
from labkit.rpc._stream_server import ExportSource, StreamServer
from labkit.rpc._stream_wire import StreamWireError

__all__ = [
    # server and client
    "RpcServer",
    "RpcClient",
    "CallInfo",
    # stream export (frames and rows to remote clients, credit-paced)
    "StreamServer",
    "StreamClient",
    "Subscription",
    "ExportSource",
    # connection files and the runtime directory
    "ConnectionInfo",
    "ServerKeys",
    "runtime_dir",
    "check_private_dir",
    "read_connection_file",
    "write_connection_file",
    "resolve_connection",
    # building blocks (tested on their own)
    "EventBacklog",
    "InlinePolicy",
    "Liveness",
    "RateLimitedLog",
    # errors
    "RpcError",
    "RpcAuthError",
    "RpcTimeoutError",
    "RpcUnavailableError",
    "ServerBusyError",
    "StreamLinkError",
    "StreamWireError",
    "ConnectionFileError",
    "RuntimeDirError",
]
