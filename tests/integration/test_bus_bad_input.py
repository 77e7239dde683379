"""Bad commands on the bus: each one sent to a real jinad over its real broker gets an error
reply with the right status and a message naming what is wrong; the daemon keeps running
and nothing (Pea, workspace file, flow record) is left behind.

Most commands are signed with the node's own edge key (read from its state dir), as a
trusted but buggy edge would send them; the last cases are not signed at all, or signed
badly, and are refused before they are read.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from mesh.events import subjects
from mesh.events.bus import Bus
from mesh.events.signing import Signer
from tests.fixtures.jinad import JinadNode
from tests.integration.jinad_support import assert_clean

pytestmark = pytest.mark.integration

NODE = "busbad"
EVIL = base64.b64encode(b"raise SystemExit('never run')\n").decode()


def _pea(**over: Any) -> dict[str, Any]:
    return {"kind": "pea", "name": "p/0", "pod": "p", "port_ctrl": 45999, "uses": "_pass", **over}


def _spawn(**over: Any) -> dict[str, Any]:
    return {"type": "spawn.request.v1", "flow_id": "f-bad", "pod": "p", "peas": [_pea()],
            "ready_timeout_s": 10, **over}


# (id, subject, payload, status, words the message must contain)
CASES: list[tuple[str, str, bytes, int, str]] = [
    ("spawn-not-json", "spawn", b"{not json", 400, "not valid JSON"),
    ("spawn-a-list", "spawn", b"[1, 2]", 400, "SpawnRequest"),
    ("spawn-kill-payload", "spawn", orjson.dumps({"type": "kill.request.v1", "flow_id": "f"}), 400,
     "SpawnRequest"),
    ("spawn-absolute-flow-id", "spawn", orjson.dumps(_spawn(flow_id="/tmp/victim")), 400,
     "flow_id"),
    ("spawn-dotdot-flow-id", "spawn", orjson.dumps(_spawn(flow_id="../victim")), 400, "flow_id"),
    ("spawn-empty-flow-id", "spawn", orjson.dumps(_spawn(flow_id="")), 400, "flow_id"),
    ("spawn-dict-flow-id", "spawn", orjson.dumps(_spawn(flow_id={"a": 1})), 400, "flow_id"),
    ("spawn-dotted-pod", "spawn", orjson.dumps(_spawn(pod="a.b")), 400, "pod"),
    ("spawn-wildcard-pod", "spawn", orjson.dumps(_spawn(pod="x>")), 400, "pod"),
    ("spawn-long-pod", "spawn", orjson.dumps(_spawn(pod="p" * 64)), 400, "pod"),
    ("spawn-peas-not-list", "spawn", orjson.dumps(_spawn(peas="x")), 400, "peas"),
    ("spawn-no-peas", "spawn", orjson.dumps(_spawn(peas=[])), 400, "peas"),
    ("spawn-pea-not-object", "spawn", orjson.dumps(_spawn(peas=["x"])), 400, "peas"),
    ("spawn-pea-missing-port", "spawn", orjson.dumps(_spawn(peas=[{"name": "p/0", "pod": "p"}])),
     400, "port_ctrl"),
    ("spawn-pea-bad-socket", "spawn",
     orjson.dumps(_spawn(peas=[_pea(inputs=[{"nonsense": 1}])])), 400, "inputs"),
    ("spawn-unknown-executor", "spawn", orjson.dumps(_spawn(peas=[_pea(uses="NoSuchExecutor")])),
     400, "NoSuchExecutor"),
    ("spawn-file-leaves-folder", "spawn", orjson.dumps(_spawn(files={"../evil.py": EVIL})), 400,
     "leave the flow's folder"),
    ("spawn-absolute-file", "spawn", orjson.dumps(_spawn(files={"/etc/evil.py": EVIL})), 400,
     "leave the flow's folder"),
    ("spawn-file-not-base64", "spawn", orjson.dumps(_spawn(files={"a.py": "%%%"})), 400, "a.py"),
    ("spawn-missing-files-ref", "spawn", orjson.dumps(_spawn(files_ref="nothing-stored")), 404,
     "nothing-stored"),
    ("spawn-negative-ready-timeout", "spawn", orjson.dumps(_spawn(ready_timeout_s=-1)), 400,
     "ready_timeout_s"),
    ("spawn-zero-lease", "spawn", orjson.dumps(_spawn(lease_s=0)), 400, "lease_s"),
    ("spawn-huge-lease", "spawn", orjson.dumps(_spawn(lease_s=1e12)), 400, "lease_s"),
    ("kill-not-json", "kill", b"\xff\xfe", 400, "not valid JSON"),
    ("kill-absolute-flow-id", "kill", orjson.dumps({"type": "kill.request.v1", "flow_id": "/etc"}),
     400, "flow_id"),
    ("kill-bad-pod", "kill", orjson.dumps({"type": "kill.request.v1", "flow_id": "f", "pod": "a b"}),
     400, "pod"),
    ("kill-negative-renewal", "kill",
     orjson.dumps({"type": "kill.request.v1", "flow_id": "f", "renew_lease_s": -5}), 400,
     "renew_lease_s"),
    ("ports-zero", "ports", orjson.dumps({"type": "ports.request.v1", "count": 0}), 400, "count"),
    ("ports-too-many", "ports", orjson.dumps({"type": "ports.request.v1", "count": 100_000}), 400,
     "count"),
    ("ports-not-a-number", "ports", orjson.dumps({"type": "ports.request.v1", "count": "x"}), 400,
     "count"),
]


def _subject(kind: str) -> str:
    return {"spawn": subjects.spawn(NODE), "kill": subjects.kill("f"),
            "ports": subjects.ports(NODE)}[kind]


@pytest.fixture(scope="module")
def busbad(jinad_module_factory: Any) -> JinadNode:
    return jinad_module_factory(name=NODE)


@pytest.fixture(scope="module")
def edge_key(busbad: JinadNode) -> Signer:
    """The node's own edge key: what a trusted edge signs with."""
    return Signer.load_or_create(Path(busbad.state_dir) / "edge.nk")


async def _reply(node: JinadNode, subject: str, payload: bytes,
                 headers: dict[str, str] | None) -> dict[str, Any]:
    bus = await Bus.connect(node.nats_url(), name="bad-input", **node.nats_login("edge"))
    try:
        msg = await bus.nc.request(subject, payload, timeout=15, headers=headers)
    finally:
        await bus.close()
    return dict(orjson.loads(msg.data))


def _assert_nothing_left(node: JinadNode) -> None:
    assert_clean(node)
    assert not list((Path(node.state_dir) / "workspace").glob("*")), "files left behind"
    assert not Path("/tmp/victim").exists()


def _error(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply.get("type") == "error.v1" or reply.get("error"), reply
    return dict(reply["error"])


@pytest.mark.parametrize(("kind", "payload", "status", "words"),
                         [pytest.param(k, p, s, w, id=i) for i, k, p, s, w in CASES])
async def test_a_bad_command_is_refused_with_a_reason(busbad: JinadNode, edge_key: Signer, kind: str,
                                                      payload: bytes, status: int, words: str) -> None:
    subject = _subject(kind)
    try:
        err = _error(await _reply(busbad, subject, payload, edge_key.headers(subject, payload)))
    finally:  # a command taken by mistake must not spoil the cases after it
        kill = orjson.dumps({"type": "kill.request.v1", "flow_id": "f-bad"})
        await _reply(busbad, subjects.kill("f-bad"), kill, edge_key.headers(subjects.kill("f-bad"), kill))
    assert err["status_code"] == status, err
    assert words in err["message"], err
    _assert_nothing_left(busbad)


SPAWN = orjson.dumps(_spawn())


@pytest.mark.parametrize(("headers", "words"), [
    pytest.param(lambda s, p: None, "not signed", id="unsigned"),
    pytest.param(lambda s, p: Signer.generate().headers(s, p), "not trusted", id="stranger"),
    pytest.param(lambda s, p: {**KEY.headers(s, p), "Mesh-Sig": "AAAA"}, "does not match",
                 id="bad-signature"),
    pytest.param(lambda s, p: KEY.headers(s, b"other"), "does not match", id="other-payload"),
    pytest.param(lambda s, p: KEY.headers(subjects.spawn("elsewhere"), p), "does not match",
                 id="other-node"),
    pytest.param(lambda s, p: KEY.headers(s, p, ttl_s=-600), "expired", id="expired"),
    pytest.param(lambda s, p: {**KEY.headers(s, p), "Mesh-Expires": "soon"}, "bad expiry",
                 id="bad-expiry"),
])
async def test_a_command_without_a_good_signature_is_refused(busbad: JinadNode, edge_key: Signer,
                                                             headers: Any, words: str) -> None:
    KEY.__dict__.update(edge_key.__dict__)  # the cases sign with the node's own key
    subject = subjects.spawn(NODE)
    err = _error(await _reply(busbad, subject, SPAWN, headers(subject, SPAWN)))
    assert (err["error"], err["status_code"]) == ("ForbiddenError", 403)
    assert words in err["message"], err
    assert_clean(busbad)


KEY = Signer.generate()  # replaced by the node's key in the test above
