"""Log streaming for one flow or pod: server-sent events or a websocket, with replay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from mesh.errors import MeshError, NotFoundError
from mesh.events.codec import dumps, encode
from mesh.events.models import LogRecord
from mesh.events.streams import has_logs, replay_logs

__all__ = ["bp"]

bp = Blueprint("logs")
_WATCH_S = 1.0


def _records(request: Request, flow_id: str, pod: str | None, follow: bool) -> AsyncGenerator[LogRecord, None]:
    return replay_logs(request.app.ctx.agent.bus.jetstream, flow_id, pod, follow=follow)


@bp.get("/logs/<flow_id:str>")
async def stream_logs(request: Request, flow_id: str) -> HTTPResponse | None:
    """Server-sent events, one JSON LogRecord per event, from the flow's first line.

    ``?pod=NAME`` narrows to one pod; ``?follow=1`` keeps streaming new lines.
    """
    pod = request.args.get("pod") or None
    follow = request.args.get("follow", "").lower() in ("1", "true", "yes")
    if not await request.app.ctx.deployer.exists(flow_id):
        # a deleted (or failed) flow's lines stay in the stream for a post-mortem read
        if not await _has_logs(request, flow_id, pod):
            raise NotFoundError(f"no flow or pod with id {flow_id!r} in the mesh, and no logs of it",
                                detail={"flow_id": flow_id})
        follow = False  # it writes no more
    response = await request.respond(content_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})

    async def pump() -> None:
        async with contextlib.aclosing(_records(request, flow_id, pod, follow)) as records:
            async for rec in records:
                await response.send(b"data: " + encode(rec) + b"\n\n")

    await _until_gone(request, flow_id, pump()) if follow else await pump()
    await response.eof()
    return None


async def _has_logs(request: Request, flow_id: str, pod: str | None) -> bool:
    try:
        return await has_logs(request.app.ctx.agent.bus.jetstream, flow_id, pod)
    except ValueError:  # not a name any flow or pod can have
        return False


async def _until_gone(request: Request, flow_id: str, work: Any) -> None:
    """Run ``work`` until it ends or the flow is deleted (a followed stream then ends)."""
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait([task], timeout=_WATCH_S)
            if not task.done() and not await request.app.ctx.deployer.exists(flow_id):
                task.cancel()
                # the flow's last lines were published before its record went away
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@bp.websocket("/logstream/<flow_id:str>")
async def logstream(request: Request, ws: Any, flow_id: str) -> None:
    """A websocket of LogRecords; the client may first send ``{"from": N}`` to skip N lines.
    An unknown id gets the error envelope as one message, then a close with code 4404."""
    try:
        await request.app.ctx.deployer.get(flow_id)
    except MeshError as exc:
        await ws.send(dumps(exc.to_dict() | {"status_code": exc.status}).decode())
        await ws.close(code=4000 + exc.status, reason=exc.message[:120])
        return
    skip = 0
    with contextlib.suppress(Exception):
        first = await ws.recv(timeout=0.2)
        if first:
            import orjson

            skip = int(orjson.loads(first).get("from", 0))

    async def pump() -> None:
        async with contextlib.aclosing(_records(request, flow_id, None, True)) as records:
            n = 0
            async for rec in records:
                n += 1
                if n > skip:
                    await ws.send(encode(rec).decode())

    await _until_gone(request, flow_id, pump())
