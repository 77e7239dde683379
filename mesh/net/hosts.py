"""What a pod's ``host`` means: which values keep the pod in this process, and which name
this machine. One rule for the Flow API, the ``mesh`` commands and the scheduler."""

from __future__ import annotations

__all__ = ["IN_PROCESS_HOSTS", "THIS_MACHINE", "is_remote_host", "is_this_machine"]

# Unset, the wildcard and YAML's ``local``: the pod runs in this process's Flow.
IN_PROCESS_HOSTS = frozenset({"", "0.0.0.0", "local"})
# Names of this machine: a jinad asked for them places the pod on itself.
THIS_MACHINE = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1"})


def is_remote_host(host: str | None) -> bool:
    """True when a pod on ``host`` runs through the jinad there. 127.0.0.1 and localhost
    name a jinad on this machine, as in the original's Flow API."""
    return bool(host) and host not in IN_PROCESS_HOSTS


def is_this_machine(host: str | None) -> bool:
    return (host or "") in THIS_MACHINE
