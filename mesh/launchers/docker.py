"""A Pea in a Docker container, with the same contract as a Pea process (``PeaHandle``).

The container runs the image's ``python -m mesh.runtime.entry pea CONFIG``; the ports the
Pea binds are published on the node (unless it uses the host's network), so other Peas dial
them like any port of the node. The executor's files are mounted read-only at the same
path. Its log stream is followed by one thread; when the stream ends the container has
stopped, and its exit code and last lines are collected before it is removed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any

from mesh.errors import BadRequestError, FlowConfigError, MeshError, PeaStartError, UnavailableError
from mesh.executors.loader import is_yaml_path
from mesh.flow.addresses import CONTAINER_HOST
from mesh.launchers.base import ExitCallback, ExitInfo, LineSink, LogTail, start_error
from mesh.launchers.engine import LABEL, docker_client, owner_label
from mesh.runtime.config import PeaConfig
from mesh.yaml.loader import load_yaml

__all__ = ["PeaContainer"]

logger = logging.getLogger(__name__)

_NOT_FOUND = 127  # the exit code of the container's init when the image has no `python`


class PeaContainer:
    """One Pea in a container of ``config.image``.

    ``cwd`` is where a process Pea would run (the Flow's directory locally, the flow's
    workspace on a node): a relative executor YAML is resolved against it, as a process
    resolves it, and handed to the container as an absolute path, whose folder is mounted.
    """

    def __init__(self, *, config: PeaConfig, node: str, sink: LineSink | None = None,
                 env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self.config = _absolute_uses(config, cwd or os.getcwd())
        self.name, self.port_ctrl = self.config.name, self.config.port_ctrl
        self.config_json = self.config.to_json()
        self.node = node
        self.env = env or {}
        self.on_exit: ExitCallback | None = None
        self.logs = LogTail(self.name, sink)
        self.container: Any = None
        self._reader: threading.Thread | None = None
        self._exit_code: int | None = None
        self._stopping = False

    def __repr__(self) -> str:
        cid = self.container.short_id if self.container is not None else None
        return f"<PeaContainer {self.name} image={self.config.image} id={cid}>"

    @property
    def pid(self) -> int | None:
        return None  # a process of the engine's, not of this machine's process tree

    @property
    def returncode(self) -> int | None:
        if self.container is None or self._exit_code is not None:
            return self._exit_code
        if self._reader is not None and self._reader.is_alive():
            return None  # its output has not ended: it runs
        self._exit_code = _exit_code(self.container)
        return self._exit_code

    @property
    def tail(self) -> list[str]:
        return list(self.logs.lines)

    def _where(self) -> str:
        return f"pod {self.config.pod!r} ({self.name}, image {self.config.image!r})"

    def start(self) -> None:
        """Create and start the container. Never pulls: an image missing on this node is a
        400 at once. A container that cannot start is removed before the error is raised."""
        import docker.errors

        cfg = self.config
        detail = {"pod": cfg.pod, "pea": cfg.name, "image": cfg.image}
        try:
            client = docker_client()
        except UnavailableError as exc:
            raise UnavailableError(f"{self._where()}: {exc.message}", detail={**exc.detail, **detail}) from exc
        try:
            container = client.containers.create(cfg.image, **self._run_args())
        except docker.errors.ImageNotFound as exc:
            raise BadRequestError(
                f"pod {cfg.pod!r}: image {cfg.image!r} is not on this node; build or load it "
                "first (images are never pulled)", detail=detail) from exc
        except docker.errors.APIError as exc:
            raise PeaStartError(f"{self._where()}: the container was not created: "
                                f"{exc.explanation or exc}", detail=detail) from exc
        try:
            container.start()
        except docker.errors.APIError as exc:
            _remove(container, self.name)
            raise self._start_refused(str(exc.explanation or exc), detail) from exc
        except BaseException:
            _remove(container, self.name)
            raise
        self.container = container
        self._reader = threading.Thread(target=self._follow, name=f"log-{self.name}", daemon=True)
        self._reader.start()

    def _start_refused(self, why: str, detail: dict[str, Any]) -> MeshError:
        """The engine's refusal to start the container, said in the user's terms."""
        if "already in use" in why or "already allocated" in why:
            port = next((p for p in self.config.bound_ports() if re.search(rf":{p}\b", why)), None)
            which = f"port {port}" if port else "a port"
            return FlowConfigError(
                f"{self._where()}: {which} it must publish is already in use on this node; "
                f"choose another port (port_in/port_out/port_ctrl) or free it ({why})",
                detail={**detail, "port": port})
        return PeaStartError(f"{self._where()}: the container did not start: {why}", detail=detail)

    def start_error(self, what: str) -> PeaStartError:
        """Exit code and last log lines, read before the container is removed."""
        if self.returncode is not None and self._reader is not None:
            self._reader.join(timeout=1)
        if self.returncode == _NOT_FOUND:
            what += ("; the image cannot run `python -m mesh.runtime.entry`: use an image with "
                     "this project installed and `python` on its PATH")
        err = start_error(self.name, f"(pod {self.config.pod!r}, container of image "
                          f"{self.config.image!r}) {what}", code=self.returncode, tail=self.tail)
        err.detail.update(pod=self.config.pod, image=self.config.image)
        return err

    def exit_info(self) -> ExitInfo:
        return ExitInfo(code=self.returncode, tail=self.logs.last(), expected=self._stopping)

    def _run_args(self) -> dict[str, Any]:
        cfg = self.config
        args: dict[str, Any] = {
            "entrypoint": ["python", "-m", "mesh.runtime.entry"],
            "command": ["pea", self.config_json],
            "init": True,  # SIGTERM reaches the Pea even while its executor is being built
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
            args["extra_hosts"] = {CONTAINER_HOST: "host-gateway"}
        return args

    def _mounts(self) -> dict[str, dict[str, str]]:
        """The executor's files, read-only, at the same paths as on the node: the folder of
        its YAML and of the ``py_modules`` it names, and the flow's uploaded files."""
        dirs: set[str] = set()
        if self.config.base_dir:
            dirs.add(self.config.base_dir)
        uses = self.config.uses
        if is_yaml_path(uses) and os.path.isabs(uses):
            folder = Path(uses).parent
            dirs.add(str(folder))
            dirs.update(str((folder / m).resolve().parent) for m in _py_modules(Path(uses)))
        dirs = {os.path.realpath(d) for d in dirs if os.path.isdir(d)}
        return {d: {"bind": d, "mode": "ro"} for d in sorted(dirs)}

    def _follow(self) -> None:
        """Follow the container's output to its end (the container stopped), then report."""
        buf = b""
        try:
            for chunk in self.container.logs(stream=True, follow=True):
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    self.logs.line(raw.decode("utf-8", "replace"))
        except Exception as exc:  # noqa: BLE001 - the engine went away; the exit code tells
            logger.debug("log stream of %s ended: %s", self.name, exc)
        if buf:
            self.logs.line(buf.decode("utf-8", "replace"))
        if self.on_exit is not None:
            self._exit_code = _wait_exit(self.container)
            try:
                self.on_exit(self, self.exit_info())
            except Exception:  # noqa: BLE001 - the owner's bug must not hide the exit
                logger.exception("exit callback of %s failed", self.name)

    def terminate(self) -> None:
        self._stopping = True
        if self.container is not None and self.returncode is None:
            try:
                self.container.kill(signal="SIGTERM")
            except Exception as exc:  # noqa: BLE001 - already gone
                logger.debug("SIGTERM to %s: %s", self.name, exc)

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop (SIGTERM, then SIGKILL after the grace), keep the exit code, remove; never raises."""
        self._stopping = True
        if self.container is None:
            return
        try:
            self.container.stop(timeout=max(int(grace_s), 1))
        except Exception as exc:  # noqa: BLE001 - already gone
            logger.debug("stopping %s: %s", self.name, exc)
        self._finish()

    def kill(self) -> None:
        """SIGKILL, keep the exit code, remove; never raises."""
        self._stopping = True
        if self.container is None:
            return
        try:
            self.container.kill()
        except Exception as exc:  # noqa: BLE001 - already gone
            logger.debug("killing %s: %s", self.name, exc)
        self._finish()

    def _finish(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self._exit_code is None:
            self._exit_code = _exit_code(self.container)
        _remove(self.container, self.name)


def _absolute_uses(config: PeaConfig, cwd: str) -> PeaConfig:
    """The config with a relative executor YAML made absolute, as a process in ``cwd``
    (or given ``base_dir``) would find it; the container sees the same path."""
    uses = config.uses
    if not is_yaml_path(uses) or os.path.isabs(uses):
        return config
    return dataclasses.replace(config, uses=os.path.abspath(os.path.join(config.base_dir or cwd, uses)))


def _py_modules(yaml_path: Path) -> list[str]:
    """The ``metas.py_modules`` an executor YAML names (none when it cannot be read)."""
    try:
        data = load_yaml(yaml_path.read_bytes(), source=str(yaml_path))
        modules = (data.get("metas") or {}).get("py_modules") or []
    except Exception:  # noqa: BLE001 - the Pea reports a broken YAML itself
        return []
    return [m for m in modules if isinstance(m, str)]


def _remove(container: Any, name: str) -> None:
    try:
        container.remove(force=True)
    except Exception as exc:  # noqa: BLE001
        if "No such container" not in str(exc) and "is already in progress" not in str(exc):
            logger.warning("container of %s not removed: %s", name, exc)


def _exit_code(container: Any) -> int | None:
    try:
        container.reload()
    except Exception:  # noqa: BLE001 - removed meanwhile
        return -1
    state = container.attrs.get("State", {})
    return None if state.get("Running") else int(state.get("ExitCode", -1))


def _wait_exit(container: Any) -> int | None:
    """The exit code of a container whose output ended (it stopped, or is stopping)."""
    try:
        return int(container.wait(timeout=10).get("StatusCode", -1))
    except Exception:  # noqa: BLE001 - removed meanwhile, or the engine is away
        return _exit_code(container)
