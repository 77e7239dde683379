"""``/events/{flow_id}``: a Flow's lifecycle events (Peas started, ready, exited, failed,
stopped) as server-sent events, replayed from the first, like ``/logs/{flow_id}``."""

from __future__ import annotations

import contextlib

from pydantic import BaseModel, Field
from sanic import Blueprint
from sanic.response import HTTPResponse

from mesh.errors import NotFoundError
from mesh.events.codec import encode
from mesh.http.apidoc import answers
from mesh.http.context import EdgeRequest
from mesh.http.routes.logs import _until_gone as until_gone  # the same end as a log stream
from mesh.http.validation import query

__all__ = ["EventsQuery", "bp"]

bp = Blueprint("events")
_SSE = {"text/event-stream": {"type": "string", "description": "'data: <LifecycleEvent JSON>' "
                              "lines, each event ending in a blank line"}}


class EventsQuery(BaseModel):
    """``GET /events/{id}``."""

    follow: bool = Field(False, description="keep streaming new events until the Flow is deleted")


@bp.get("/events/<flow_id:str>")
@answers(errors=(404, 503), content=_SSE)
@query(EventsQuery)
async def stream_events(request: EdgeRequest, flow_id: str, query: EventsQuery) -> HTTPResponse | None:
    """Server-sent events, one JSON LifecycleEvent per event, from the flow's first.

    ``?follow=1`` keeps streaming new events until the Flow is deleted.
    """
    ctx = request.app.ctx
    follow = query.follow
    if not await ctx.deployer.exists(flow_id):
        if not await ctx.logs.has_events(flow_id):
            raise NotFoundError(f"no flow with id {flow_id!r} in the mesh, and no events of it",
                                detail={"flow_id": flow_id})
        follow = False  # a deleted flow has no more news
    response = await request.respond(content_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})

    async def pump() -> None:
        async with contextlib.aclosing(ctx.logs.events(flow_id, follow=follow)) as events:
            async for ev in events:
                await response.send(b"data: " + encode(ev) + b"\n\n")

    async def keepalive() -> None:
        await response.send(b": keepalive\n\n")

    if follow:
        await until_gone(request, flow_id, pump(), keepalive)
    else:
        await pump()
    await response.eof()
    return None
