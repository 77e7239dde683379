"""A Pea in a Docker container: same contract as a Pea process (start, ready, stop).

The container runs the image's ``python -m mesh.runtime.entry pea CONFIG``; the
ports the Pea binds are published on the node (unless it uses the host's
network), so other Peas dial them like any port of the node. The executor's
files are mounted read-only at the same path. Containers carry labels (flow,
pod, pea, node, owner) so that whatever a crash leaves can be found and removed.
Exit code and last log lines are collected before the container is removed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

from mesh.errors import BadRequestError, PeaStartError, UnavailableError
from mesh.runtime.config import PeaConfig
from mesh.runtime.launcher import LineSink, PeaProcess

__all__ = ["LABEL", "PeaContainer", "docker_client", "remove_containers"]

logger = logging.getLogger(__name__)

LABEL = "mesh"
_client: Any = None
_lock = threading.Lock()


def docker_client() -> Any:
    """The Docker engine, or a clear error when there is none."""
    global _client
    with _lock:
        if _client is None:
            try:
                import docker

                client = docker.from_env(timeout=120)  # type: ignore[attr-defined]
                client.ping()
            except Exception as exc:  # docker.errors.DockerException and connection errors
                raise UnavailableError(
                    f"no Docker engine reachable ({type(exc).__name__}: {exc}); pods with image= "
                    "need Docker installed and running on the node that runs them") from exc
            _client = client
        return _client


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PeaContainer(PeaProcess):
    """``PeaProcess`` with the process replaced by a container."""

    def __init__(self, *, config: PeaConfig, node: str, sink: LineSink | None = None,
                 env: dict[str, str] | None = None) -> None:
        super().__init__(kind="pea", name=config.name, config_json=config.to_json(),
                         port_ctrl=config.port_ctrl, sink=sink, env=env)
        self.config = config
        self.node = node
        self.container: Any = None
        self._exit_code: int | None = None

    def __repr__(self) -> str:
        cid = self.container.short_id if self.container is not None else None
        return f"<PeaContainer {self.name} image={self.config.image} id={cid}>"

    @property
    def pid(self) -> int | None:
        return None

    @property
    def container_id(self) -> str | None:
        return self.container.id if self.container is not None else None

    @property
    def returncode(self) -> int | None:
        if self.container is None:
            return None
        if self._reader is not None and self._reader.is_alive():
            return None
        if self._exit_code is None:
            self._exit_code = _exit_code(self.container)
        return self._exit_code

    def start(self) -> None:
        import docker.errors

        cfg = self.config
        client = docker_client()
        try:
            self.container = client.containers.run(cfg.image, **self._run_args())
        except docker.errors.ImageNotFound as exc:
            raise BadRequestError(
                f"pod {cfg.pod!r}: image {cfg.image!r} is not on this node; build or load it "
                "first (no registry is used)", detail={"pod": cfg.pod, "image": cfg.image}) from exc
        except docker.errors.APIError as exc:
            raise PeaStartError(f"{cfg.name}: the container of image {cfg.image!r} did not start: "
                                f"{exc.explanation or exc}", detail={"pod": cfg.pod, "image": cfg.image}) from exc
        self._reader = threading.Thread(target=self._follow, name=f"log-{self.name}", daemon=True)
        self._reader.start()

    def _run_args(self) -> dict[str, Any]:
        cfg = self.config
        args: dict[str, Any] = {
            "entrypoint": ["python", "-m", "mesh.runtime.entry"],
            "command": ["pea", cfg.to_json()],
            "detach": True,
            "name": f"mesh-{cfg.flow_id[:12]}-{cfg.name.replace('/', '-')}-{uuid.uuid4().hex[:6]}",
            "labels": {LABEL: "pea", f"{LABEL}.flow": cfg.flow_id, f"{LABEL}.pod": cfg.pod,
                       f"{LABEL}.pea": cfg.name, f"{LABEL}.node": self.node,
                       f"{LABEL}.owner": owner_label()},
            "environment": {**self.env, "PYTHONUNBUFFERED": "1"},
            "volumes": self._mounts(),
        }
        if cfg.network == "host":
            args["network_mode"] = "host"
        else:
            args["ports"] = {f"{p}/tcp": p for p in cfg.bound_ports()}
            args["extra_hosts"] = {"host.docker.internal": "host-gateway"}
        return args

    def _mounts(self) -> dict[str, dict[str, str]]:
        """The executor's files, read-only, at the same path as on the node."""
        dirs = set()
        if self.config.base_dir:
            dirs.add(self.config.base_dir)
        for uses in (self.config.uses,):
            if uses.endswith((".yml", ".yaml")) and os.path.isabs(uses):
                dirs.add(str(Path(uses).parent))
        return {d: {"bind": d, "mode": "ro"} for d in sorted(dirs) if os.path.isdir(d)}

    def _follow(self) -> None:
        buf = b""
        try:
            for chunk in self.container.logs(stream=True, follow=True):
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    self._line(raw.decode("utf-8", "replace"))
        except Exception as exc:  # noqa: BLE001 - the engine went away; the exit code tells
            logger.debug("log stream of %s ended: %s", self.name, exc)
        if buf:
            self._line(buf.decode("utf-8", "replace"))

    def _line(self, line: str) -> None:
        self.tail.append(line)
        try:
            self.sink(line)
        except Exception:
            logger.exception("log sink for %s failed", self.name)

    def terminate(self) -> None:
        if self.container is not None and self.returncode is None:
            try:
                self.container.kill(signal="SIGTERM")
            except Exception as exc:  # noqa: BLE001 - already gone
                logger.debug("SIGTERM to %s: %s", self.name, exc)

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop (SIGTERM, then SIGKILL after the grace), keep the exit code, remove; never raises."""
        if self.container is None:
            return
        try:
            self.container.stop(timeout=max(int(grace_s), 1))
        except Exception as exc:  # noqa: BLE001 - already gone
            logger.debug("stopping %s: %s", self.name, exc)
        self._join_reader()
        self._exit_code = self._exit_code if self._exit_code is not None else _exit_code(self.container)
        try:
            self.container.remove(force=True)
        except Exception as exc:  # noqa: BLE001
            if "No such container" not in str(exc):
                logger.warning("container of %s not removed: %s", self.name, exc)


def _exit_code(container: Any) -> int | None:
    try:
        container.reload()
    except Exception:  # noqa: BLE001 - removed meanwhile
        return -1
    state = container.attrs.get("State", {})
    return None if state.get("Running") else int(state.get("ExitCode", -1))


def remove_orphans() -> int:
    """Remove containers of Flows whose process died on this machine without closing them."""
    host = socket.gethostname()
    removed = 0
    for container in docker_client().containers.list(all=True, filters={"label": [LABEL]}):
        owner = container.labels.get(f"{LABEL}.owner", "")
        name, _, pid = owner.rpartition(":")
        if name == host and pid.isdigit() and not _pid_alive(int(pid)):
            try:
                container.remove(force=True)
                removed += 1
            except Exception as exc:  # noqa: BLE001
                logger.warning("container %s not removed: %s", container.short_id, exc)
    if removed:
        logger.warning("removed %d containers left by Flows that did not close", removed)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_containers(**labels: str) -> int:
    """Remove every container carrying these ``mesh.*`` labels; how many were removed."""
    client = docker_client()
    filters = [f"{LABEL}.{k}={v}" for k, v in labels.items()] or [LABEL]
    removed = 0
    for container in client.containers.list(all=True, filters={"label": filters}):
        try:
            container.remove(force=True)
            removed += 1
        except Exception as exc:  # noqa: BLE001
            logger.warning("container %s not removed: %s", container.short_id, exc)
    return removed
