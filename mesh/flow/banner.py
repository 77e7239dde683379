"""The lines a Flow prints when it is ready: where its gateway can be reached."""

from __future__ import annotations

import socket

from mesh.runtime.config import GatewayConfig

__all__ = ["private_addresses", "ready_banner"]


_SKIP = ("lo", "docker", "br-", "veth", "virbr", "cni", "flannel", "mesh-")


def private_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback and container bridges (Linux
    interfaces first, then the host name's addresses); no traffic is sent."""
    found = [ip for name in _interfaces() if not name.startswith(_SKIP)
             for ip in [_ipv4_of(name)] if ip and not ip.startswith("127.")]
    if found:
        return found
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({str(i[4][0]) for i in infos if not str(i[4][0]).startswith("127.")})


def _interfaces() -> list[str]:
    try:
        return [name for _, name in socket.if_nameindex()]
    except OSError:
        return []


def _ipv4_of(name: str) -> str | None:
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        return None


def ready_banner(gw: GatewayConfig) -> str:
    lines = ["🎉 Flow is ready to use",
             f"\t🖥️ Local access:\ttcp://0.0.0.0:{gw.port_expose}"]
    lines += [f"\t🔒 Private network:\ttcp://{ip}:{gw.port_expose}" for ip in private_addresses()]
    if gw.port_http:
        lines.append(f"\t🌐 HTTP JSON:\thttp://0.0.0.0:{gw.port_http}/post/<endpoint>")
    return "\n".join(lines)
