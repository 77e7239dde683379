"""The lines a Flow prints when it is ready: where its gateway can be reached."""

from __future__ import annotations

import socket

from mesh.runtime.config import GatewayConfig

__all__ = ["ready_banner", "private_addresses"]


def private_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, from its own name; no traffic is sent."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({str(i[4][0]) for i in infos if not str(i[4][0]).startswith("127.")})


def ready_banner(gw: GatewayConfig) -> str:
    lines = ["🎉 Flow is ready to use",
             f"\t🖥️ Local access:\ttcp://0.0.0.0:{gw.port_expose}"]
    lines += [f"\t🔒 Private network:\ttcp://{ip}:{gw.port_expose}" for ip in private_addresses()]
    if gw.port_http:
        lines.append(f"\t🌐 HTTP JSON:\thttp://0.0.0.0:{gw.port_http}/post/<endpoint>")
    return "\n".join(lines)
