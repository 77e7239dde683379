"""JetStream streams that keep history: ``JINAD_LOGS`` (jinad.logs.>) and ``JINAD_EVENTS``.

Log lines are published with plain core-NATS publishes; the stream captures them, so
shipping logs never waits for JetStream. :func:`replay_logs` reads them back in order,
:func:`replay_events` the lifecycle events of a flow.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import TypeVar

import nats.js.errors
from nats.js import JetStreamContext, api

from mesh.events import codec, subjects
from mesh.events.errors import EventDecodeError
from mesh.events.models import Event, LifecycleEvent, LogRecord
from mesh.events.replicas import create_replicated

__all__ = ["EVENTS_STREAM", "LOGS_STREAM", "ensure_log_stream", "has_events", "has_logs",
           "replay_events", "replay_logs"]

logger = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)

LOGS_STREAM = "JINAD_LOGS"
EVENTS_STREAM = "JINAD_EVENTS"
_STREAM_IN_USE = 10058  # JetStream: stream name already in use with a different configuration


async def ensure_log_stream(js: JetStreamContext, *, max_age_s: float, max_bytes: int,
                            replicas: int | None = None) -> None:
    """Create or update ``JINAD_LOGS`` and ``JINAD_EVENTS`` with these limits (oldest dropped),
    with ``replicas`` copies (None: 3 in a NATS cluster, else 1; see mesh.events.replicas)."""
    for name, subject in ((LOGS_STREAM, subjects.LOGS_ALL), (EVENTS_STREAM, subjects.EVENTS_ALL)):
        async def create(num_replicas: int, name: str = name, subject: str = subject) -> None:
            config = api.StreamConfig(
                name=name, subjects=[subject], max_age=max_age_s, max_bytes=max_bytes,
                discard=api.DiscardPolicy.OLD, storage=api.StorageType.FILE,
                num_replicas=num_replicas,
            )
            await _add_or_update(js, config)

        await create_replicated(js, create, what=f"stream {name}", replicas=replicas)


async def _add_or_update(js: JetStreamContext, config: api.StreamConfig) -> None:
    try:
        await js.add_stream(config)
        logger.debug("stream %s ready on %s", config.name, config.subjects)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_IN_USE:
            raise
        await js.update_stream(config)
        logger.info("stream %s updated: max_age_s=%s max_bytes=%s", config.name, config.max_age, config.max_bytes)


def replay_logs(
    js: JetStreamContext, flow: str, pod: str | None = None, *, follow: bool = False
) -> AsyncGenerator[LogRecord, None]:
    """Log records of a flow (or one pod of it) from the start of the stream, in order.

    Without ``follow`` the iterator ends once it has caught up; with it, it keeps
    yielding new records until the caller stops iterating. Records that do not decode
    are logged and skipped. Close it when breaking out early::

        async with contextlib.aclosing(replay_logs(js, flow_id)) as records: ...
    """
    return _replay(js, subjects.logs_for(flow, pod), LOGS_STREAM, LogRecord, follow=follow)


def replay_events(js: JetStreamContext, flow: str, *,
                  follow: bool = False) -> AsyncGenerator[LifecycleEvent, None]:
    """The flow's lifecycle events from the start of ``JINAD_EVENTS``, as :func:`replay_logs`."""
    return _replay(js, subjects.events(flow), EVENTS_STREAM, LifecycleEvent, follow=follow)


async def has_events(js: JetStreamContext, flow: str) -> bool:
    """True when the stream still keeps lifecycle events of the flow."""
    info = await js.stream_info(EVENTS_STREAM, subjects_filter=subjects.events(flow))
    return bool(info.state.subjects)


async def _replay(js: JetStreamContext, subject: str, stream: str, model: type[E], *,
                  follow: bool) -> AsyncGenerator[E, None]:
    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True,
                             deliver_policy=api.DeliverPolicy.ALL)
    try:
        if not follow and await _nothing_to_replay(sub):
            return
        while True:
            msg = await sub.next_msg(timeout=None)
            record = _decode(msg.data, model)
            if record is not None:
                yield record
            if not follow and msg.metadata.num_pending == 0:
                return
    finally:
        await sub.unsubscribe()


async def has_logs(js: JetStreamContext, flow: str, pod: str | None = None) -> bool:
    """True when the stream still keeps log records of the flow (or of one pod of it)."""
    info = await js.stream_info(LOGS_STREAM, subjects_filter=subjects.logs_for(flow, pod))
    return bool(info.state.subjects)


async def _nothing_to_replay(sub: JetStreamContext.PushSubscription) -> bool:
    """True when the stream holds no record for the filter: none left to deliver, and none
    delivered yet (records the server already pushed may still be on their way to the
    subscription's queue, so an empty queue alone proves nothing)."""
    info = await sub.consumer_info()
    delivered = info.delivered.consumer_seq if info.delivered is not None else 0
    return info.num_pending == 0 and not delivered and sub.pending_msgs == 0


def _decode(data: bytes, model: type[E]) -> E | None:
    try:
        return codec.decode(data, model)
    except EventDecodeError as exc:
        logger.warning("skipping a %s that does not decode: %s", model.__name__, exc)
        return None
