"""One jinad per state dir: an exclusive ``fcntl`` lock on ``<state dir>/jinad.lock``.

The lock belongs to the open file, so it goes when the process does (also on SIGKILL): a
state dir whose lock is free has no running owner, and what it records (Peas, the embedded
broker) was left by a dead life. The file also says who holds it (pid, name, edge port,
the embedded broker's URL), for the error a second jinad prints and for
``jinad credentials``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from mesh.errors import ConflictError

__all__ = ["LOCK_FILE", "StateDirInUse", "StateLock", "holder", "is_held"]

LOCK_FILE = "jinad.lock"


class StateDirInUse(ConflictError):
    """Another jinad runs on this state dir."""


def holder(state_dir: Path) -> dict[str, Any]:
    """What the last (or current) owner of the state dir recorded; empty if nothing."""
    try:
        data = json.loads((state_dir / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_held(state_dir: Path) -> bool:
    """A jinad runs on ``state_dir`` now (it holds the lock)."""
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # (closing the file gives back a lock taken just now)
    return False


class StateLock:
    """``StateLock.acquire(dir, ...)`` or StateDirInUse naming the running jinad."""

    def __init__(self, state_dir: Path, fd: int) -> None:
        self.state_dir, self._fd = state_dir, fd
        self.info: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"StateLock({str(self.state_dir)!r}, pid={os.getpid()})"

    @classmethod
    def acquire(cls, state_dir: Path, **info: Any) -> StateLock:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateDirInUse(_in_use(state_dir), detail={"state_dir": str(state_dir),
                                                             **holder(state_dir)}) from None
        lock = cls(state_dir, fd)
        lock.record(pid=os.getpid(), **info)
        return lock

    def record(self, **info: Any) -> None:
        """Add to what the file says about this jinad."""
        self.info.update(info)
        data = json.dumps(self.info).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        """Unlock (the file stays: removing it would race with the next owner)."""
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _in_use(state_dir: Path) -> str:
    who = holder(state_dir)
    pid = who.get("pid", "?")
    port = who.get("port", "?")
    name = who.get("name", "?")
    return (f"state dir {state_dir} is in use by jinad {name} (pid {pid}, edge port {port}); "
            "stop it first, or pass another --state-dir")
