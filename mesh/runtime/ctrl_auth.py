"""Which control commands anyone may send, and how the others are signed and checked.

``status`` and ``ping`` are open: ``mesh ping HOST PORT`` sends them without any key, and
their answer holds nothing secret. Every other command (``terminate``...) must carry an
HMAC-SHA256, under the Flow's control key, over the command, the Pea it is meant for, a
nonce and a timestamp. A Pea refuses a command with no or a wrong signature, one meant for
another Pea, one older (or newer) than ``VALIDITY_S``, and one whose nonce it has already
seen within that window (a replay), and one signed before the Pea started: a Pea restarted
with the same configuration remembers no nonces of its former life. An open command may be
signed too; its answer to a signed command carries a ``proof`` (an HMAC over
the request's nonce and the answer), so the sender knows the answer came from a holder of
the key too.

Imported only when a signed command is sent or arrives: ``hashlib`` costs a few
milliseconds, which a Pea's start does not pay.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

__all__ = ["OPEN", "VALIDITY_S", "Verifier", "check_proof", "sign"]

OPEN = frozenset({"status", "ping", "metrics"})
VALIDITY_S = 30.0  # the clocks of a Flow's machines may differ by up to this much


def _mac(key: str, *parts: object) -> str:
    message = "\n".join(str(p) for p in parts).encode()
    return hmac.new(bytes.fromhex(key), message, hashlib.sha256).hexdigest()


def sign(key: str, cmd: str, *, pea: str, now: float | None = None) -> dict[str, Any]:
    """The body of ``cmd`` for the Pea named ``pea``, signed with the Flow's control key."""
    nonce = secrets.token_hex(16)
    ts_ms = int((time.time() if now is None else now) * 1000)
    return {"cmd": cmd, "to": pea, "nonce": nonce, "ts_ms": ts_ms,
            "mac": _mac(key, "cmd", cmd, pea, nonce, ts_ms)}


def proof(key: str, nonce: str, reply: dict[str, Any]) -> str:
    return _mac(key, "reply", nonce, reply.get("pea"), reply.get("cmd"), reply.get("ok"))


def check_proof(key: str, request: dict[str, Any], reply: dict[str, Any]) -> bool:
    """Did a holder of ``key`` answer ``request``?"""
    given = reply.get("proof")
    return isinstance(given, str) and hmac.compare_digest(given, proof(key, request["nonce"], reply))


class Verifier:
    """Checks the signed commands that reach one Pea; remembers nonces for the window."""

    def __init__(self, key: str | None, *, pea: str, started: float,
                 validity_s: float = VALIDITY_S) -> None:
        self.key, self.pea, self.started, self.validity_s = key, pea, started, validity_s
        self._seen: dict[str, float] = {}  # nonce -> until when a replay of it would be valid

    def refusal(self, body: dict[str, Any], *, now: float | None = None) -> str | None:
        """Why the command in ``body`` is refused, or None when it is valid (and now used)."""
        now = time.time() if now is None else now
        unsigned = self.unsigned(body)
        if unsigned is not None:
            return unsigned
        ts_ms, nonce = body["ts_ms"], body["nonce"]
        if abs(now - ts_ms / 1000) > self.validity_s:
            return f"its timestamp is more than {self.validity_s:g} s from this Pea's clock"
        if ts_ms / 1000 < self.started:
            return "it was signed before this Pea started (a replay, or clocks that differ)"
        self._forget(now)
        if nonce in self._seen:
            return "it is a replay of a command already received"
        self._seen[nonce] = ts_ms / 1000 + self.validity_s
        return None

    def unsigned(self, body: dict[str, Any]) -> str | None:
        """Why ``body`` is not signed with the key for this Pea, or None. All an open command
        needs for a proof in its answer: a replayed status learns nothing, and the ready wait
        signs its status before the Pea has started, to be answered whenever it is ready."""
        if self.key is None:
            return "this Pea holds no control key, so it obeys no command but status and ping"
        nonce, ts_ms, mac = body.get("nonce"), body.get("ts_ms"), body.get("mac")
        if not (isinstance(nonce, str) and isinstance(ts_ms, int) and isinstance(mac, str)):
            return "it is not signed with the Flow's key"
        expected = _mac(self.key, "cmd", body.get("cmd"), body.get("to"), nonce, ts_ms)
        if not hmac.compare_digest(mac, expected):
            return "its signature is not the Flow's key's"
        if body.get("to") != self.pea:
            return f"it is signed for {body.get('to')!r}, not for this Pea"
        return None

    def _forget(self, now: float) -> None:
        for nonce in [n for n, until in self._seen.items() if until < now]:
            del self._seen[nonce]
