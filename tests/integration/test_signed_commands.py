"""A node obeys only signed commands of the mesh's edges: a plain NATS client that reaches
the broker cannot spawn (not even uploaded code), cannot replay a command it saw, and a key
the node does not trust is refused; each refusal is an audit record on jinad.audit.<node>."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from mesh.events import codec, subjects
from mesh.events.bus import Bus
from mesh.events.models import AuditEvent, ErrorReply, KillRequest, PortsRequest, SpawnRequest
from mesh.events.signing import Signer
from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import async_wait_for
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

EVIL_PY = b"""\
from pathlib import Path
from mesh import Executor


class Evil(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        Path(MARKER).write_text("ran")
"""


async def _bus(node: JinadNode) -> Bus:
    # a client with the broker's edge user, but without an edge's signing key
    return await Bus.connect(node.nats_url(), name="stranger", **node.nats_login("edge"))


async def _audits(bus: Bus, node: str) -> list[AuditEvent]:
    seen: list[AuditEvent] = []

    async def on(ev: AuditEvent, _msg: Any) -> None:
        seen.append(ev)

    await bus.subscribe(subjects.audit(node), AuditEvent, on)
    return seen


async def _ask(bus: Bus, subject: str, payload: bytes, headers: dict[str, str] | None) -> ErrorReply:
    msg = await bus.nc.request(subject, payload, timeout=10, headers=headers)
    reply = codec.decode_one_of(msg.data, [ErrorReply])
    assert isinstance(reply, ErrorReply)
    return reply


async def test_an_unsigned_spawn_of_uploaded_code_is_refused(node: JinadNode, tmp_path: Path) -> None:
    marker = tmp_path / "evil-ran"
    code = EVIL_PY.replace(b"MARKER", repr(str(marker)).encode())
    req = SpawnRequest(flow_id="evil1", pod="evil", files={"evil.py": base64.b64encode(code).decode()},
                       peas=[{"kind": "pea", "name": "evil/0", "pod": "evil", "port_ctrl": 1,
                              "uses": "evil:Evil"}])
    bus = await _bus(node)
    try:
        audits = await _audits(bus, node.name)
        reply = await _ask(bus, subjects.spawn(node.name), codec.encode(req), None)
        assert (reply.error.error, reply.error.status_code) == ("ForbiddenError", 403)
        assert "not signed" in reply.error.message
        ev = await async_wait_for(lambda: audits, timeout_s=5, what="the audit record")
        assert (ev[0].accepted, ev[0].key, ev[0].subject) == (False, None, subjects.spawn(node.name))
    finally:
        await bus.close()
    assert not marker.exists()
    assert not (node.state_dir / "workspace" / "evil1").exists()


async def test_a_captured_command_cannot_be_replayed(node: JinadNode) -> None:
    bus = await _bus(node)
    # only the node's own user may listen on its commands: it captures, the edge user replays
    ear = await Bus.connect(node.nats_url(), name="eavesdropper", **node.nats_login("node"))
    captured: list[Any] = []
    try:
        async def tap(msg: Any) -> None:
            captured.append(msg)

        await ear.nc.subscribe(subjects.ports(node.name), cb=tap)
        await ear.flush()
        flow_id = (await asyncio.to_thread(put_flow, node, "!Flow\nversion: 1\npods:\n  - name: p\n"))["flow_id"]
        msg = await async_wait_for(lambda: captured, timeout_s=10, what="a ports command seen")
        reply = await _ask(bus, msg[0].subject, msg[0].data, dict(msg[0].headers or {}))
        assert reply.error.status_code == 403 and "a replay" in reply.error.message
        forged = codec.encode(PortsRequest(count=500))  # the same signature on another payload
        reply = await _ask(bus, msg[0].subject, forged, dict(msg[0].headers or {}))
        assert "does not match" in reply.error.message
    finally:
        await bus.close()
        await ear.close()
    await asyncio.to_thread(node.edge.delete_flow, flow_id)


async def test_a_key_outside_the_trusted_file_is_refused(jinad_factory: Any, tmp_path: Path) -> None:
    trusted, stranger = Signer.generate(), Signer.generate()
    keys = tmp_path / "trusted-keys"
    keys.write_text(f"{trusted.public_key}\n")
    node: JinadNode = jinad_factory(name="strict", extra=["--trusted-keys", str(keys)])
    assert "commands are accepted from 1 trusted keys" in node.log()
    flow_id = (await asyncio.to_thread(put_flow, node, "!Flow\nversion: 1\npods:\n  - name: p\n"))["flow_id"]  # its own edge
    bus = await _bus(node)
    try:
        for signer, ok in ((stranger, False), (trusted, True)):
            payload = codec.encode(KillRequest(flow_id="nothing-here"))
            subject = subjects.kill("nothing-here")
            msg = await bus.nc.request(subject, payload, timeout=10,
                                       headers=signer.headers(subject, payload))
            body = codec.loads(msg.data)
            if ok:
                assert body["type"] == "kill.reply.v1" and body["ok"], body
            else:
                assert body["error"]["error"] == "ForbiddenError", body
                assert "not trusted" in body["error"]["message"]
    finally:
        await bus.close()
    await asyncio.to_thread(node.edge.delete_flow, flow_id)
