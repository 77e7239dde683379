"""The Docker engine this node talks to, and the containers the project labels in it.

Every container of a Pea carries ``mesh.*`` labels (flow, pod, pea, node, owner), so that
what a crash leaves can be found and removed: by the next Flow on this machine (orphans of
dead processes) or by a node's next life (its own containers).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from mesh.errors import UnavailableError

__all__ = ["LABEL", "docker_client", "owner_label", "remove_containers", "remove_orphans"]

logger = logging.getLogger(__name__)

LABEL = "mesh"
_ENV_KEYS = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
_clients: dict[tuple[str | None, ...], Any] = {}
_lock = threading.Lock()


def docker_client() -> Any:
    """The Docker engine that ``DOCKER_HOST`` (or the default socket) names, or a clear error
    when none answers. One client per engine address, so a changed environment is honoured."""
    key = tuple(os.environ.get(k) for k in _ENV_KEYS)
    with _lock:
        client = _clients.get(key)
        if client is None:
            where = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
            try:
                import docker
            except ImportError as exc:
                raise UnavailableError("the Docker SDK for Python (package `docker`) is not "
                                       "installed; pods with image= need it and a Docker engine") from exc
            _probe(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock", where)
            client = None
            try:
                # (ignore: mypy takes the repository's docker/ folder for the SDK)
                client = docker.from_env(timeout=120)
                client.ping()
            except Exception as exc:  # docker.errors.DockerException and connection errors
                if client is not None:
                    client.close()
                raise UnavailableError(
                    f"no Docker engine answers at {where} ({type(exc).__name__}: {exc}); pods "
                    "with image= need Docker installed and running on the node that runs them",
                    detail={"docker_host": os.environ.get("DOCKER_HOST")}) from exc
            _clients[key] = client
        return client


def _probe(url: str, where: str) -> None:
    """Connect to the engine's socket once, and close it: an engine that is not there is said
    at once (the SDK would leave its failed socket open for the garbage collector)."""
    address: str | tuple[str, int]
    if url.startswith("unix://"):
        family, address = socket.AF_UNIX, url[len("unix://"):]
    elif url.startswith("tcp://"):
        host, _, port = url[len("tcp://"):].rstrip("/").rpartition(":")
        if not port.isdigit():
            return
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        address = (host.strip("[]"), int(port))
    else:
        return  # ssh:// and others: the SDK knows how
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(address)
    except OSError as exc:
        raise UnavailableError(
            f"no Docker engine answers at {where} ({exc.strerror or exc}); pods with image= need "
            "Docker installed and running on the node that runs them",
            detail={"docker_host": os.environ.get("DOCKER_HOST")}) from exc


def owner_label() -> str:
    """``host:pid-namespace:pid`` of the process that starts a container. A pid means
    something only in its own namespace: a jinad in a container (``docker run --network
    host``, the host's name) that uses the host's engine has pids the host cannot check."""
    return f"{socket.gethostname()}:{_pid_namespace()}:{os.getpid()}"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return "-"


def remove_orphans() -> int:
    """Remove containers of Flows whose process died on this machine without closing them."""
    here = owner_label().rpartition(":")[0]  # this machine's name and pid namespace
    removed = 0
    for container in docker_client().containers.list(all=True, filters={"label": [LABEL]}):
        owner = container.labels.get(f"{LABEL}.owner", "")
        where, _, pid = owner.rpartition(":")
        if where == here and pid.isdigit() and not _pid_alive(int(pid)):
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
