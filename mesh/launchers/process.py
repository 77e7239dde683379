"""A Pea as a local process of its own process group: start, ready, stop, exit report."""

from __future__ import annotations

import logging
import os
import signal
import site
import subprocess
import sys
import threading

from mesh.errors import PeaStartError
from mesh.launchers.base import ExitCallback, ExitInfo, LineSink, LogTail, start_error

__all__ = ["PeaProcess", "child_pythonpath"]

logger = logging.getLogger(__name__)
_KILL_WAIT_S = 5.0


class PeaProcess:
    """One Pea or gateway in ``python -m mesh.runtime.entry KIND CONFIG``. Its output is read
    by one thread, which calls ``on_exit`` once the output ends and the exit code is known."""

    def __init__(self, *, kind: str, name: str, config_json: str, port_ctrl: int,
                 sink: LineSink | None = None, env: dict[str, str] | None = None,
                 cwd: str | None = None) -> None:
        self.kind, self.name, self.config_json = kind, name, config_json
        self.port_ctrl = port_ctrl
        self.env = env or {}
        self.cwd = cwd
        self.on_exit: ExitCallback | None = None
        self.logs = LogTail(name, sink)
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False

    def __repr__(self) -> str:
        return f"<PeaProcess {self.name} pid={self.pid} ctrl={self.port_ctrl}>"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    @property
    def tail(self) -> list[str]:
        return list(self.logs.lines)

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
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        with proc.stdout:  # the reader owns the pipe and closes it at the child's exit
            for raw in proc.stdout:
                self.logs.line(raw.decode("utf-8", "replace").rstrip("\n"))
        proc.wait()
        if self.on_exit is not None:
            try:
                self.on_exit(self, self.exit_info())
            except Exception:  # noqa: BLE001 - the owner's bug must not hide the exit
                logger.exception("exit callback of %s failed", self.name)

    def exit_info(self) -> ExitInfo:
        return ExitInfo(code=self.returncode, tail=self.logs.last(), expected=self._stopping)

    def start_error(self, what: str) -> PeaStartError:
        if self.returncode is not None:
            self._join_reader(1.0)  # its last lines say why
        return start_error(self.name, what, code=self.returncode, tail=self.tail)

    def terminate(self) -> None:
        """Ask the process group to stop without waiting."""
        self._stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGTERM)

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL; never raises."""
        self.terminate()
        proc = self.proc
        if proc is not None:
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.1f s, killing it", self.name, grace_s)
                self.kill()
        self._join_reader(2.0)

    def kill(self) -> None:
        """SIGKILL the process group and wait for it; never raises."""
        self._stopping = True
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self._signal(signal.SIGKILL)
        try:
            proc.wait(timeout=_KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            logger.error("%s (pid %d) survived SIGKILL", self.name, proc.pid)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _join_reader(self, timeout_s: float) -> None:
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=timeout_s)


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
