"""Simulate several machines on one Linux host with network namespaces.

A :class:`Net` is a Linux bridge plus a private IPv4 /24 (picked from
``10.213.0.0/16`` unless told otherwise, skipping anything already present in
the host's addresses or routes).  The bridge holds ``.1`` (``net.gateway``);
each :meth:`Net.add_host` creates a namespace with a veth ``eth0`` on the
bridge and the next free address.  Namespaces only get the connected route to
the subnet: no default route, no NAT, nothing is ever routed off the machine.

Reaching the host (root namespace) from a namespace: services on the host
must listen on ``0.0.0.0`` or on ``net.gateway``.  A service bound to
``127.0.0.1`` is *not* reachable, because each namespace has its own loopback.

Requires root and iproute2; call :func:`available` to decide whether to skip.
No pytest dependency: the fixture lives in ``tests/fixtures/netns.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import ipaddress
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from tests.fixtures.waiting import wait_for
from tests.netns_firewall import (
    FirewallRule,
    NetnsError,
    _remove_rules_for,
    _run,
    close_firewall,
    iptables_binaries,
    open_firewall,
)

log = logging.getLogger(__name__)

DEFAULT_POOL = "10.213.0.0/16"
DEFAULT_PREFIX = "mesh-"
LOCK_DIR = "/run/mesh-netns" if os.path.isdir("/run") else "/tmp/mesh-netns"
_TERM_GRACE_S = 3.0
_ROUTE_TYPES = {"unicast", "local", "broadcast", "multicast", "blackhole", "unreachable"}
_ROUTE_TYPES |= {"prohibit", "throw", "nat", "anycast"}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["ip", *args], check=check)


# --------------------------------------------------------------------------- availability


@functools.cache
def available() -> tuple[bool, str]:
    """``(True, "")`` if namespaces, veths and bridges can be created here, else a reason."""
    if not sys.platform.startswith("linux"):
        return False, "network namespaces need Linux"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    if shutil.which("ip") is None:
        return False, "iproute2 'ip' not found on PATH"
    lock_fd, tok = _new_run_lock(DEFAULT_PREFIX)  # probe names follow the scheme: stale-cleanable
    ns, br = f"{DEFAULT_PREFIX}{tok}-probe", f"{DEFAULT_PREFIX}b{tok}"
    veth = f"{DEFAULT_PREFIX}v{tok}00"
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("link", "add", br, "type", "bridge")
    except (NetnsError, OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot create namespace/veth/bridge: {exc}"
    finally:
        _ip("link", "del", br, check=False)
        _ip("link", "del", veth, check=False)
        _ip("netns", "del", ns, check=False)
        _release_run_lock(lock_fd, DEFAULT_PREFIX, tok)
    return True, ""


# --------------------------------------------------------------------------- subnets


def _used_networks() -> list[ipaddress.IPv4Network]:
    nets: list[ipaddress.IPv4Network] = []
    for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
        words = line.split()
        if "inet" in words:
            nets.append(ipaddress.IPv4Interface(words[words.index("inet") + 1]).network)
    for line in _ip("-4", "route", "show", "table", "all").stdout.splitlines():
        words = line.split()
        if words and words[0] in _ROUTE_TYPES:
            words = words[1:]
        if words and words[0] != "default":
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.IPv4Network(words[0], strict=False))
    return nets


def _pick_subnet(pool: str, want: str | None) -> ipaddress.IPv4Network:
    used = _used_networks()
    candidates = (
        [ipaddress.IPv4Network(want)]
        if want
        else (ipaddress.IPv4Network(pool).subnets(new_prefix=24))
    )
    for cand in candidates:
        if cand.prefixlen > 29:
            raise ValueError(f"subnet {cand} too small")
        if not any(cand.overlaps(u) for u in used):
            return cand
    raise NetnsError(f"no free subnet in {want or pool}")


# --------------------------------------------------------------------------- locks


@contextlib.contextmanager
def _flock(path: str) -> Iterator[None]:
    os.makedirs(LOCK_DIR, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _lock_path(prefix: str, token: str) -> str:
    return os.path.join(LOCK_DIR, f"{prefix}{token}.lock")


def _hold_run_lock(path: str) -> int | None:
    """Create and hold a fresh per-run lock; ``None`` if the path is taken or was reaped."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        same = os.fstat(fd).st_ino == os.stat(path).st_ino  # cleanup_stale may have unlinked it
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        return None
    return fd


def _new_run_lock(prefix: str) -> tuple[int, str]:
    """Pick a fresh random token and hold its lock: ``(fd, token)``."""
    while True:
        token = secrets.token_hex(3)
        fd = _hold_run_lock(_lock_path(prefix, token))
        if fd is not None:
            return fd, token


def _release_run_lock(fd: int, prefix: str, token: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(_lock_path(prefix, token))
    os.close(fd)


def _claim_if_stale(path: str) -> int | None:
    """Lock a dead run's lock file (fd returned; -1 if there is none), ``None`` if live."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


# --------------------------------------------------------------------------- processes


def _ns_pids(ns: str) -> list[int]:
    proc = _ip("netns", "pids", ns, check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _kill_ns_processes(ns: str, timeout_s: float = 3.0) -> None:
    """SIGKILL everything still running inside ``ns`` and wait for it to go."""
    for pid in _ns_pids(ns):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(AssertionError):  # what cannot be killed stays; close goes on
        wait_for(lambda: not _ns_pids(ns), timeout_s=timeout_s, interval_s=0.02,
                 what=f"processes in {ns} to exit")


def _close_pipes(proc: subprocess.Popen[Any]) -> None:
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _signal_group(pgid: int | None, pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if pgid is not None and pgid != os.getpgrp():
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)


# --------------------------------------------------------------------------- Host / Net


class Host:
    """One simulated machine: a network namespace with ``eth0`` at :attr:`ip`."""

    def __init__(
        self, name: str, ns: str, ip: str, veth: str, term_grace_s: float = _TERM_GRACE_S
    ) -> None:
        self.name, self.ns, self.ip, self.veth = name, ns, ip, veth
        self.term_grace_s = term_grace_s
        self._procs: list[tuple[subprocess.Popen[Any], int | None]] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"Host({self.name!r}, ns={self.ns!r}, ip={self.ip!r})"

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.ns, *argv]

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` in the namespace, in its own process group; killed by close()."""
        if self._closed:
            raise NetnsError(f"{self!r} is closed")
        if "process_group" not in kw:
            kw.setdefault("start_new_session", True)
        proc: subprocess.Popen[Any] = subprocess.Popen(self.exec_argv(argv), **kw)
        try:
            pgid: int | None = os.getpgid(proc.pid)
        except ProcessLookupError:
            pgid = None
        self._procs.append((proc, pgid))
        return proc

    def run(
        self,
        argv: Sequence[str],
        timeout_s: float = 30.0,
        check: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the namespace to completion (text mode, output captured)."""
        proc = subprocess.Popen(
            self.exec_argv(argv),
            stdin=subprocess.PIPE if input is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(input, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(proc.args, timeout_s, out, err) from None
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check:
            done.check_returncode()
        return done

    def terminate_all(self, grace_s: float | None = None) -> None:
        """SIGTERM every started process group, wait, then SIGKILL; reap and close pipes."""
        grace_s = self.term_grace_s if grace_s is None else grace_s
        procs, self._procs = self._procs, []
        # Signal only unreaped leaders (their pid/pgid can't have been reused); members of
        # groups whose leader already exited are caught by the namespace sweep below.
        for proc, _ in procs:
            if proc.poll() is not None:
                _close_pipes(proc)
        procs = [(proc, pgid) for proc, pgid in procs if proc.returncode is None]
        for proc, pgid in procs:
            _signal_group(pgid, proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc, _ in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        for proc, pgid in procs:
            _signal_group(pgid, proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace_s)
            _close_pipes(proc)
        _kill_ns_processes(self.ns)

    def close(self) -> None:
        """Stop all processes and delete the namespace and veth. Idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        for step in (
            self.terminate_all,
            lambda: _ip("link", "del", self.veth, check=False),
            lambda: _ip("netns", "del", self.ns, check=False),
        ):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - teardown must not raise
                log.warning("closing %r: %s", self, exc)


class Net:
    """A bridge with a private /24; hosts are namespaces attached to it.

    ``net.gateway`` (the bridge's ``.1``) is the host's address as seen from the
    namespaces.  Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        subnet: str | None = None,
        pool: str = DEFAULT_POOL,
        prefix: str = DEFAULT_PREFIX,
        term_grace_s: float = _TERM_GRACE_S,
    ) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,5}", prefix):
            raise ValueError("prefix must be 1-6 chars of [a-z0-9-] (interface name limit)")
        self.prefix, self.term_grace_s = prefix, term_grace_s
        self.hosts: dict[str, Host] = {}
        self.firewall_rules: list[FirewallRule] = []
        self._bridge_created = False
        self._closed = False
        self._lock_fd: int | None
        self._lock_fd, self.token = _new_run_lock(prefix)
        self.bridge = f"{prefix}b{self.token}"
        try:
            with _flock(os.path.join(LOCK_DIR, "subnets.lock")):
                self.subnet = _pick_subnet(pool, subnet)
                self.gateway = str(self.subnet.network_address + 1)
                _ip("link", "add", self.bridge, "type", "bridge", "forward_delay", "0")
                self._bridge_created = True
                _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            self.firewall_rules = open_firewall(self.bridge)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"Net(bridge={self.bridge!r}, subnet={str(getattr(self, 'subnet', '?'))!r})"

    def __enter__(self) -> Net:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_host(self, name: str) -> Host:
        """Create namespace ``<prefix><token>-<name>`` with ``eth0`` at the next address."""
        if self._closed:
            raise NetnsError("Net is closed")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", name) or name in self.hosts:
            raise ValueError(f"invalid or duplicate host name {name!r}")
        idx = len(self.hosts) + 2
        if idx >= min(self.subnet.num_addresses - 1, 256):
            raise NetnsError(f"subnet {self.subnet} is full")
        host = Host(
            name,
            f"{self.prefix}{self.token}-{name}",
            str(self.subnet.network_address + idx),
            f"{self.prefix}v{self.token}{idx:02x}",
            self.term_grace_s,
        )
        self.hosts[name] = host
        try:
            _ip("netns", "add", host.ns)
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.ns)
            _ip("link", "set", host.veth, "master", self.bridge, "up")
            _ip("-n", host.ns, "addr", "add", f"{host.ip}/{self.subnet.prefixlen}", "dev", "eth0")
            _ip("-n", host.ns, "link", "set", "lo", "up")
            _ip("-n", host.ns, "link", "set", "eth0", "up")
        except BaseException:
            host.close()
            raise
        return host

    def close(self) -> None:
        """Remove hosts, firewall rules and the bridge. Idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        for host in reversed(list(self.hosts.values())):
            host.close()
        close_firewall(self.firewall_rules)
        self.firewall_rules = []
        if self._bridge_created:
            with contextlib.suppress(Exception):
                _ip("link", "del", self.bridge, check=False)
        if self._lock_fd is not None:
            _release_run_lock(self._lock_fd, self.prefix, self.token)
            self._lock_fd = None


# --------------------------------------------------------------------------- stale cleanup


def _link_names() -> list[str]:
    out = _ip("-o", "link", "show", check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def cleanup_stale(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Remove namespaces/links/rules left by crashed runs with our naming; return them.

    Only names matching this module's scheme are considered, and a run is left
    alone while its process still holds its lock file (so parallel runs are safe).
    """
    p = re.escape(prefix)
    ns_re = re.compile(rf"{p}([0-9a-f]{{6}})-[A-Za-z0-9_.-]+")
    link_re = re.compile(rf"{p}(?:b([0-9a-f]{{6}})|v([0-9a-f]{{6}})[0-9a-f]{{2}})")
    namespaces = [
        line.split()[0]
        for line in _ip("netns", "list", check=False).stdout.splitlines()
        if line.strip()
    ]
    tokens: dict[str, list[tuple[str, str]]] = {}
    for ns in namespaces:
        if m := ns_re.fullmatch(ns):
            tokens.setdefault(m.group(1), []).append(("ns", ns))
    for link in _link_names():
        if m := link_re.fullmatch(link):
            tokens.setdefault(m.group(1) or m.group(2), []).append(("link", link))
    with contextlib.suppress(OSError):
        for fname in os.listdir(LOCK_DIR):
            if m := re.fullmatch(rf"{p}([0-9a-f]{{6}})\.lock", fname):
                tokens.setdefault(m.group(1), [])
    removed: list[str] = []
    for token, items in tokens.items():
        path = _lock_path(prefix, token)
        fd = _claim_if_stale(path)
        if fd is None:
            continue  # a live run owns it
        try:
            for kind, name in sorted(items, key=lambda it: it[0] != "ns"):  # namespaces first
                if kind == "ns":
                    _kill_ns_processes(name)
                    _ip("netns", "del", name, check=False)
                else:
                    if name.startswith(f"{prefix}b"):
                        _remove_rules_for(name)
                    _ip("link", "del", name, check=False)
                removed.append(name)
            with contextlib.suppress(OSError):
                os.unlink(path)
        finally:
            if fd >= 0:
                os.close(fd)
    return removed


__all__ = [
    "FirewallRule",
    "Host",
    "Net",
    "NetnsError",
    "available",
    "cleanup_stale",
    "close_firewall",
    "iptables_binaries",
    "open_firewall",
]
