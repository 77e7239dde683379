"""The embedded broker is private by default: it listens on loopback, requires the users jinad
generates (files 0600 in the state dir), and each user can do what its role needs and no
more (a log reader reads logs, a node user serves its own node). A second machine joins
with the command ``jinad credentials add-node`` prints, and a node user is rotated without
stopping the broker or the Flows it carries: a joined node and the broker's own jinad switch
to new users while they run."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
import requests

from mesh import Client, Document
from mesh.daemon.credentials import AUTH_CONF, CREDENTIALS_FILE
from mesh.daemon.instance import INSTANCE_FILE
from mesh.daemon.lock import LOCK_FILE
from mesh.daemon.roles import inbox_prefix
from mesh.events import subjects
from mesh.events.streams import replay_logs
from mesh.flow.banner import private_addresses
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.waiting import async_wait_for, wait_for
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

FWD_FLOW = "!Flow\nversion: 1\npods:\n  - name: fwd\n    uses: _logforward\n"
VIOLATION = "permissions violation"


class Watched:
    """A plain nats-py client that keeps the errors the broker sends it."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.nc: Any = None

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(exc)

    def refused(self, what: str) -> bool:
        return any(VIOLATION in str(e).lower() and f'"{what.lower()}"' in str(e).lower()
                   for e in self.errors)  # (nats-py lowercases the server's message)


@contextlib.asynccontextmanager
async def connected(url: str, **login: str) -> AsyncIterator[Watched]:
    c = Watched()
    c.nc = await nats.connect(url, **login, error_cb=c.on_error, allow_reconnect=False,
                              connect_timeout=5)
    try:
        yield c
    finally:
        await c.nc.close()


async def _refused_login(url: str, **login: str) -> str:
    """The broker's answer to a login it must refuse."""
    c = Watched()
    nc = nats.NATS()
    try:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - its type varies by nats-py version
            await nc.connect(url, **login, error_cb=c.on_error, allow_reconnect=False,
                             max_reconnect_attempts=0, connect_timeout=2)
    finally:
        await nc.close()  # the refused connection's socket, too
    return " ".join([str(caught.value), *map(str, c.errors)]).lower()


def _login(flags: list[str], role: str) -> dict[str, str]:
    """user, password and inbox prefix of the node or edge user in a join command's flags."""
    key = "--nats-user" if role == "node" else "--nats-edge-user"
    user = flags[flags.index(key) + 1]
    password = flags[flags.index(key.replace("user", "password")) + 1]
    return {"user": user, "password": password, "inbox_prefix": inbox_prefix(
        user, role="node" if role == "node" else "edge", node=flags[flags.index("--name") + 1])}


def _credentials(node: JinadNode, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mesh.daemon.main", "credentials", "--state-dir",
                           str(node.state_dir), *args], capture_output=True, text=True,
                          timeout=30, check=False)


def _index(flow: dict[str, Any], text: str = "hello") -> None:
    got: list[Any] = []
    with Client(host=flow["host"], port_expose=flow["port"], timeout_s=20) as client:
        client.index([Document(text=text)], on_done=got.append)
    assert len(got) == 1 and got[0].num_docs == 1, got


def _no_violations(*nodes: JinadNode) -> None:
    for node in nodes:
        lines = [ln for ln in node.log().splitlines() if VIOLATION in ln.lower()]
        assert not lines, f"jinad {node.name} hit its own permissions: {lines}"


# -- private by default ---------------------------------------------------------------------------
def test_the_users_are_private_files_and_the_broker_listens_on_loopback(jinad_node: JinadNode) -> None:
    for name in (CREDENTIALS_FILE, AUTH_CONF, INSTANCE_FILE, LOCK_FILE):
        mode = stat.S_IMODE((jinad_node.state_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert "listening on 127.0.0.1, users required" in jinad_node.log()
    port = int(jinad_node.nats_url().rsplit(":", 1)[1])
    for address in private_addresses():  # this machine's other addresses: nothing listens there
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass


async def test_a_client_without_the_generated_credentials_is_refused(jinad_node: JinadNode) -> None:
    url = jinad_node.nats_url()
    assert "authorization violation" in await _refused_login(url)
    edge = jinad_node.nats_login("edge")
    assert "authorization violation" in await _refused_login(url, user=edge["user"],
                                                             password="not-the-password")


# -- the log reader ----------------------------------------------------------------------------------
async def test_a_log_reader_reads_logs_and_nothing_else(jinad_node: JinadNode) -> None:
    flow = await asyncio.to_thread(put_flow, jinad_node, FWD_FLOW)
    async with connected(jinad_node.nats_url(), **jinad_node.nats_login("logs")) as reader:
        live: list[str] = []

        async def on_log(msg: Any) -> None:
            live.append(msg.data.decode())

        await reader.nc.subscribe(subjects.LOGS_ALL, cb=on_log)
        await reader.nc.flush()
        await asyncio.to_thread(_index, flow)
        await async_wait_for(lambda: any("recv IndexRequest" in m for m in live), timeout_s=10,
                             what=f"the _logforward line on {subjects.LOGS_ALL}")
        replayed = [r.message async for r in replay_logs(reader.nc.jetstream(), flow["flow_id"])]
        assert any("recv IndexRequest" in m for m in replayed), replayed

        # a spawn, another node's commands, the replies of others, the mesh's records: refused
        await reader.nc.publish(subjects.spawn(jinad_node.name), b"{}")
        await reader.nc.subscribe(subjects.spawn(jinad_node.name))
        await reader.nc.subscribe("_INBOX.>")
        await reader.nc.flush()
        await async_wait_for(lambda: len(reader.errors) >= 3, timeout_s=5,
                             what="three permission errors from the broker")
        assert reader.refused(subjects.spawn(jinad_node.name)), reader.errors
        assert reader.refused("_INBOX.>"), reader.errors
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
            await reader.nc.jetstream(timeout=2).key_value("jinad_flows")
    await asyncio.to_thread(jinad_node.edge.delete_flow, flow["flow_id"])
    _no_violations(jinad_node)


# -- a node user -----------------------------------------------------------------------------------
async def test_a_node_user_cannot_serve_or_command_another_node(jinad_node: JinadNode) -> None:
    """node-beta (the user `credentials add-node beta` makes) on the mesh of jinad_node."""
    login = _login(await asyncio.to_thread(jinad_node.join_args, "beta"), "node")
    other = jinad_node.name
    async with connected(jinad_node.nats_url(), **login) as beta:
        await beta.nc.subscribe(subjects.spawn("beta"))  # its own: allowed
        await beta.nc.subscribe(subjects.SPAWN_ANY, queue=subjects.SPAWN_QUEUE)
        await beta.nc.flush()
        assert not beta.errors, beta.errors
        await beta.nc.subscribe(subjects.spawn(other))
        await beta.nc.publish(subjects.spawn(other), b"{}")
        await beta.nc.publish(subjects.ports(other), b"{}")
        await beta.nc.publish(f"$KV.jinad_nodes.{other}", b"{}")  # another node's record
        await beta.nc.publish("$KV.jinad_flows.someflow", b"{}")   # a Flow record
        await beta.nc.flush()
        await async_wait_for(lambda: len(beta.errors) >= 5, timeout_s=5,
                             what="five permission errors from the broker")
        for what in (subjects.spawn(other), subjects.ports(other), f"$KV.jinad_nodes.{other}",
                     "$KV.jinad_flows.someflow"):
            assert beta.refused(what), (what, beta.errors)
    assert f'subscription to "{subjects.spawn(other)}"' in " ".join(map(str, beta.errors))


# -- joining -------------------------------------------------------------------------------------------
def test_a_node_joins_with_the_printed_command_and_runs_pods(jinad_factory: Any) -> None:
    alpha: JinadNode = jinad_factory(name="alpha")
    out = _credentials(alpha, "add-node", "beta")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("node beta joins the mesh with:\n  jinad --nats nats://127.0.0.1:")
    assert "loopback only" in out.stdout  # this broker takes no other machine
    command = shlex.split(out.stdout.splitlines()[1])
    beta: JinadNode = jinad_factory(name="beta", extra=command[1:])
    wait_for(lambda: {n["name"] for n in alpha.edge.nodes()} == {"alpha", "beta"}, timeout_s=10,
             what="alpha and beta in the mesh")

    # from alpha's edge, a pod on beta; from beta's edge (its own edge user), one on alpha
    on_beta = put_flow(alpha, FWD_FLOW.replace("_logforward\n", "_logforward\n    host: beta\n"))
    on_alpha = put_flow(beta, FWD_FLOW.replace("_logforward\n", "_logforward\n    host: alpha\n"))
    for flow, node in ((on_beta, "beta"), (on_alpha, "alpha")):
        assert [p["node"] for p in alpha.edge.get_flow(flow["flow_id"])["pods"]] == [node]
        _index(flow)
    logs = requests.get(f"{beta.url}/logs/{on_beta['flow_id']}", timeout=10).text
    assert "recv IndexRequest" in logs
    alpha.edge.delete_flow(on_beta["flow_id"])
    beta.edge.delete_flow(on_alpha["flow_id"])
    _no_violations(alpha, beta)

    again = _credentials(alpha, "add-node", "beta")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.count("\n") == 1 and again.stderr.startswith("jinad: error: node beta "
                                                                     "has NATS users already")


async def test_a_joined_node_switches_users_while_its_flows_run(jinad_factory: Any) -> None:
    """beta takes its second pair of users with `jinad credentials use`, as printed by
    `add-node --rotate`, with no restart; then alpha removes the old pair. beta's Peas and
    jinad live on, its Flow serves, and new pods go on beta and from beta's edge."""
    alpha: JinadNode = await asyncio.to_thread(jinad_factory, name="alpha")
    first = await asyncio.to_thread(alpha.join_args, "beta")
    beta: JinadNode = await asyncio.to_thread(jinad_factory, name="beta", extra=first)
    on_beta = await asyncio.to_thread(put_flow, alpha, _on(FWD_FLOW, "beta"))
    peas, broker_pid = pea_pids_of(beta.proc.pid), _broker_pid(alpha)
    assert peas

    out = await asyncio.to_thread(_credentials, alpha, "add-node", "beta", "--rotate")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert _login(shlex.split(lines[1])[1:], "node")["user"] == "node-beta-2"
    assert lines[2] == "or, with no restart, on the running beta:"
    use = shlex.split(lines[3])
    assert use[:3] == ["jinad", "credentials", "use"] and "edge-beta-2" in use
    assert lines[4] == "then here: jinad credentials remove edge-beta node-beta"

    # a password the broker refuses: beta says so in one line and keeps its users
    wrong = [*use[3:-1], "not-the-password"]
    refused = await asyncio.to_thread(_credentials, beta, "use", *wrong)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("jinad: error: the jinad of ") and "kept its users" in \
        refused.stderr and "edge-beta-2" in refused.stderr, refused.stderr

    taken = await asyncio.to_thread(_credentials, beta, "use", *use[3:])
    assert taken.returncode == 0, taken.stderr
    assert "logs in as node-beta-2 and edge-beta-2 now" in taken.stdout, taken.stdout
    assert "jinad credentials remove node-beta edge-beta" in taken.stdout
    assert stat.S_IMODE((beta.state_dir / "nats-login.json").stat().st_mode) == 0o600

    old = _login(first, "node")
    out = await asyncio.to_thread(_credentials, alpha, "remove", "node-beta", "edge-beta")
    assert out.returncode == 0 and "removed node-beta, edge-beta" in out.stdout, out.stderr
    assert "authorization violation" in await _refused_login(alpha.nats_url(), **old)

    # beta was not among the connections the broker closed: it serves and takes commands
    await asyncio.to_thread(_index, on_beta)
    assert pea_pids_of(beta.proc.pid) == peas and beta.proc.poll() is None
    second = await asyncio.to_thread(put_flow, alpha, _on(FWD_FLOW, "beta"))  # over node-beta-2
    from_beta = await asyncio.to_thread(put_flow, beta, _on(FWD_FLOW, "alpha"))  # edge-beta-2
    for flow in (second, from_beta):
        await asyncio.to_thread(_index, flow)
    assert _broker_pid(alpha) == broker_pid  # reloaded, not restarted
    assert {n["name"] for n in await asyncio.to_thread(alpha.edge.nodes)} == {"alpha", "beta"}
    for flow in (on_beta, second, from_beta):
        await asyncio.to_thread(alpha.edge.delete_flow, flow["flow_id"])
    _no_violations(alpha, beta)

    # started again with the flags it had before, beta logs in as the users that replaced them
    beta.stop()
    beta = await asyncio.to_thread(jinad_factory, name="beta", extra=first,
                                   state_dir=beta.state_dir)
    assert "logs in as node-beta-2" in beta.log() and "took over from node-beta" in beta.log()
    flow = await asyncio.to_thread(put_flow, alpha, _on(FWD_FLOW, "beta"))
    await asyncio.to_thread(_index, flow)
    await asyncio.to_thread(alpha.edge.delete_flow, flow["flow_id"])


async def test_the_brokers_own_jinad_switches_to_new_users_while_its_flows_run(
        jinad_node: JinadNode) -> None:
    """`jinad credentials rotate node-X edge-X` on the running jinad X: a new pair of users,
    which X logs in as, then the old pair removed; X's Flow and Peas run throughout."""
    name = jinad_node.name
    flow = await asyncio.to_thread(put_flow, jinad_node, FWD_FLOW)
    peas, broker_pid = pea_pids_of(jinad_node.proc.pid), _broker_pid(jinad_node)
    old = jinad_node.nats_login("node")
    out = await asyncio.to_thread(_credentials, jinad_node, "rotate", f"node-{name}",
                                  f"edge-{name}")
    assert out.returncode == 0, out.stderr
    assert f"logs in as node-{name}-2 and edge-{name}-2 now" in out.stdout, out.stdout
    assert f"node-{name}, edge-{name} removed" in out.stdout or \
        f"edge-{name}, node-{name} removed" in out.stdout, out.stdout
    users = (await asyncio.to_thread(_credentials, jinad_node, "list")).stdout.split()
    assert f"node-{name}-2" in users and f"node-{name}" not in users
    assert "authorization violation" in await _refused_login(jinad_node.nats_url(), **old)

    await asyncio.to_thread(_index, flow)
    assert pea_pids_of(jinad_node.proc.pid) == peas and _broker_pid(jinad_node) == broker_pid
    again = await asyncio.to_thread(put_flow, jinad_node, FWD_FLOW)
    await asyncio.to_thread(_index, again)
    for f in (flow, again):
        await asyncio.to_thread(jinad_node.edge.delete_flow, f["flow_id"])
    _no_violations(jinad_node)


def _on(flow_yaml: str, node: str) -> str:
    return flow_yaml.replace("_logforward\n", f"_logforward\n    host: {node}\n")


def _broker_pid(node: JinadNode) -> int:
    from mesh.agents.reconcile import brokers_on

    pids = brokers_on(node.state_dir / "nats")
    assert len(pids) == 1, pids
    return pids[0]


def test_credentials_without_a_broker_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "mesh.daemon.main", "credentials", "--state-dir",
                          str(tmp_path / "nothing"), "add-node", "beta"], capture_output=True,
                         text=True, timeout=30, check=False)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("jinad: error: no embedded nats-server has run on state dir")
    assert not (tmp_path / "nothing").exists() or not any((tmp_path / "nothing").iterdir())


async def test_the_log_reader_gets_a_new_password_while_everything_runs(
        jinad_node: JinadNode) -> None:
    old = jinad_node.nats_login("logs")
    out = await asyncio.to_thread(_credentials, jinad_node, "rotate", "logs")
    assert out.returncode == 0, out.stderr
    user, password = out.stdout.split()
    assert user == "logs" and password != old["password"]
    assert "authorization violation" in await _refused_login(jinad_node.nats_url(), **old)
    url = (await asyncio.to_thread(_credentials, jinad_node, "url", "logs")).stdout.strip()
    assert url == f"nats://logs:{password}@{jinad_node.nats_url().split('//')[1]}"
    async with connected(url, inbox_prefix="_INBOX.logs") as reader:  # as `nats sub -s URL`
        await reader.nc.subscribe(subjects.LOGS_ALL)
        await reader.nc.flush()
        assert not reader.errors
    # this jinad's own node user with another one's: refused (it rotates its own as a pair)
    mixed = await asyncio.to_thread(_credentials, jinad_node, "rotate", f"node-{jinad_node.name}",
                                    "node-nobody")
    assert mixed.returncode == 1 and "in a command of their own" in mixed.stderr, mixed.stderr
    assert await asyncio.to_thread(jinad_node.edge.nodes)  # still in the mesh
