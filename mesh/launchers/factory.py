"""One way to make and start a Pea, whatever runs it: a process, or a container."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from mesh.launchers.process import LineSink, PeaProcess
from mesh.runtime.config import GatewayConfig, PeaConfig

__all__ = ["make_pea", "start_peas"]


def make_pea(cfg: PeaConfig | GatewayConfig, *, sink: LineSink | None = None,
             env: dict[str, str] | None = None, cwd: str | None = None, node: str = "local") -> PeaProcess:
    env = {**(env or {}), **getattr(cfg, "env", {})}
    if isinstance(cfg, PeaConfig) and cfg.image:
        from mesh.launchers.docker import PeaContainer

        return PeaContainer(config=cfg, node=node, sink=sink, env=env, cwd=cwd)
    kind = "gateway" if isinstance(cfg, GatewayConfig) else "pea"
    return PeaProcess(kind=kind, name=cfg.name, config_json=cfg.to_json(), port_ctrl=cfg.port_ctrl,
                      sink=sink, env=env or None, cwd=cwd)


def start_peas(peas: Sequence[PeaProcess]) -> None:
    """Processes start one after the other (each is quick); containers in parallel."""
    from mesh.launchers.docker import PeaContainer

    boxed = [p for p in peas if isinstance(p, PeaContainer)]
    for pea in peas:
        if not isinstance(pea, PeaContainer):
            pea.start()
    if boxed:
        with ThreadPoolExecutor(max_workers=min(len(boxed), 8)) as pool:
            for future in [pool.submit(p.start) for p in boxed]:
                future.result()
