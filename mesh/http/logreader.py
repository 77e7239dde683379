"""Reading a flow's or pod's log lines (and a flow's lifecycle events) back from the mesh,
for the edge's streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from nats.js import JetStreamContext

from mesh.errors import InvalidNameError
from mesh.events import subjects
from mesh.events.models import LifecycleEvent, LogRecord
from mesh.events.streams import has_events, has_logs, replay_events, replay_logs

__all__ = ["LogReader"]


class LogReader:
    """``has_logs``/``replay`` over the log stream, ``has_events``/``events`` over the events one."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    def __repr__(self) -> str:
        return "<LogReader>"

    async def has_logs(self, flow: str, pod: str | None = None) -> bool:
        """True when the mesh still keeps lines of the flow (or one pod of it); False for a
        name that no flow or pod can have."""
        try:
            subjects.logs_for(flow, pod)
        except InvalidNameError:  # nothing was ever logged under it
            return False
        return await has_logs(self._js, flow, pod)

    def replay(self, flow: str, pod: str | None = None, *,
               follow: bool = False) -> AsyncGenerator[LogRecord, None]:
        """The lines from the first; with ``follow``, new ones until the caller stops."""
        return replay_logs(self._js, flow, pod, follow=follow)

    async def has_events(self, flow: str) -> bool:
        """True when the mesh still keeps lifecycle events of the flow."""
        try:
            subjects.events(flow)
        except InvalidNameError:
            return False
        return await has_events(self._js, flow)

    def events(self, flow: str, *, follow: bool = False) -> AsyncGenerator[LifecycleEvent, None]:
        """The flow's lifecycle events from the first; with ``follow``, new ones as they come."""
        return replay_events(self._js, flow, follow=follow)
