"""The event layer: NATS subjects, payload models, their codec, the bus and the KV stores.

Read the modules in the order an event passes through them: ``subjects`` (where it goes),
``models`` (what it is), ``codec`` (its bytes), ``bus`` (sending and handling it), ``kv``
and ``streams`` (what the mesh remembers).
"""

from mesh.events import subjects
from mesh.events.bus import Bus, raise_for_error
from mesh.events.codec import decode, encode
from mesh.events.errors import (
    BusConnectError,
    BusTimeoutError,
    EventDecodeError,
    KeyNotFound,
    NoRespondersError,
    RemoteError,
)
from mesh.events.kv import FlowStore, NodeRegistry
from mesh.events.models import (
    ErrorBody,
    ErrorReply,
    KillReply,
    KillRequest,
    LifecycleEvent,
    LogRecord,
    NodeInfo,
    PortsReply,
    PortsRequest,
    SpawnReply,
    SpawnRequest,
)
from mesh.events.streams import ensure_log_stream, replay_logs

__all__ = [
    "Bus",
    "BusConnectError",
    "BusTimeoutError",
    "ErrorBody",
    "ErrorReply",
    "EventDecodeError",
    "FlowStore",
    "KeyNotFound",
    "KillReply",
    "KillRequest",
    "LifecycleEvent",
    "LogRecord",
    "NoRespondersError",
    "NodeInfo",
    "NodeRegistry",
    "PortsReply",
    "PortsRequest",
    "RemoteError",
    "SpawnReply",
    "SpawnRequest",
    "decode",
    "encode",
    "ensure_log_stream",
    "raise_for_error",
    "replay_logs",
    "subjects",
]
