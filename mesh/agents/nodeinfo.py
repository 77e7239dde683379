"""This machine's identity and load, as the NodeInfo a heartbeat publishes."""

from __future__ import annotations

import os
import time

from mesh.events.models import PROTOCOL, NodeInfo

__all__ = ["memory_mb", "node_info"]


def memory_mb() -> tuple[int, int]:
    """(total, available) from /proc/meminfo; zeros where it does not exist."""
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) // 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return values.get("MemTotal", 0), values.get("MemAvailable", 0)


def node_info(*, name: str, address: str, port: int, labels: dict[str, str], peas: int,
              version: str, started: float, failed: list[str] | None = None,
              edge_key: str | None = None, instance: str = "",
              failures: dict[str, str] | None = None,
              restarts: dict[str, int] | None = None, pods: list[str] | None = None,
              cordoned: bool = False, down: list[str] | None = None) -> NodeInfo:
    total, available = memory_mb()
    return NodeInfo(name=name, address=address, port=port, labels=labels,
                    cpu_count=os.cpu_count() or 1, load1=os.getloadavg()[0],
                    mem_total_mb=total, mem_available_mb=available, peas=peas, failed=failed or [],
                    version=version, started=started, heartbeat=time.time(), edge_key=edge_key,
                    protocol=PROTOCOL, instance=instance, failures=failures or {},
                    restarts=restarts or {}, pods=pods or [], cordoned=cordoned,
                    down=down or [])
