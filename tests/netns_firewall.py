"""The host firewall rules a test bridge needs when the FORWARD chain drops by default (as it
does while dockerd runs): one ACCEPT between the bridge's ports, one on INPUT from it. Only
rules this harness added are ever removed."""

from __future__ import annotations

import itertools
import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

__all__ = ["FirewallRule", "NetnsError", "close_firewall", "iptables_binaries", "open_firewall"]

_CMD_TIMEOUT_S = 15.0


class NetnsError(RuntimeError):
    """A host networking command failed."""


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=_CMD_TIMEOUT_S, check=False
    )
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)!r} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


@dataclass(frozen=True)
class FirewallRule:
    binary: str
    chain: str
    spec: tuple[str, ...]


def iptables_binaries() -> list[str]:
    """The iptables front-ends whose rules can affect us (nft and/or legacy)."""
    found: list[str] = []
    nft, legacy = shutil.which("iptables-nft"), shutil.which("iptables-legacy")
    if nft:
        found.append(nft)
    if legacy:
        try:
            with open("/proc/net/ip_tables_names", encoding="ascii") as fh:
                if "filter" in fh.read().split():
                    found.append(legacy)
        except OSError:
            pass
    if not nft and not legacy and (plain := shutil.which("iptables")):
        found.append(plain)
    return found


def _chain_blocks(binary: str, chain: str) -> bool:
    """True if ``chain`` has policy DROP or any DROP/REJECT rule."""
    proc = _run([binary, "-w", "5", "-S", chain], check=False)
    if proc.returncode != 0:
        return False
    for line in proc.stdout.splitlines():
        words = line.split()
        if words[:3] == ["-P", chain, "DROP"]:
            return True
        if any(a == "-j" and b in ("DROP", "REJECT") for a, b in itertools.pairwise(words)):
            return True
    return False


def _rules_for(bridge: str, binary: str) -> list[FirewallRule]:
    # With br_netfilter, frames bridged between two of our namespaces traverse FORWARD;
    # namespace -> host traffic traverses INPUT.  Host -> namespace needs nothing.
    return [
        FirewallRule(binary, "FORWARD", ("-i", bridge, "-o", bridge, "-j", "ACCEPT")),
        FirewallRule(binary, "INPUT", ("-i", bridge, "-j", "ACCEPT")),
    ]


def open_firewall(bridge: str, binaries: Sequence[str] | None = None) -> list[FirewallRule]:
    """Insert ACCEPT rules for ``bridge`` where a chain would otherwise drop; return them."""
    inserted: list[FirewallRule] = []
    try:
        for binary in iptables_binaries() if binaries is None else binaries:
            for rule in _rules_for(bridge, binary):
                if _chain_blocks(binary, rule.chain):
                    _run([binary, "-w", "5", "-I", rule.chain, *rule.spec])
                    inserted.append(rule)
    except BaseException:
        close_firewall(inserted)
        raise
    return inserted


def close_firewall(rules: Sequence[FirewallRule]) -> None:
    """Delete exactly ``rules`` (one ``-D`` each); never raises."""
    for rule in rules:
        try:
            _run([rule.binary, "-w", "5", "-D", rule.chain, *rule.spec])
        except (NetnsError, OSError, subprocess.TimeoutExpired) as exc:
            log.warning("could not remove firewall rule %s: %s", rule, exc)


def _remove_rules_for(bridge: str) -> None:
    """Delete every copy of our rules for ``bridge`` that is present (checked with ``-C``)."""
    for binary in iptables_binaries():
        for rule in _rules_for(bridge, binary):
            for _ in range(16):
                if _run([binary, "-w", "5", "-C", rule.chain, *rule.spec], check=False).returncode:
                    break
                _run([binary, "-w", "5", "-D", rule.chain, *rule.spec], check=False)
