"""jinad daemons for the benchmarks, started with the test suite's own helper."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from benchmarks.procs import REPO

if str(REPO) not in sys.path:  # ``tests`` is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

from tests.fixtures.jinad import JinadNode, pea_pids_of, start_jinad

__all__ = ["JinadNode", "start_node", "stop_node", "wait_nodes"]


def start_node(tmp: Path, *, name: str, **kwargs: object) -> JinadNode:
    """A ready jinad; its Peas can import ``benchmarks.executors``. Interrupted while it
    starts, the half-started daemon is stopped (found by its state directory)."""
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    try:
        return start_jinad(tmp, name=name, env=env, **kwargs)  # type: ignore[arg-type]
    except BaseException:
        _stop_by_cmdline(str(tmp / f"state-{name}"))
        raise


def _stop_by_cmdline(state_dir: str, grace_s: float = 10.0) -> None:
    mine = [pid for pid in _pids() if state_dir.encode() in _cmdline(pid).split(b"\0")]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in mine:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while any(_cmdline(pid) for pid in mine) and time.monotonic() < deadline:
            time.sleep(0.05)


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def stop_node(node: JinadNode, grace_s: float = 20.0) -> None:
    """SIGTERM and wait; then SIGKILL whatever Pea of it is left. Never raises."""
    pid = node.proc.pid
    t0 = time.monotonic()
    try:
        code = node.stop(timeout_s=grace_s)
    except Exception as exc:  # noqa: BLE001 - teardown goes on
        code, tail = None, f"{type(exc).__name__}: {exc}"
    else:
        tail = "\n".join(node.log().splitlines()[-20:])
    took_s = time.monotonic() - t0
    if code != 0 or took_s > 5:
        print(f"benchmarks: jinad {node.name} stopped with code {code} after {took_s:.1f} s; "
              f"its last lines:\n{tail}", file=sys.stderr)
    deadline = time.monotonic() + 5
    while pea_pids_of(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    for left in pea_pids_of(pid):
        try:
            os.kill(left, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_nodes(node: JinadNode, count: int, timeout_s: float) -> None:
    """Until ``node`` lists ``count`` live nodes in the mesh."""
    deadline = time.monotonic() + timeout_s
    while len(node.edge.nodes()) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{node.name} did not see {count} nodes within {timeout_s:g} s")
        time.sleep(0.05)
