"""After a restart: stop what the previous life of this node left running.

Only what a *dead* life left: jinad holds its state dir's lock (mesh/daemon/lock.py) before
it gets here, so no other jinad runs on it; and a Pea or broker whose recorded jinad still
runs is left alone anyway (a pid reused, a state dir shared by hand).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

__all__ = ["brokers_on", "stop_leftover_broker", "stop_leftovers"]

logger = logging.getLogger(__name__)


def stop_leftovers(state_dir: Path) -> int:
    """Kill the Peas recorded by a previous ``jinad`` with this state dir; return how many."""
    path = state_dir / "peas.json"
    try:
        books = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    owner = int(books.get("owner", 0))
    killed = 0
    for entry in books.get("peas", []):
        pid = int(entry.get("pid") or 0)
        if pid and _is_our_pea(pid, owner):
            if owner != os.getpid() and _is_jinad(owner):
                logger.warning("%s of flow %s (pid %d) belongs to jinad pid %d, which still runs; "
                               "left alone", entry.get("pea"), entry.get("flow"), pid, owner)
                continue
            try:
                os.killpg(pid, signal.SIGKILL)
                killed += 1
                logger.warning("stopped %s of flow %s (pid %d) left by a previous jinad",
                               entry.get("pea"), entry.get("flow"), pid)
            except (ProcessLookupError, PermissionError):
                pass
    path.unlink(missing_ok=True)
    return killed


def _is_our_pea(pid: int, owner: int) -> bool:
    """True only for a Pea process whose parent was the recorded jinad (pids get reused)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"mesh.runtime.entry" in cmdline and f"MESH_PARENT_PID={owner}".encode() in environ


def stop_leftover_broker(store_dir: Path, *, grace_s: float = 5.0) -> list[int]:
    """Stop an embedded nats-server that a previous ``jinad`` (killed, so it could not stop
    it) left running on this store: it would hold the NATS port and share the JetStream
    files with the new one. Return the pids stopped."""
    found = []
    for pid in brokers_on(store_dir):
        parent = _parent(pid)
        if parent != os.getpid() and _is_jinad(parent):
            logger.warning("the nats-server (pid %d) on %s belongs to jinad pid %d, which still "
                           "runs; left alone", pid, store_dir, parent)
        else:
            found.append(pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in found:
            try:
                os.killpg(pid, sig)  # its own process group, as NatsServer starts it
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace_s
        while any(_running(pid) for pid in found) and time.monotonic() < deadline:
            time.sleep(0.05)  # not our child: only /proc tells when it is gone
        if not any(_running(pid) for pid in found):
            break
    for pid in found:
        logger.warning("stopped the nats-server (pid %d) left on %s by a previous jinad", pid, store_dir)
    return found


def brokers_on(store_dir: Path) -> list[int]:
    """Running nats-server processes whose JetStream store is ``store_dir``."""
    return [pid for pid in _pids() if _serves_store(pid, store_dir) and _running(pid)]


def _parent(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "0")
    return int(ppid)


def _is_jinad(pid: int) -> bool:
    """True for a running jinad process (``jinad`` or ``python -m mesh.daemon.main``)."""
    if pid <= 1 or not _running(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"mesh.daemon.main" in argv or any(os.path.basename(a) == b"jinad" for a in argv[:2])


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _serves_store(pid: int, store_dir: Path) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    if not argv or not os.path.basename(argv[0]).startswith("nats-server") or "-sd" not in argv:
        return False
    given = argv[argv.index("-sd") + 1] if argv.index("-sd") + 1 < len(argv) else ""
    return bool(given) and os.path.realpath(given) == os.path.realpath(store_dir)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"
