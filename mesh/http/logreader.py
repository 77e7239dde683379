"""Reading a flow's or pod's log lines back from the mesh, for the edge's log streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from nats.js import JetStreamContext

from mesh.errors import InvalidNameError
from mesh.events import subjects
from mesh.events.models import LogRecord
from mesh.events.streams import has_logs, replay_logs

__all__ = ["LogReader"]


class LogReader:
    """``has_logs(flow, pod)`` and ``replay(flow, pod, follow=...)`` over the log stream."""

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
