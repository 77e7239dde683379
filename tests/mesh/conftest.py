"""Several ``jinad`` nodes, each in its own network namespace on one bridge, one NATS.

``mesh3`` (module scope) builds nodes A, B and C once per test module: A runs the
embedded nats-server (listening on every address of its namespace, port 4222, with the
users it generates) and B and C join it with the command ``jinad credentials add-node``
prints on A (``--nats nats://<A's ip>:4222`` and users of their own). Every node's edge listens on
port 8000 of its own namespace and advertises its namespace address; the test
process (root namespace) reaches each one there. ``clean`` is that mesh checked empty
before and after a test. Tests that kill nodes build their own mesh with :func:`build_mesh`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.jinad import JinadNode, pea_pids_of, start_jinad, stop_nodes
from tests.fixtures.waiting import wait_for
from tests.netns import Host, Net, available, cleanup_stale

__all__ = ["EDGE_PORT", "NATS_PORT", "Mesh", "MeshNode", "build_mesh"]

NATS_PORT = 4222
EDGE_PORT = 8000


@dataclass
class MeshNode:
    """One machine of the mesh: its namespace and the ``jinad`` running there."""

    host: Host
    jinad: JinadNode

    @property
    def name(self) -> str:
        return self.jinad.name

    @property
    def ip(self) -> str:
        return self.host.ip

    @property
    def edge(self) -> Any:
        return self.jinad.edge

    @property
    def pid(self) -> int:
        return self.jinad.proc.pid

    def peas(self) -> list[int]:
        """Pea processes this node's ``jinad`` runs."""
        return pea_pids_of(self.pid)

    def alive(self) -> bool:
        return self.jinad.proc.poll() is None


@dataclass
class Mesh:
    net: Net
    tmp: Path
    broker_node: str = "A"
    labels: dict[str, list[str]] = field(default_factory=dict)
    nodes: dict[str, MeshNode] = field(default_factory=dict)
    joins: dict[str, list[str]] = field(default_factory=dict)  # the join flags of B, C...

    def start(self, name: str) -> MeshNode:
        """Start (or restart, with the same state dir) the ``jinad`` of host ``name``."""
        host = self.net.hosts[name]
        first = name == self.broker_node
        if first:
            extra = ["--nats-port", str(NATS_PORT), "--nats-listen", "0.0.0.0"]
        else:
            if name not in self.joins:  # run on A's machine, as its operator would
                self.joins[name] = self.nodes[self.broker_node].jinad.join_args(
                    name, prefix=self.net.hosts[self.broker_node].exec_argv([]))
            extra = list(self.joins[name])  # --nats <A's address> and its own users
        if self.labels.get(name):
            extra += ["--labels", *self.labels[name]]
        broker = f"nats://{self.net.hosts[self.broker_node].ip}:{NATS_PORT}"
        jinad = start_jinad(self.tmp, name=name, host="0.0.0.0", advertise=host.ip, port=EDGE_PORT,
                            nats=None if first else broker, extra=extra,
                            prefix=host.exec_argv([]), state_dir=self.tmp / f"state-{name}")
        node = self.nodes[name] = MeshNode(host=host, jinad=jinad)
        # `ip netns exec` execs jinad: the pid the fixture holds is jinad's, the parent its Peas record
        assert b"mesh.daemon.main" in Path(f"/proc/{node.pid}/cmdline").read_bytes()
        return node

    def __getitem__(self, name: str) -> MeshNode:
        return self.nodes[name]

    @property
    def nats_url(self) -> str:
        """The broker as the test process (root namespace) reaches it, as the log reader."""
        login = self.nodes[self.broker_node].jinad.nats_login("logs")
        return f"nats://{login['user']}:{login['password']}@{self.broker_ip}:{NATS_PORT}"

    @property
    def broker_ip(self) -> str:
        return self.net.hosts[self.broker_node].ip

    def peas(self) -> dict[str, list[int]]:
        return {name: node.peas() for name, node in self.nodes.items()}

    def stored(self) -> dict[str, list[str]]:
        """What the broker keeps for flows: KV keys of ``jinad_flows``, objects of ``jinad_files``."""
        login = self.nodes[self.broker_node].jinad.nats_login("edge")
        return asyncio.run(_stored(f"nats://{self.broker_ip}:{NATS_PORT}", login))

    def close(self) -> list[int]:
        """Stop every node (B, C... first, the broker's node last); return Peas left over."""
        order = sorted(self.nodes.values(), key=lambda n: n.name == self.broker_node)
        leftovers = stop_nodes(node.jinad for node in order)
        self.net.close()
        return leftovers


async def _stored(url: str, login: dict[str, str]) -> dict[str, list[str]]:
    import nats
    import nats.js.errors

    nc = await nats.connect(url, **login, connect_timeout=5, allow_reconnect=False)
    try:
        js = nc.jetstream()
        kv = await js.key_value("jinad_flows")
        try:
            flows = sorted(await kv.keys())
        except nats.js.errors.NoKeysError:
            flows = []
        try:
            store = await js.object_store("jinad_files")
            files = sorted(o.name for o in await store.list(ignore_deletes=True))
        except nats.js.errors.NotFoundError:  # no object yet (or no bucket)
            files = []
        return {"jinad_flows": flows, "jinad_files": files}
    finally:
        await nc.close()


def _netns_or_skip() -> None:
    ok, why = available()
    if not ok:
        if os.environ.get("MESH_REQUIRE_NETNS") == "1":
            pytest.fail(f"network namespaces required but unavailable: {why}")
        pytest.skip(f"network namespaces unavailable: {why}")
    cleanup_stale()


def build_mesh(tmp: Path, names: tuple[str, ...] = ("A", "B", "C"),
               labels: dict[str, list[str]] | None = None) -> Mesh:
    """Namespaces and ``jinad`` nodes; the first name runs the broker. Skips without netns."""
    _netns_or_skip()
    mesh = Mesh(net=Net(), tmp=tmp, broker_node=names[0], labels=labels or {})
    try:
        for name in names:
            mesh.net.add_host(name)
        mesh.start(names[0])
        with ThreadPoolExecutor(max_workers=max(len(names) - 1, 1)) as pool:
            futures = [pool.submit(mesh.start, name) for name in names[1:]]
        for future in futures:
            future.result()  # the first failure, if any (close() stops the nodes that started)
        want = set(names)
        wait_for(lambda: want <= {n["name"] for n in mesh[names[0]].edge.nodes()}, timeout_s=10,
                 what=f"nodes {sorted(want)} in the mesh")
    except BaseException:
        mesh.close()
        raise
    return mesh


@pytest.fixture(scope="module")
def mesh3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """Nodes A (broker), B and C (labels role=x), built once per module."""
    mesh = build_mesh(tmp_path_factory.mktemp("mesh3"), labels={"C": ["role=x"]})
    try:
        yield mesh
    finally:
        leftovers = mesh.close()
    assert not leftovers, f"Peas left behind by the mesh's jinad nodes: {leftovers}"


@pytest.fixture
def clean(mesh3: Mesh) -> Iterator[Mesh]:
    """The shared mesh, checked empty before and after the test."""
    from tests.mesh.flows import assert_nothing_left, delete_flow, flow_ids  # (they import Mesh)

    assert_nothing_left(mesh3)
    yield mesh3
    for flow_id in flow_ids(mesh3, "A"):  # a failed test must not spoil the next one
        delete_flow(mesh3, "A", flow_id)
    assert_nothing_left(mesh3)
