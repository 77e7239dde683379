"""Starting a Pea as a local process, knowing when it is ready, and stopping it."""

from __future__ import annotations

import collections
import logging
import os
import signal
import site
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from mesh.errors import PeaStartError
from mesh.runtime.control import ControlClient

__all__ = ["LineSink", "PeaProcess", "child_pythonpath", "stop_all", "wait_all_ready"]

logger = logging.getLogger(__name__)

LineSink = Callable[[str], None]
_TAIL = 40
_READY_POLL_MS = 20


def _stderr_sink(line: str) -> None:
    sys.stderr.write(line + "\n")


class PeaProcess:
    """One Pea or gateway in a child process of its own process group."""

    def __init__(self, *, kind: str, name: str, config_json: str, port_ctrl: int,
                 sink: LineSink | None = None, env: dict[str, str] | None = None,
                 cwd: str | None = None) -> None:
        self.kind = kind
        self.name = name
        self.config_json = config_json
        self.port_ctrl = port_ctrl
        self.sink = sink or _stderr_sink
        self.env = env or {}
        self.cwd = cwd
        self.tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc else None
        return f"<PeaProcess {self.name} pid={pid} ctrl={self.port_ctrl}>"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def start(self) -> None:
        env = {**os.environ, **self.env, "MESH_PARENT_PID": str(os.getpid()), "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = child_pythonpath(env.get("PYTHONPATH"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mesh.runtime.entry", self.kind, self.config_json],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, cwd=self.cwd, start_new_session=True)
        self._reader = threading.Thread(target=self._read, name=f"log-{self.name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.proc.stdout:  # the reader owns the pipe and closes it at the child's exit
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.tail.append(line)
                try:
                    self.sink(line)
                except Exception:  # a broken sink must not stop the draining of the pipe
                    logger.exception("log sink for %s failed", self.name)

    def wait_ready(self, timeout_s: float) -> None:
        """Return when the control socket answers; raise if the process exits or time runs out."""
        wait_all_ready([self], [timeout_s])

    def _start_error(self, what: str) -> PeaStartError:
        if self._reader is not None and self.returncode is not None:
            self._reader.join(timeout=1)
        lines = list(self.tail)[-10:]
        text = "\n".join(lines)
        return PeaStartError(f"{self.name} {what}" + (f"; last log lines:\n{text}" if lines else ""),
                             detail={"pea": self.name, "exit_code": self.returncode, "log_tail": lines})

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL; never raises."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            self._join_reader()
            return
        self._signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.1f s, killing it", self.name, grace_s)
            self._signal(signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                logger.error("%s (pid %d) survived SIGKILL", self.name, proc.pid)
        self._join_reader()

    def terminate(self) -> None:
        """Ask the process group to stop without waiting."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2)


def wait_all_ready(peas: list[PeaProcess], timeouts_s: list[float]) -> None:
    """Return when every Pea's control socket has answered. Raise for the first Pea that
    exits or passes its own deadline, while the others are still being waited for: a Pea
    that fails is reported at once, not after a slower one before it is ready."""
    start = time.monotonic()
    poller = zmq.Poller()
    waiting: dict[Any, tuple[PeaProcess, ControlClient, float]] = {}
    try:
        for pea, timeout_s in zip(peas, timeouts_s):
            ctrl = ControlClient("127.0.0.1", pea.port_ctrl)
            ctrl.send("status")
            waiting[ctrl.sock] = (pea, ctrl, timeout_s)
            poller.register(ctrl.sock, zmq.POLLIN)
        while waiting:
            for sock, _ in poller.poll(_READY_POLL_MS):
                poller.unregister(sock)
                waiting.pop(sock)[1].close()
            elapsed = time.monotonic() - start
            for pea, _, timeout_s in waiting.values():
                if pea.returncode is not None:
                    raise pea._start_error(f"exited with code {pea.returncode} before it was ready")
                if elapsed > timeout_s:
                    raise pea._start_error(f"was not ready within {timeout_s:g} s")
    finally:
        for _, ctrl, _ in waiting.values():
            ctrl.close()


def child_pythonpath(existing: str | None) -> str:
    """``existing`` plus this process's own import directories (its script's folder, the
    current directory, ``pytest``'s rootdir...), so that a Pea imports the executor modules
    that the code building the Flow can import. The interpreter's own directories are left
    out: the child finds them itself, in its own order."""
    system = [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix,
                                            *site.getsitepackages(), site.getusersitepackages()}]
    own = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.curdir)
        if os.path.isdir(path) and not any(path == s or path.startswith(s + os.sep) for s in system):
            own.append(path)
    parts = [*(existing.split(os.pathsep) if existing else []), *own]
    return os.pathsep.join(dict.fromkeys(p for p in parts if p))


def stop_all(peas: list[PeaProcess], grace_s: float) -> None:
    """SIGTERM every Pea at once, then wait for each (SIGKILL after the grace); never raises."""
    for pea in peas:
        pea.terminate()
    for pea in peas:
        try:
            pea.stop(grace_s)
        except Exception:
            logger.exception("stopping %s failed", pea.name)
