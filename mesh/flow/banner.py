"""The lines a Flow prints when it is ready: where its gateway can be reached."""

from __future__ import annotations

import socket

from mesh.net.interfaces import interfaces, ipv4_of
from mesh.runtime.config import GatewayConfig

__all__ = ["private_addresses", "ready_banner"]


_SKIP = ("lo", "docker", "br-", "veth", "virbr", "cni", "flannel", "mesh-")


def private_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback and container bridges (Linux
    interfaces first, then the host name's addresses); no traffic is sent."""
    found = [ip for name in interfaces() if not name.startswith(_SKIP)
             for ip in [ipv4_of(name)] if ip and not ip.startswith("127.")]
    if found:
        return found
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
