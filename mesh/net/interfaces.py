"""This machine's network interfaces and their IPv4 addresses (Linux; standard library only)."""

from __future__ import annotations

import socket

__all__ = ["interfaces", "ipv4_of"]


def interfaces() -> list[str]:
    try:
        return [name for _, name in socket.if_nameindex()]
    except OSError:
        return []


def ipv4_of(name: str) -> str | None:
    """The IPv4 address of interface ``name``, or None (no such interface, or not Linux)."""
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
    except (OSError, ImportError):
        return None
    return socket.inet_ntoa(packed[20:24])
