"""A Pea's control socket obeys only holders of the Flow's key; status stays open to anyone.

Real Peas, real ZeroMQ: a stranger's DEALER sends ``terminate`` without a key, with a wrong
key, signed for another Pea, too old, and replayed; each is refused, and the Pea keeps
serving. ``mesh ping`` still answers, and the Flow's own stop still stops every Pea.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from mesh import Flow
from mesh.errors import ForbiddenError, PeaStartError
from mesh.launchers.base import PeaHandle
from mesh.launchers.factory import make_pea, start_peas, stop_all
from mesh.launchers.ready import wait_all_ready
from mesh.net.ports import free_port
from mesh.runtime.config import GatewayConfig, PeaConfig
from mesh.runtime.control import ctrl_request
from mesh.runtime.ctrl_auth import sign
from mesh.runtime.keys import new_keys
from mesh.types.codec import dumps, loads
from tests.fixtures.procs import mesh_children, running
from tests.fixtures.waiting import wait_for
from tests.integration.test_cli import run_mesh

pytestmark = pytest.mark.integration

WRONG_KEY = "5a" * 32


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    with Flow(http=False).add(name="p").add(name="q") as f:
        yield f


def _raw(port: int, body: Any, timeout_s: float = 5.0) -> dict[str, Any]:
    """What a stranger sees: a plain DEALER, one message, one answer."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    try:
        sock.send(body if isinstance(body, bytes) else dumps(body))
        assert sock.poll(int(timeout_s * 1000)), f"no answer on port {port}"
        return loads(sock.recv())  # type: ignore[no-any-return]
    finally:
        sock.close(0)


def _cfg(flow: Flow, who: str) -> PeaConfig | GatewayConfig:
    assert flow.plan is not None
    return flow.plan.gateway if who == "gateway" else flow.plan.pod(who).entry


def _key(cfg: PeaConfig | GatewayConfig) -> str:
    assert cfg.keys is not None
    return cfg.keys.ctrl


@pytest.mark.parametrize("who", ["p", "gateway"])
def test_a_strangers_terminate_is_refused_and_the_pea_keeps_serving(flow: Flow, who: str) -> None:
    cfg = _cfg(flow, who)
    pid = ctrl_request("127.0.0.1", cfg.port_ctrl)["pid"]
    attempts = {
        "no key": {"cmd": "terminate"},
        "a wrong key": sign(WRONG_KEY, "terminate", pea=cfg.name),
        "the key, for another Pea": sign(_key(cfg), "terminate", pea="q" if who != "q" else "p"),
        "the key, two minutes ago": sign(_key(cfg), "terminate", pea=cfg.name, now=time.time() - 120),
        "another command, no key": {"cmd": "reroute", "args": {"to": "tcp://evil:1"}},
    }
    for what, body in attempts.items():
        reply = _raw(cfg.port_ctrl, body)
        assert (reply["ok"], reply["error"]) == (False, "ForbiddenError"), what
        assert reply["message"].startswith(f"command {body['cmd']!r} refused: "), what
        assert "pid" not in reply and "counts" not in reply, what  # a refusal tells nothing more
    assert running(pid)
    assert ctrl_request("127.0.0.1", cfg.port_ctrl)["pid"] == pid
    assert flow.index(["still", "serving"])[0].docs.texts == ["still", "serving"]  # type: ignore[index]


def test_without_the_key_the_client_side_refuses_to_send(flow: Flow) -> None:
    cfg = _cfg(flow, "p")
    with pytest.raises(ForbiddenError, match="'terminate' to tcp://127.0.0.1:\\d+ needs the Flow's control key"):
        ctrl_request("127.0.0.1", cfg.port_ctrl, "terminate")
    with pytest.raises(ForbiddenError, match="command 'terminate' refused: its signature is not"):
        ctrl_request("127.0.0.1", cfg.port_ctrl, "terminate", key=WRONG_KEY, pea=cfg.name)


def test_a_replayed_signed_command_is_refused(flow: Flow) -> None:
    """A signed command the Pea took once (an unknown one, which changes nothing) is refused
    when the same bytes come again; the answer to the first proves the key."""
    cfg = _cfg(flow, "q")
    body = sign(_key(cfg), "no-such-command", pea=cfg.name)
    first = _raw(cfg.port_ctrl, body)
    assert (first["ok"], first["error"]) == (False, "BadRequestError")
    assert "unknown command 'no-such-command'" in first["message"] and "proof" in first
    replay = _raw(cfg.port_ctrl, body)
    assert replay["error"] == "ForbiddenError" and "replay" in replay["message"]
    assert "proof" not in replay


def test_status_and_mesh_ping_need_no_key(flow: Flow) -> None:
    cfg = _cfg(flow, "p")
    for body in (b"", b"not json", {"cmd": "status"}, {"cmd": "ping"}, [1, 2]):
        reply = _raw(cfg.port_ctrl, body)
        assert reply["ok"] is True and reply["pea"] == "p"
        assert "proof" not in reply
    assert not any(_key(cfg) in str(v) for v in _raw(cfg.port_ctrl, b"").values())
    result = run_mesh("ping", "127.0.0.1", str(cfg.port_ctrl), "--retries", "1")
    assert result.returncode == 0, result.stderr
    assert "avg. latency" in result.stdout


def test_a_signed_status_is_answered_with_a_proof(flow: Flow) -> None:
    cfg = _cfg(flow, "gateway")
    reply = ctrl_request("127.0.0.1", cfg.port_ctrl, key=_key(cfg), pea="gateway")
    assert reply["pea"] == "gateway" and "proof" in reply
    with pytest.raises(ForbiddenError, match="does not prove the Flow's key"):
        ctrl_request("127.0.0.1", cfg.port_ctrl, key=WRONG_KEY, pea="gateway")


def test_the_flows_own_stop_stops_every_pea() -> None:
    before = set(mesh_children())
    with Flow(http=False).add(name="a", replicas=2).add(name="b") as f:
        assert f.plan is not None
        peas = [f.plan.gateway, *(c for pp in f.plan.pods for c in pp.peas)]
        pids = [ctrl_request("127.0.0.1", c.port_ctrl)["pid"] for c in peas]
        assert all(running(pid) for pid in pids)
        keys = {c.keys.ctrl for c in peas if c.keys is not None}
        assert len(keys) == 1 and len(peas) == 6  # one key per Flow, in every config
    assert not any(running(pid) for pid in pids)
    assert set(mesh_children()) <= before


# -- a Pea started by the launcher: the keyed ready wait, a terminate, a restart ---------
@pytest.fixture
def launched(tmp_path: Path) -> Iterator[list[PeaHandle]]:
    made: list[PeaHandle] = []
    yield made
    stop_all(made, 2.0)


def _start(cfg: PeaConfig, made: list[PeaHandle], *, key: str | None) -> PeaHandle:
    pea = make_pea(cfg, sink=lambda line: None)
    made.append(pea)
    start_peas([pea])
    wait_all_ready([pea], [30], keys=[key])
    return pea


def test_a_terminate_replayed_to_the_restarted_pea_is_refused(launched: list[PeaHandle]) -> None:
    """The Pea restarted with the same config (same name, port and key) has no memory of the
    nonce, yet refuses the captured command: it was signed before this life of it started."""
    keys = new_keys()
    cfg = PeaConfig(name="p/0", pod="p", port_ctrl=free_port(), keys=keys)
    first = _start(cfg, launched, key=keys.ctrl)
    captured = dumps(sign(keys.ctrl, "terminate", pea="p/0"))
    assert _raw(cfg.port_ctrl, captured)["ok"] is True
    wait_for(lambda: first.returncode is not None, timeout_s=10, what="the Pea to obey terminate")
    assert first.returncode == 0

    again = _start(cfg, launched, key=keys.ctrl)
    reply = _raw(cfg.port_ctrl, captured)
    assert reply["error"] == "ForbiddenError" and "signed before this Pea started" in reply["message"]
    assert ctrl_request("127.0.0.1", cfg.port_ctrl)["ok"] and again.returncode is None
    ctrl_request("127.0.0.1", cfg.port_ctrl, "terminate", key=keys.ctrl, pea="p/0")  # a fresh one
    wait_for(lambda: again.returncode is not None, timeout_s=10, what="the Pea to obey terminate")


def test_the_keyed_ready_wait_takes_no_answer_without_the_proof(launched: list[PeaHandle]) -> None:
    cfg = PeaConfig(name="p/0", pod="p", port_ctrl=free_port(), keys=new_keys())
    with pytest.raises(PeaStartError, match="p/0 the answer on .* does not prove the Flow's key"):
        _start(cfg, launched, key=WRONG_KEY)


def test_a_pea_without_keys_obeys_no_command(launched: list[PeaHandle]) -> None:
    cfg = PeaConfig(name="p/0", pod="p", port_ctrl=free_port())
    pea = _start(cfg, launched, key=None)
    reply = _raw(cfg.port_ctrl, sign(WRONG_KEY, "terminate", pea="p/0"))
    assert "holds no control key" in reply["message"] and pea.returncode is None
