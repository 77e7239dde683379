"""The network-namespace harness used by the mesh tests (tests/netns.py)."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.fixtures.netns import netns  # noqa: F401  (fixture)
from tests.fixtures.waiting import wait_for
from tests.netns import Host, Net, cleanup_stale, close_firewall, open_firewall

pytestmark = pytest.mark.mesh

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

ECHO_SERVER = """
import socket, sys
srv = socket.create_server((sys.argv[1], 0))
print(srv.getsockname()[1], flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        conn.sendall(conn.recv(1024))
"""

# argv: host port deadline_s -- retries until connected or the deadline passes
ECHO_CLIENT = """
import socket, sys, time
host, port, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while True:
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            conn.sendall(b"ping")
            print(conn.recv(1024).decode())
            break
    except OSError:
        if time.monotonic() >= deadline:
            raise
        time.sleep(0.02)
"""

# Ignores SIGTERM and starts a grandchild in its own session (escaping the process group).
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         start_new_session=True)
print(child.pid, flush=True)
time.sleep(60)
"""


def read_line(proc: subprocess.Popen[str], timeout_s: float = 5.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    assert ready, f"no output from {proc.args!r} within {timeout_s}s"
    return proc.stdout.readline().strip()


def start_echo(host: Host) -> int:
    proc = host.popen([PY, "-c", ECHO_SERVER, host.ip], stdout=subprocess.PIPE, text=True)
    return int(read_line(proc))


def echo_from_root(ip: str, port: int, timeout_s: float = 5.0) -> bytes:
    def echo() -> bytes:
        with socket.create_connection((ip, port), timeout=1) as conn:
            conn.sendall(b"ping")
            return conn.recv(1024)

    return wait_for(echo, timeout_s=timeout_s, interval_s=0.02, ignore=(OSError,),
                    what=f"an echo from {ip}:{port}")


def gone(pid: int) -> bool:
    """Process no longer exists (or is a zombie awaiting reaping by init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def netns_names() -> set[str]:
    out = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False
    ).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def link_names() -> set[str]:
    out = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=False
    ).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def iptables_dump() -> str:
    if shutil.which("iptables") is None:
        return ""
    return subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=False).stdout


def foreign_rules() -> list[str]:
    """iptables rules not belonging to any run of this harness (parallel runs add theirs),
    nor to the Docker engine (it adds and removes rules as containers come and go)."""
    return [line for line in iptables_dump().splitlines()
            if "mesh-b" not in line and " DOCKER" not in line and "docker0" not in line]


def test_two_namespaces_talk_over_tcp(netns: Net) -> None:  # noqa: F811
    a, b = netns.add_host("a"), netns.add_host("b")
    assert a.ip != b.ip and a.ns != b.ns
    port = start_echo(a)
    done = b.run([PY, "-c", ECHO_CLIENT, a.ip, str(port), "5"], timeout_s=10)
    assert (done.returncode, done.stdout.strip()) == (0, "ping"), done.stderr


def test_root_namespace_reaches_namespace(netns: Net) -> None:  # noqa: F811
    a = netns.add_host("a")
    port = start_echo(a)
    assert echo_from_root(a.ip, port) == b"ping"


def test_namespace_reaches_root_via_gateway_not_loopback(netns: Net) -> None:  # noqa: F811
    a = netns.add_host("a")
    with (
        socket.create_server((netns.gateway, 0)) as srv,
        socket.create_server(("127.0.0.1", 0)) as lo_srv,
    ):
        srv.settimeout(10)

        def serve() -> None:
            with srv.accept()[0] as conn:
                conn.sendall(conn.recv(1024))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        done = a.run([PY, "-c", ECHO_CLIENT, netns.gateway, str(srv.getsockname()[1]), "5"])
        thread.join(10)
        assert (done.returncode, done.stdout.strip()) == (0, "ping"), done.stderr
        # 127.0.0.1 inside the namespace is the namespace's own loopback.
        lo = a.run([PY, "-c", ECHO_CLIENT, "127.0.0.1", str(lo_srv.getsockname()[1]), "0"])
        assert lo.returncode != 0 and "ConnectionRefusedError" in lo.stderr


def test_close_kills_processes_and_removes_everything(netns: Net) -> None:  # noqa: F811
    fw_before = foreign_rules()
    netns.term_grace_s = 0.3
    a, b = netns.add_host("a"), netns.add_host("b")
    a.term_grace_s = b.term_grace_s = 0.3
    stubborn = a.popen([PY, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    grandchild = int(read_line(stubborn))
    sleeper = b.popen([PY, "-c", "import time; time.sleep(60)"])
    names = {a.ns, b.ns}
    links = {netns.bridge, a.veth, b.veth}
    assert names <= netns_names() and links <= link_names()
    if netns.firewall_rules:
        assert netns.bridge in iptables_dump()

    netns.close()
    netns.close()  # idempotent
    assert stubborn.returncode is not None and sleeper.returncode is not None
    wait_for(lambda: gone(grandchild), timeout_s=3, what="escaped grandchild to die")
    assert not names & netns_names()
    assert not links & link_names()
    assert netns.bridge not in iptables_dump()
    assert foreign_rules() == fw_before  # nothing else touched
    with pytest.raises(Exception, match="closed"):
        netns.add_host("c")


def test_cleanup_stale_removes_crashed_run_but_not_live_one(netns: Net) -> None:  # noqa: F811
    live = netns.add_host("live")
    crashed_run = textwrap.dedent(
        """
        import json, sys, time
        from tests.netns import Net
        net = Net()
        h = net.add_host("x")
        p = h.popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(json.dumps([net.bridge, h.ns, h.veth, p.pid]), flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crashed = subprocess.Popen([PY, "-c", crashed_run], stdout=subprocess.PIPE, text=True, env=env)
    try:
        bridge, ns, veth, orphan = json.loads(read_line(crashed, 10))
    finally:
        crashed.kill()  # SIGKILL: no teardown runs
        crashed.wait(5)
        assert crashed.stdout is not None
        crashed.stdout.close()
    assert ns in netns_names() and {bridge, veth} <= link_names() and not gone(orphan)

    removed = cleanup_stale()
    assert {ns, bridge, veth} <= set(removed)
    assert ns not in netns_names() and not {bridge, veth} & link_names()
    assert bridge not in iptables_dump()
    wait_for(lambda: gone(orphan), timeout_s=3, what="orphaned process of crashed run to die")
    # The live run (held lock) is untouched.
    assert live.ns in netns_names() and {netns.bridge, live.veth} <= link_names()
    assert not {live.ns, netns.bridge, live.veth} & set(removed)


@pytest.mark.parametrize(
    ("forward", "input_", "expected"),
    [
        ("-P FORWARD DROP", "-P INPUT ACCEPT", ["FORWARD"]),
        ("-P FORWARD ACCEPT", "-P INPUT ACCEPT\n-A INPUT -j REJECT", ["INPUT"]),
        ("-P FORWARD ACCEPT\n-A FORWARD -i x -j ACCEPT", "-P INPUT ACCEPT", []),
    ],
)
def test_firewall_rules_inserted_only_where_needed_and_removed_exactly(
    tmp_path: Path, forward: str, input_: str, expected: list[str]
) -> None:
    log = tmp_path / "calls.log"
    fake = tmp_path / "iptables"
    fake.write_text(
        f"#!{PY}\n"
        "import sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"chains = {{'FORWARD': {forward!r}, 'INPUT': {input_!r}}}\n"
        "if '-S' in sys.argv:\n"
        "    print(chains[sys.argv[sys.argv.index('-S') + 1]])\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    rules = open_firewall("mesh-bfake00", [str(fake)])
    assert [r.chain for r in rules] == expected
    close_firewall(rules)
    calls = [c for c in log.read_text().splitlines() if "-S" not in c]
    specs = {
        "FORWARD": "FORWARD -i mesh-bfake00 -o mesh-bfake00 -j ACCEPT",
        "INPUT": "INPUT -i mesh-bfake00 -j ACCEPT",
    }
    assert calls == [f"-w 5 -I {specs[c]}" for c in expected] + [
        f"-w 5 -D {specs[c]}" for c in expected
    ]
