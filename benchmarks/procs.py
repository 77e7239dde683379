"""Child processes of a benchmark: started in a session of their own, ready when they say
so on stdout, stopped with SIGTERM then SIGKILL; and what /proc says about them.

Every process of a run inherits ``MESH_BENCH_RUN=<token>`` in its environment, so that
:func:`leftovers` finds exactly what this run started, however deep, and nothing else.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = [
    "REPO",
    "RUN_MARK",
    "Child",
    "children_named",
    "free_port",
    "leftovers",
    "mark_run",
    "python_module",
    "rss_mib",
]

REPO = Path(__file__).resolve().parent.parent
RUN_MARK = "MESH_BENCH_RUN"


def mark_run() -> str:
    """Give this run a token that every child inherits."""
    token = os.environ[RUN_MARK] = uuid.uuid4().hex
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(REPO) not in paths:  # children import ``benchmarks`` from any working directory
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO), *paths] if p)
    return token


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Child:
    """A subprocess whose stdout lines can be awaited with a deadline; stderr is passed through."""

    def __init__(self, argv: list[str], *, name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     text=True, start_new_session=True, cwd=REPO)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, name=f"out-{name}", daemon=True).start()

    def __repr__(self) -> str:
        return f"<Child {self.name} pid={self.proc.pid}>"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_line(self, prefix: str, timeout_s: float) -> str:
        """The first stdout line starting with ``prefix``; raises if the child ends or is late."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise TimeoutError(f"{self.name}: no {prefix!r} line within {timeout_s:g} s") from None
            if line is None:
                code = self.proc.wait(timeout=5)
                raise RuntimeError(f"{self.name} exited with code {code} before printing {prefix!r}")
            if line.startswith(prefix):
                return line

    def result(self, timeout_s: float) -> dict[str, Any]:
        """The JSON object the child prints on its last line of stdout, once it has exited."""
        line = self.wait_line("{", timeout_s)
        self.proc.wait(timeout=timeout_s)
        if self.proc.returncode:
            raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}")
        return dict(json.loads(line))

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL; never raises."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                return
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                continue


def _status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def rss_mib(pid: int) -> float:
    """Resident set size (VmRSS) of ``pid`` in MiB."""
    kib = _status(pid)["VmRSS"].split()[0]
    return int(kib) / 1024


def children_named(pid: int, name: str) -> list[int]:
    """Direct children of ``pid`` whose command name is ``name``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = _status(int(entry.name))
        except OSError:
            continue
        if status.get("PPid") == str(pid) and status.get("Name") == name[:15]:
            found.append(int(entry.name))
    return found


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(_status(pid)["PPid"])
        except (OSError, KeyError, ValueError):
            break
    return pids


def command(pid: int, width: int = 120) -> str:
    """The command line of ``pid``, shortened, or '' once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:width]


def leftovers(token: str) -> list[int]:
    """Processes that carry this run's mark, other than this one and its ancestors."""
    mark = f"{RUN_MARK}={token}".encode()
    skip = _ancestors()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = _status(int(entry.name)).get("State", "")
        except OSError:
            continue
        if mark in environ.split(b"\0") and not state.startswith("Z"):
            found.append(int(entry.name))
    return found
