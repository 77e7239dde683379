"""Making and starting Peas: a config becomes a process or a container handle."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from mesh.launchers.base import LineSink, PeaHandle
from mesh.launchers.process import PeaProcess
from mesh.runtime.config import GatewayConfig, PeaConfig

__all__ = ["Launch", "make_pea", "start_peas", "stop_all"]

logger = logging.getLogger(__name__)

Config = PeaConfig | GatewayConfig
Launch = Callable[..., PeaHandle]  # make_pea's signature: (cfg, *, sink, env, cwd, node)
_MAX_PARALLEL = 8


def make_pea(cfg: Config, *, sink: LineSink | None = None, env: dict[str, str] | None = None,
             cwd: str | None = None, node: str = "local") -> PeaHandle:
    """A container for a Pea with ``image``, else a process; not started yet."""
    env = {**(env or {}), **getattr(cfg, "env", {})}
    if isinstance(cfg, PeaConfig) and cfg.image:
        from mesh.launchers.docker import PeaContainer  # the Docker SDK only when needed

        return PeaContainer(config=cfg, node=node, sink=sink, env=env, cwd=cwd)
    kind = "gateway" if isinstance(cfg, GatewayConfig) else "pea"
    return PeaProcess(kind=kind, name=cfg.name, config_json=cfg.to_json(), port_ctrl=cfg.port_ctrl,
                      sink=sink, env=env or None, cwd=cwd)


def start_peas(peas: Sequence[PeaHandle]) -> None:
    """Start every Pea, in parallel (a container takes a while to create); the first
    failure is raised once all starts have returned, so that the caller stops them all."""
    if len(peas) <= 1:
        for pea in peas:
            pea.start()
        return
    with ThreadPoolExecutor(max_workers=min(len(peas), _MAX_PARALLEL)) as pool:
        futures = [pool.submit(p.start) for p in peas]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]


def stop_all(peas: Sequence[PeaHandle], grace_s: float) -> None:
    """SIGTERM every Pea at once, then wait for each (SIGKILL after the grace); never raises."""
    for pea in peas:
        pea.terminate()
    for pea in peas:
        try:
            pea.stop(grace_s)
        except Exception:  # noqa: BLE001 - a launcher's bug must not leave the others running
            logger.exception("stopping %s failed", pea.name)
