"""Logs through NATS, counted: every line a Pea writes (logging, print, raw stderr) reaches a
``jinad.logs.>`` subscriber once and in order, and ``GET /logs/{flow_id}`` replays all of
them from the flow's first line; lifecycle events arrive on ``jinad.events.<flow>``."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
import requests
from typing_extensions import Self

from mesh import Document
from mesh.client.client import Client
from mesh.events import subjects
from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import async_wait_for
from tests.integration.jinad_support import put_flow, write_files

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_node")]

LINES = 500
MARK = re.compile(r"CHATTY (\d{5}) via (logging|print|stderr)")

CHATTY_PY = f"""\
import logging
import sys

from mesh import Executor, requests

logger = logging.getLogger("chatty")


class Chatty(Executor):
    @requests
    def talk(self, docs):
        for i in range({LINES}):
            if i % 3 == 0:
                logger.info("CHATTY %05d via logging", i)
            elif i % 3 == 1:
                print(f"CHATTY {{i:05d}} via print")
            else:
                sys.stderr.write(f"CHATTY {{i:05d}} via stderr\\n")
"""

CHATTY_FLOW = """\
!Flow
version: 1
pods:
  - name: chatty
    uses: chatty:Chatty
"""


class Tap:
    """A plain nats-py subscriber on the node's broker, as any user would attach one."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.nc: Any = None

    async def __aenter__(self) -> Self:
        return self

    async def attach(self, url: str) -> None:
        self.nc = await nats.connect(url, name="test-tap")

        async def on_log(msg: Any) -> None:
            self.logs.append(orjson.loads(msg.data) | {"subject": msg.subject})

        async def on_event(msg: Any) -> None:
            self.events.append(orjson.loads(msg.data) | {"subject": msg.subject})

        await self.nc.subscribe(subjects.LOGS_ALL, cb=on_log)
        await self.nc.subscribe(subjects.EVENTS_ALL, cb=on_event)
        await self.nc.flush()

    async def __aexit__(self, *exc: object) -> None:
        if self.nc is not None:
            await self.nc.drain()

    def marked(self, flow_id: str) -> list[tuple[int, str]]:
        return _marked(r for r in self.logs if r["flow"] == flow_id)


def _marked(records: Any) -> list[tuple[int, str]]:
    out = []
    for rec in records:
        m = MARK.search(rec["message"])
        if m:
            out.append((int(m[1]), m[2]))
    return out


def _expected() -> list[tuple[int, str]]:
    return [(i, ("logging", "print", "stderr")[i % 3]) for i in range(LINES)]


def _send(created: dict[str, Any], docs: list[Document], request_size: int = 100) -> None:
    with Client(host=created["host"], port_expose=created["port"], request_size=request_size) as c:
        c.index(docs)


async def test_every_line_is_published_and_replayed(node: JinadNode, tmp_path: Path) -> None:
    files = write_files(tmp_path, {"chatty.py": CHATTY_PY})
    async with Tap() as tap:
        await tap.attach(node.nats_url("logs"))  # as the log reader
        created = await asyncio.to_thread(put_flow, node, CHATTY_FLOW, files)
        flow_id = created["flow_id"]
        await asyncio.to_thread(_send, created, [Document(text="talk")])

        await async_wait_for(lambda: len(tap.marked(flow_id)) >= LINES, timeout_s=20,
                             interval_s=0.02, what=f"{LINES} marked lines on {subjects.LOGS_ALL}")
        assert tap.marked(flow_id) == _expected()  # each once, in the order written
        rec = next(r for r in tap.logs if r["flow"] == flow_id and MARK.search(r["message"]))
        assert rec["subject"] == subjects.logs(flow_id, "chatty", "chatty")
        assert {"time", "level", "node", "flow", "pod", "pea", "message"} <= set(rec)
        assert (rec["node"], rec["pod"], rec["pea"]) == (node.name, "chatty", "chatty")
        by_kind = {m[2]: r for r in tap.logs if (m := MARK.search(r["message"]))}
        assert by_kind["logging"]["level"] == "INFO" and by_kind["logging"]["stream"] == "log"
        assert by_kind["stderr"]["stream"] == "stdout"  # raw output, not a log record

        # a reader who attaches after the work is done replays every line from the start
        replayed = await asyncio.to_thread(lambda: list(node.edge.logs(flow_id)))
        assert _marked(replayed) == _expected()
        live = [(r["pea"], r["message"]) for r in tap.logs if r["flow"] == flow_id]
        assert [(r["pea"], r["message"]) for r in replayed] == live  # from the flow's first line
        only_pod = await asyncio.to_thread(lambda: list(node.edge.logs(flow_id, pod="chatty")))
        assert {r["pod"] for r in only_pod} == {"chatty"} and _marked(only_pod) == _expected()
        gateway = await asyncio.to_thread(lambda: list(node.edge.logs(flow_id, pod="gateway")))
        assert gateway and not _marked(gateway)

        await asyncio.to_thread(node.edge.delete_flow, flow_id)
        # after DELETE the lines stay in the stream: a post-mortem read still gets them all
        after = await asyncio.to_thread(lambda: list(node.edge.logs(flow_id, pod="chatty")))
        assert _marked(after) == _expected()
        stopped = {("gateway", "stopped"), ("chatty", "stopped")}
        await async_wait_for(lambda: stopped <= {(e["pod"], e["kind"]) for e in tap.events
                                                 if e["flow"] == flow_id},
                             timeout_s=5, interval_s=0.02, what="stopped events")
        events = [(e["pod"], e["kind"]) for e in tap.events if e["flow"] == flow_id]
        assert {e["subject"] for e in tap.events if e["flow"] == flow_id} == {subjects.events(flow_id)}
        for pod in ("gateway", "chatty"):
            kinds = [k for p, k in events if p == pod]
            assert kinds == ["started", "ready", "stopped"], events


def test_sse_wire_format(node: JinadNode) -> None:
    created = put_flow(node, (Path(__file__).parents[2] / "examples" / "dummy_flow.yml").read_text())
    flow_id = created["flow_id"]
    _send(created, [Document(text=str(i)) for i in range(3)], request_size=1)
    r = requests.get(f"{node.url}/logs/{flow_id}", params={"pod": "pod1"}, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.text.split("\n\n") if e]
    assert all(e.startswith("data: {") for e in events)
    messages = [orjson.loads(e[6:])["message"] for e in events]
    assert sum("recv" in m for m in messages) == 3, messages
    node.edge.delete_flow(flow_id)


def test_many_requests_every_recv_line(node: JinadNode) -> None:
    """``_logforward`` logs one line per request: 200 requests, 200 lines per pod, none lost."""
    created = put_flow(node, (Path(__file__).parents[2] / "examples" / "dummy_flow.yml").read_text())
    flow_id = created["flow_id"]
    _send(created, [Document(text=str(i)) for i in range(200)], request_size=1)
    for pod in ("pod0", "pod1"):
        lines = [r for r in node.edge.logs(flow_id, pod=pod) if "recv" in r["message"]]
        assert len(lines) == 200, (pod, len(lines))
    node.edge.delete_flow(flow_id)


def test_followed_stream_ends_when_the_flow_is_deleted(node: JinadNode) -> None:
    created = put_flow(node, (Path(__file__).parents[2] / "examples" / "dummy_flow.yml").read_text())
    flow_id = created["flow_id"]
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def follow() -> None:
        seen.extend(node.edge.logs(flow_id, follow=True))
        done.set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    _send(created, [Document(text="x")])
    node.edge.delete_flow(flow_id)
    assert done.wait(10), "the followed stream did not end after DELETE"
    reader.join(1)
    assert any("recv" in r["message"] for r in seen)
