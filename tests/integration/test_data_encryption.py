"""``encrypt_data``: the data sockets between a Flow's Peas and its gateway speak ZeroMQ CURVE
with keys made for the Flow; a socket without them cannot put a request into the Flow."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import zmq
from zmq.utils.monitor import parse_monitor_message

from mesh import Client, Document, Flow
from mesh.errors import ForbiddenError
from mesh.runtime.control import ctrl_request
from mesh.runtime.keys import MeshKeys
from mesh.types.request import Request
from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

# a NULL client meeting a CURVE server: the mechanism mismatch, or the server's closing first
REFUSED_PLAIN = (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
HANDSHAKE_END = (zmq.EVENT_HANDSHAKE_SUCCEEDED, zmq.EVENT_HANDSHAKE_FAILED_AUTH, *REFUSED_PLAIN)


@pytest.fixture(scope="module")
def encrypted() -> Iterator[Flow]:
    flow = (Flow(encrypt_data=True).add(name="p", replicas=2, polling="all")
            .add(name="q", needs=["p", "gateway"]))
    with flow:
        yield flow


def _input_port(flow: Flow, pod: str) -> int:
    assert flow.plan is not None
    return next(s.port for s in flow.plan.pod(pod).entry.inputs if s.mode == "bind")  # type: ignore[misc]


def _keys(flow: Flow) -> MeshKeys:
    assert flow.plan is not None and flow.plan.gateway.keys is not None
    return flow.plan.gateway.keys


def _recv_count(flow: Flow, pod: str) -> int:
    assert flow.plan is not None
    return int(ctrl_request("127.0.0.1", flow.plan.pod(pod).entry.port_ctrl)["counts"]["recv"])


def _inject(port: int, *, curve: tuple[bytes, bytes, bytes] | None = None) -> int:
    """Push one well-formed request at ``port`` as a stranger would; return how its handshake
    ended (a ZeroMQ monitor event: a PUSH sends nothing before its handshake succeeded)."""
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = curve
    monitor = sock.get_monitor_socket()
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        sock.send_multipart(Request.new("/index", request_id="injected").to_frames())
        ended: list[int] = []

        def handshake_ended() -> bool:
            while monitor.poll(0):
                event = parse_monitor_message(monitor.recv_multipart())["event"]
                if event in HANDSHAKE_END:
                    ended.append(event)
            return bool(ended)

        wait_for(handshake_ended, timeout_s=10, interval_s=0.01, what="the handshake to end")
        return ended[0]
    finally:
        sock.disable_monitor()
        monitor.close(0)
        sock.close(0)


def test_documents_go_through_an_encrypted_flow(encrypted: Flow) -> None:
    docs = [Document(text=str(i), embedding=np.arange(3, dtype="float32") + i) for i in range(250)]
    responses = encrypted.index(docs, request_size=50)
    assert responses is not None and len(responses) == 5
    out = [d for r in responses for d in r.docs]
    assert sorted(d.text for d in out) == sorted(str(i) for i in range(250))
    assert all(np.array_equal(d.embedding, np.arange(3, dtype="float32") + int(d.text)) for d in out)
    assert [e["pod"] for e in responses[0].route][0] == "gateway"


def test_a_plain_push_cannot_inject_into_an_encrypted_pull(encrypted: Flow) -> None:
    before = _recv_count(encrypted, "q")
    assert _inject(_input_port(encrypted, "q")) in REFUSED_PLAIN
    assert encrypted.index(["after"])[0].docs.texts == ["after"]  # type: ignore[index]
    assert _recv_count(encrypted, "q") == before + 2  # its two parts (p and the gateway), only


def test_a_curve_client_with_a_strangers_keys_is_refused(encrypted: Flow) -> None:
    """Knowing the Flow's server public key is not enough: the Peas admit only its client key."""
    public, secret = zmq.curve_keypair()
    server = _keys(encrypted).curve_server_public.encode()
    before = _recv_count(encrypted, "q")
    assert _inject(_input_port(encrypted, "q"), curve=(server, public, secret)) == \
        zmq.EVENT_HANDSHAKE_FAILED_AUTH
    assert encrypted.index(["after"])[0].docs.texts == ["after"]  # type: ignore[index]
    assert _recv_count(encrypted, "q") == before + 2


def test_without_encrypt_data_the_same_push_does_inject() -> None:
    """The control case: what the two tests above refuse does reach a plain Flow's Pea."""
    with Flow(http=False).add(name="q") as plain:
        assert not _keys(plain).encrypt
        assert _inject(_input_port(plain, "q")) == zmq.EVENT_HANDSHAKE_SUCCEEDED
        wait_for(lambda: _recv_count(plain, "q") == 1, timeout_s=10, what="the injected request")


def test_encrypt_data_is_a_flow_yaml_option(tmp_path: Any) -> None:
    path = tmp_path / "flow.yml"
    path.write_text("!Flow\nversion: 1\nwith:\n  encrypt_data: true\n  http: false\npods:\n  - name: a\n")
    flow = Flow.load_config(path)
    assert flow.spec.encrypt_data is True
    assert "encrypt_data: true" in flow.to_yaml()
    with flow:
        assert _keys(flow).encrypt
        assert flow.index(["x"])[0].docs.texts == ["x"]  # type: ignore[index]


def test_a_node_runs_an_encrypted_flow_with_the_keys_its_edge_planned(clean_node: JinadNode) -> None:
    """The edge plans the keys; the node passes them on to its Peas as it got them."""
    flow = put_flow(clean_node, "!Flow\nversion: 1\nwith:\n  encrypt_data: true\n"
                                "pods:\n  - name: a\n  - name: b\n")
    try:
        with Client(host=flow["host"], port_expose=flow["port"], timeout_s=20) as client:
            assert client.index(["on", "a", "node"])[0].docs.texts == ["on", "a", "node"]  # type: ignore[index]
        record = clean_node.edge.get_flow(flow["flow_id"])
        pea = next(p for pod in record["pods"] if pod["name"] == "b" for p in pod["peas"])
        assert _inject(pea["port_in"]) in REFUSED_PLAIN
        status = ctrl_request("127.0.0.1", pea["port_ctrl"])  # open; terminate is not
        with pytest.raises(ForbiddenError, match="refused: its signature is not"):
            ctrl_request("127.0.0.1", pea["port_ctrl"], "terminate", key="77" * 32, pea=pea["name"])
        assert ctrl_request("127.0.0.1", pea["port_ctrl"])["pid"] == status["pid"]
    finally:
        clean_node.edge.delete_flow(flow["flow_id"])


@pytest.mark.container
def test_a_container_pea_gets_its_keys_and_never_on_its_command_line() -> None:
    """The middle pod in a container: its sockets speak CURVE with the process Peas around it,
    it refuses a stranger's terminate, and ``docker inspect`` shows its keys nowhere but in
    its environment."""
    from tests.container.support import IMAGE

    try:
        from mesh.launchers.engine import docker_client

        docker_client().images.get(IMAGE)
    except Exception as exc:  # noqa: BLE001 - no engine, or no image
        if os.environ.get("MESH_REQUIRE_DOCKER") == "1":
            pytest.fail(f"MESH_REQUIRE_DOCKER=1 but {exc}", pytrace=False)
        pytest.skip(f"no Docker engine with {IMAGE}: {exc}")
    flow = (Flow(encrypt_data=True, http=False).add(name="a").add(name="ctr", image=IMAGE)
            .add(name="c"))
    with flow:
        assert flow.index(["through", "a", "container"])[0].docs.texts == ["through", "a", "container"]  # type: ignore[index]
        keys = _keys(flow)
        cfg = flow.plan.pod("ctr").entry  # type: ignore[union-attr]
        with pytest.raises(ForbiddenError, match="refused: its signature is not"):
            ctrl_request("127.0.0.1", cfg.port_ctrl, "terminate", key="77" * 32, pea="ctr")
        assert _inject(_input_port(flow, "ctr")) in REFUSED_PLAIN
        assert flow._runner is not None
        container = next(p for p in flow._runner.peas if p.name == "ctr").container  # type: ignore[attr-defined]
        container.reload()
        shown = " ".join(container.attrs["Args"]) + " ".join(container.attrs["Config"]["Cmd"])
        assert keys.ctrl not in shown and keys.curve_server_secret not in shown
        assert any(e.startswith("MESH_PEA_KEYS=") for e in container.attrs["Config"]["Env"])
        assert flow.index(["still"])[0].docs.texts == ["still"]  # type: ignore[index]
