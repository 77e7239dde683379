"""The NATS deployments of ``deploy/nats/`` without Docker: jinad over a three-server cluster
(and a running mesh surviving one server's loss), and over a server with the mesh's three
roles (a node user per node, the edges' user, log readers).

The configs are used as shipped; only their ports are moved to free ones with nats-server's
own flags (``-p``, ``-m``, ``--cluster``), which override the file, as the configs' headers
tell users to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
import requests

from mesh.daemon.broker import NatsServer
from mesh.net.ports import free_port
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.waiting import async_wait_for, wait_for
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "nats"
PASS_FLOW = "!Flow\nversion: 1\npods:\n  - name: a\n    uses: _pass\n  - name: b\n    uses: _logforward\n"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def _index_one(node: JinadNode, flow: dict[str, Any]) -> None:
    """One Document through the Flow's gateway, answered without error."""
    from mesh import Client, Document

    got: list[Any] = []
    with Client(host=flow["host"], port_expose=flow["port"], timeout_s=20) as client:
        client.index([Document(text="over the cluster")], on_done=got.append)
    assert len(got) == 1 and got[0].num_docs == 1, got


def _delete(node: JinadNode, flow_id: str) -> None:
    r = requests.delete(f"{node.url}/flow", params={"flow_id": flow_id}, timeout=30)
    assert r.status_code == 200, r.text


# -- the cluster -------------------------------------------------------------------------------
class Cluster:
    def __init__(self, servers: list[NatsServer], client_ports: list[int], http_ports: list[int]):
        self.servers, self.client_ports, self.http_ports = servers, client_ports, http_ports

    def urls(self, *which: int) -> str:
        return ",".join(f"nats://127.0.0.1:{self.client_ports[i]}" for i in which)

    def jsz(self, i: int) -> dict[str, Any]:
        return dict(_get_json(f"http://127.0.0.1:{self.http_ports[i]}/jsz"))

    def meta_leader(self) -> str | None:
        for i, server in enumerate(self.servers):
            if server.running:
                with contextlib.suppress(OSError, ValueError):
                    meta = self.jsz(i).get("meta_cluster") or {}
                    if meta.get("leader") and meta.get("cluster_size") == 3:
                        return str(meta["leader"])
        return None


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """deploy/nats/cluster-n1..3.conf on free ports, each in a directory of its own (their
    ``store_dir`` is relative), routes from NATS_N1..3; ready once JetStream has a leader."""
    client = [free_port() for _ in range(3)]
    route = [free_port() for _ in range(3)]
    http = [free_port() for _ in range(3)]
    for i in range(3):
        monkeypatch.setenv(f"NATS_N{i + 1}", f"nats-route://127.0.0.1:{route[i]}")
    servers: list[NatsServer] = []
    try:
        for i in range(3):
            workdir = tmp_path / f"nats-n{i + 1}"
            workdir.mkdir()
            monkeypatch.chdir(workdir)  # the server starts here; store_dir ./nats-data-nI
            server = NatsServer(config_path=DEPLOY / f"cluster-n{i + 1}.conf", extra_args=[
                "-p", str(client[i]), "-m", str(http[i]),
                "--cluster", f"nats://127.0.0.1:{route[i]}"])
            servers.append(server)
            server.start()
        monkeypatch.chdir(REPO)  # jinad subprocesses import mesh from here
        c = Cluster(servers, client, http)
        wait_for(c.meta_leader, timeout_s=15, what="the JetStream meta leader of 3 servers")
        for i in range(3):
            assert (tmp_path / f"nats-n{i + 1}" / f"nats-data-n{i + 1}").is_dir()
        yield c
    finally:
        for server in reversed(servers):
            server.stop(grace_s=5.0)


def test_cluster_config_forms_a_cluster_and_jinad_survives_a_server_loss(
        cluster: Cluster, jinad_factory: Any) -> None:
    """A running mesh (two nodes, a Flow across both) loses one of its three brokers, the one
    leading the most streams: the Flow made before serves on and is deleted after, a new
    Flow is made and deleted, both nodes stay listed."""
    routes = [len(_get_json(f"http://127.0.0.1:{cluster.http_ports[i]}/routez")["routes"]) > 0
              for i in range(3)]
    assert all(routes), routes
    # two nodes, each given two of the three servers as a comma list
    n1 = jinad_factory(name="c1", nats=cluster.urls(0, 1))
    n2 = jinad_factory(name="c2", nats=cluster.urls(1, 2))
    assert {n["name"] for n in n1.edge.nodes()} == {"c1", "c2"}

    yaml_two_nodes = PASS_FLOW.replace("uses: _pass\n", "uses: _pass\n    host: c2\n", 1)
    flow = put_flow(n1, yaml_two_nodes)
    assert {p["name"]: p["node"] for p in n1.edge.get_flow(flow["flow_id"])["pods"]} == \
        {"a": "c2", "b": "c1"}
    _index_one(n1, flow)

    # the mesh's state is replicated: every bucket and stream on 3 servers
    streams = {s["name"]: s for s in _stream_infos(cluster)}
    for name in ("KV_jinad_nodes", "KV_jinad_flows", "OBJ_jinad_files", "JINAD_LOGS",
                 "JINAD_EVENTS"):
        assert streams[name]["config"]["num_replicas"] == 3, (name, streams[name]["config"])

    # stop the server that leads the most of them (n2 is connected to it: it must reconnect)
    victim = _busiest_leader(cluster)
    cluster.servers[victim].stop(grace_s=5.0)

    def both_listed() -> bool:
        with contextlib.suppress(Exception):
            return {n["name"] for n in n1.edge.nodes()} == {"c1", "c2"} and \
                {n["name"] for n in n2.edge.nodes()} == {"c1", "c2"}
        return False

    _index_one(n1, flow)  # the Flow made before the loss serves on (ZeroMQ, not NATS)
    wait_for(both_listed, timeout_s=15, what="both nodes listed after a NATS server stopped",
             interval_s=0.2)
    _index_one(n1, flow)
    assert n1.edge.get_flow(flow["flow_id"])["status"] == "running"
    assert flow["flow_id"] in {f["flow_id"] for f in requests.get(
        f"{n2.url}/flows", timeout=10).json()["flows"]}
    second = put_flow(n2, yaml_two_nodes.replace("host: c2", "host: c1"))
    _index_one(n2, second)
    _delete(n2, second["flow_id"])
    _delete(n1, flow["flow_id"])
    wait_for(lambda: not pea_pids_of(n1.proc.pid) and not pea_pids_of(n2.proc.pid),
             timeout_s=10, what="no Peas left")


def _stream_infos(cluster: Cluster) -> list[dict[str, Any]]:
    """Every stream of the cluster (a server's /jsz lists those it holds a replica of)."""
    found: dict[str, dict[str, Any]] = {}
    for i, server in enumerate(cluster.servers):
        if server.running:
            data = _get_json(f"http://127.0.0.1:{cluster.http_ports[i]}/jsz?streams=true&config=true")
            for account in data.get("account_details", []):
                for stream in account.get("stream_detail", []):
                    found.setdefault(stream["name"], stream)
    return list(found.values())


def _busiest_leader(cluster: Cluster) -> int:
    leaders: dict[str, int] = {}
    for s in _stream_infos(cluster):
        leader = (s.get("cluster") or {}).get("leader")
        if leader:
            leaders[leader] = leaders.get(leader, 0) + 1
    name = max(leaders, key=leaders.__getitem__) if leaders else "mesh-nats-2"
    return int(name.rsplit("-", 1)[1]) - 1


async def test_one_server_keeps_one_copy_unless_told(tmp_path: Path) -> None:
    """Outside a cluster the default is 1 replica, silently; an explicit 3 is refused there."""
    import nats.js.errors

    from mesh.events import Bus
    from mesh.events.kv import NodeRegistry
    from mesh.events.streams import LOGS_STREAM, ensure_log_stream

    with NatsServer(store_dir=tmp_path / "single") as server:
        bus = await Bus.connect(server.url, name="single")
        try:
            js = bus.jetstream
            await NodeRegistry(js, ttl_s=5).open()
            await ensure_log_stream(js, max_age_s=60, max_bytes=1 << 20)
            for stream in ("KV_jinad_nodes", LOGS_STREAM):
                assert (await js.stream_info(stream)).config.num_replicas == 1
            with pytest.raises(nats.js.errors.APIError):
                await NodeRegistry(js, ttl_s=5, bucket="three_copies", replicas=3).open()
        finally:
            await bus.close()


# -- the roles: node users, the edges' user, log readers -----------------------------------------
NODE_PASSWORD = "node-secret-1"
LOGS_PASSWORD = "logs-secret-2"
EDGE_PASSWORD = "edge-secret-3"
NODE_LOGIN = ["--nats-user", "node-n1", "--nats-password", NODE_PASSWORD,
              "--nats-edge-user", "edge", "--nats-edge-password", EDGE_PASSWORD]

SUFFIX_YAML = "!Suffix\nmetas:\n  py_modules:\n    - suffix.py\n"
SUFFIX_PY = """\
import logging

from mesh import Executor, requests

logger = logging.getLogger("suffix")


class Suffix(Executor):
    @requests
    def mark(self, docs):
        for doc in docs:
            doc.text += " (authorized)"
            logger.info("suffix saw %s", doc.text)
"""


@pytest.fixture
def auth_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NatsServer]:
    """deploy/nats/auth.conf on a free port; the passwords come from its environment."""
    monkeypatch.setenv("NODE_N1_PASSWORD", NODE_PASSWORD)
    monkeypatch.setenv("NODE_N2_PASSWORD", "node-secret-n2")
    monkeypatch.setenv("NODE_N3_PASSWORD", "node-secret-n3")
    monkeypatch.setenv("EDGE_PASSWORD", EDGE_PASSWORD)
    monkeypatch.setenv("LOGS_PASSWORD", LOGS_PASSWORD)
    workdir = tmp_path / "nats-auth"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # store_dir ./nats-data-auth
    server = NatsServer(config_path=DEPLOY / "auth.conf", extra_args=["-p", str(free_port())])
    try:
        server.start()
        monkeypatch.chdir(REPO)  # jinad subprocesses import mesh from here
        yield server
    finally:
        server.stop(grace_s=5.0)


async def _logs_reader(url: str) -> tuple[Any, list[Exception]]:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(url, user="logs", password=LOGS_PASSWORD, error_cb=on_error,
                            allow_reconnect=False, connect_timeout=5, inbox_prefix="_INBOX.logs")
    return nc, errors


async def test_auth_config_node_and_log_reader(auth_server: NatsServer, jinad_factory: Any) -> None:
    from mesh.events import codec, subjects
    from mesh.events.models import LogRecord
    from mesh.events.streams import replay_logs

    node = jinad_factory(name="n1", nats=auth_server.url, extra=NODE_LOGIN)
    reader, errors = await _logs_reader(auth_server.url)
    try:
        live: list[LogRecord] = []

        async def on_log(msg: Any) -> None:
            live.append(codec.decode(msg.data, LogRecord))

        sub = await reader.subscribe(subjects.LOGS_ALL, cb=on_log)
        await reader.flush()

        yaml_text = "!Flow\nversion: 1\npods:\n  - name: sfx\n    uses: suffix.yml\n"
        flow = await asyncio.to_thread(
            put_flow, node, yaml_text, {"suffix.yml": SUFFIX_YAML.encode(),
                                        "suffix.py": SUFFIX_PY.encode()})
        got: list[Any] = []

        def index() -> None:
            from mesh import Client, Document

            with Client(host=flow["host"], port_expose=flow["port"], timeout_s=20) as client:
                client.index([Document(text="hello")], on_done=got.append)

        await asyncio.to_thread(index)
        assert got and got[0].docs[0].text == "hello (authorized)"

        # live records on jinad.logs.>, as the log reader
        await async_wait_for(lambda: any("suffix saw" in r.message for r in live), timeout_s=10,
                             what=f"a 'suffix saw' record on {subjects.LOGS_ALL}")
        assert any("suffix saw hello (authorized)" in r.message and r.pod == "sfx"
                   for r in live), [r.message for r in live]
        await sub.unsubscribe()

        # and replayed from JINAD_LOGS, which the log reader may read too
        replayed = [r.message async for r in replay_logs(reader.jetstream(), flow["flow_id"])]
        assert any("suffix saw" in m for m in replayed), replayed

        # but it may not ask a node to spawn anything
        await reader.publish(subjects.spawn("n1"), b"{}")
        await reader.flush()
        await async_wait_for(lambda: errors, timeout_s=5,
                             what="the broker's error for a publish to jinad.spawn.n1")
        assert any("permissions violation" in str(e).lower() and "jinad.spawn.n1" in str(e)
                   for e in errors), errors
    finally:
        await reader.close()
    await asyncio.to_thread(_delete, node, flow["flow_id"])
    assert "permissions violation" not in node.log().lower()  # the roles cover all jinad does


def test_a_node_user_is_bound_to_its_name(auth_server: NatsServer, tmp_path: Path) -> None:
    """node-n1 cannot be node n2: jinad says so in one line instead of running deaf."""
    proc = subprocess.run(
        [sys.executable, "-m", "mesh.daemon.main", "--name", "n2", "--host", "127.0.0.1",
         "--port", "0", "--state-dir", str(tmp_path / "n2"), "--nats", auth_server.url,
         *NODE_LOGIN], check=False, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("jinad: error: ")]
    assert len(errors) == 1 and "node-n1" in errors[0] and "n2" in errors[0], out


def test_wrong_password_is_one_line_and_a_non_zero_exit(auth_server: NatsServer,
                                                        tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "mesh.daemon.main", "--name", "intruder", "--host", "127.0.0.1",
         "--port", "0", "--state-dir", str(tmp_path / "intruder"), "--nats", auth_server.url,
         "--nats-user", "node-n1", "--nats-password", "not-the-password"],
        check=False, capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - started
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and 'File "' not in out, out
    errors = [line for line in out.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, out
    assert errors[0].startswith("jinad: error: ") and "refused user 'node-n1'" in errors[0] \
        and "Authorization Violation" in errors[0] and auth_server.url in errors[0], errors
    assert "not-the-password" not in out
    assert elapsed < 5, f"a refused password took {elapsed:.1f} s to report"
