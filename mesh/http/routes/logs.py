"""Log streaming for one flow or pod: server-sent events or a websocket, with replay."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from sanic import Blueprint
from sanic.exceptions import WebsocketClosed
from sanic.response import HTTPResponse
from websockets.exceptions import ConnectionClosed

from mesh.errors import BadRequestError, MeshError, NotFoundError, UnavailableError
from mesh.events.codec import dumps, encode
from mesh.http.apidoc import answers
from mesh.http.context import EdgeRequest
from mesh.http.errors import BROKER_AWAY
from mesh.http.models import LogsQuery, ResumeMessage
from mesh.http.validation import problems, query

__all__ = ["bp"]

bp = Blueprint("logs")
_WATCH_S = 1.0
_BROKER_AWAY: tuple[type[Exception], ...] = (UnavailableError, *BROKER_AWAY)
KEEPALIVE_S = 15.0  # a followed stream is never silent this long (the edge's response timeout)
_EVENTS = {"text/event-stream": {"type": "string", "description": "'data: <LogRecord JSON>' "
                                 "lines, each event ending in a blank line"}}


@bp.get("/logs/<flow_id:str>")
@answers(errors=(404, 503), content=_EVENTS)
@query(LogsQuery)
async def stream_logs(request: EdgeRequest, flow_id: str, query: LogsQuery) -> HTTPResponse | None:
    """Server-sent events, one JSON LogRecord per event, from the flow's first line.

    ``?pod=NAME`` narrows to one pod; ``?follow=1`` keeps streaming new lines.
    """
    ctx = request.app.ctx
    follow = query.follow
    if not await ctx.deployer.exists(flow_id):
        # a deleted (or failed) flow's lines stay in the stream for a post-mortem read
        if not await ctx.logs.has_logs(flow_id, query.pod):
            raise NotFoundError(f"no flow or pod with id {flow_id!r} in the mesh, and no logs of it",
                                detail={"flow_id": flow_id})
        follow = False  # it writes no more
    response = await request.respond(content_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})

    async def pump() -> None:
        async with contextlib.aclosing(ctx.logs.replay(flow_id, query.pod, follow=follow)) as records:
            async for rec in records:
                await response.send(b"data: " + encode(rec) + b"\n\n")

    async def keepalive() -> None:
        await response.send(b": keepalive\n\n")  # a comment: clients skip it

    if follow:
        await _until_gone(request, flow_id, pump(), keepalive)
    else:
        await pump()
    await response.eof()
    return None


async def _until_gone(request: EdgeRequest, flow_id: str, work: Awaitable[None],
                      keepalive: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run ``work`` until it ends or the flow is deleted (a followed stream then ends);
    ``keepalive`` every KEEPALIVE_S meanwhile."""
    task = asyncio.ensure_future(work)
    last = time.monotonic()
    try:
        while not task.done():
            await asyncio.wait([task], timeout=_WATCH_S)
            if not task.done() and not await _still_there(request, flow_id):
                task.cancel()
                # the flow's last lines were published before its record went away
            elif keepalive is not None and time.monotonic() - last >= KEEPALIVE_S:
                last = time.monotonic()
                await keepalive()
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _still_there(request: EdgeRequest, flow_id: str) -> bool:
    """False once the flow's record is gone; True while the broker cannot say (it is away:
    the stream waits for it rather than ending)."""
    try:
        return await request.app.ctx.deployer.exists(flow_id)
    except _BROKER_AWAY:
        return True


async def _close_with(ws: Any, exc: MeshError) -> None:
    """The error envelope as one message, then a close with code 4000 + its status."""
    await ws.send(dumps(exc.to_dict()).decode())
    await ws.close(code=4000 + exc.status, reason=exc.message[:120])


async def _resume_from(ws: Any) -> int:
    """Lines to skip: the client may first send ``{"from": N}`` (nothing within 0.2 s: 0)."""
    first = await ws.recv(timeout=0.2)
    if not first:
        return 0
    try:
        return ResumeMessage.model_validate_json(first).from_
    except ValidationError as exc:
        raise BadRequestError(f"first message: {problems(exc)[0]}; send {{\"from\": N}}") from exc


@bp.websocket("/logstream/<flow_id:str>")  # type: ignore[untyped-decorator]
async def logstream(request: EdgeRequest, ws: Any, flow_id: str) -> None:
    """A websocket of LogRecords; the client may first send ``{"from": N}`` to skip N lines.
    An unknown id or a bad first message gets the error envelope as one message, then a
    close with code 4000 + its status (4404, 4400)."""
    ctx = request.app.ctx
    try:
        await ctx.deployer.get(flow_id)
        skip = await _resume_from(ws)
    except MeshError as exc:
        await _close_with(ws, exc)
        return
    except (ConnectionClosed, WebsocketClosed):
        return  # the client left before the stream began

    async def pump() -> None:
        async with contextlib.aclosing(ctx.logs.replay(flow_id, None, follow=True)) as records:
            n = 0
            async for rec in records:
                n += 1
                if n > skip:
                    await ws.send(encode(rec).decode())

    await _until_gone(request, flow_id, pump())
