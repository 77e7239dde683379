"""Commands that prove who sent them: an nkey (Ed25519) signature in the message's headers.

An edge signs each command it sends (spawn, kill, ports, ...) over the subject, a nonce, an
expiry and the payload; a node verifies the signature against the keys it trusts, refuses
an expired command, and remembers each nonce until its expiry, so that a captured command
cannot be replayed (not even to another node: the subject is signed too).

Headers: ``Mesh-Key`` (the signer's public nkey), ``Mesh-Nonce``, ``Mesh-Expires`` (epoch
seconds) and ``Mesh-Sig`` (base64 of the 64-byte signature).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import nacl.exceptions
import nacl.signing
import nkeys

from mesh.errors import ForbiddenError

__all__ = ["KEY", "Signer", "Trusted", "Verifier", "public_key_bytes"]

KEY, NONCE, EXPIRES, SIG = "Mesh-Key", "Mesh-Nonce", "Mesh-Expires", "Mesh-Sig"
TTL_S = 60.0        # how long a signed command may travel
MAX_SKEW_S = 30.0   # how far apart the clocks of two nodes may be


def _signed_bytes(subject: str, nonce: str, expires: str, payload: bytes) -> bytes:
    return f"{subject}\n{nonce}\n{expires}\n".encode() + payload


def public_key_bytes(public_key: str) -> bytes:
    """The raw 32 bytes of a public nkey (``U...``), checked; ValueError if it is none."""
    try:
        raw = base64.b32decode(public_key + "=" * (-len(public_key) % 8))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{public_key!r} is not an nkey") from exc
    if len(raw) != 35 or not nkeys.valid_public_prefix_byte(raw[0]):
        raise ValueError(f"{public_key!r} is not a public nkey")
    if nkeys.crc16_checksum(raw[:33]) != raw[33:]:
        raise ValueError(f"{public_key!r} has a wrong checksum")
    return raw[1:33]


class Signer:
    """An edge's key: ``Signer.load_or_create(path)`` keeps its seed in a 0600 file."""

    def __init__(self, seed: bytes) -> None:
        self._keys = nkeys.from_seed(bytearray(seed))
        self.public_key = self._keys.public_key.decode()

    def __repr__(self) -> str:
        return f"<Signer {self.public_key}>"

    @classmethod
    def generate(cls) -> Signer:
        return cls(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """The seed in ``path``, or a new one written there (readable by its owner only)."""
        if path.exists():
            return cls(path.read_bytes().strip())
        signer = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(bytes(signer._keys.seed) + b"\n")
        return signer

    def headers(self, subject: str, payload: bytes, *, ttl_s: float = TTL_S) -> dict[str, str]:
        nonce = secrets.token_urlsafe(16)
        expires = f"{time.time() + ttl_s:.3f}"
        sig = self._keys.sign(_signed_bytes(subject, nonce, expires, payload))
        return {KEY: self.public_key, NONCE: nonce, EXPIRES: expires,
                SIG: base64.b64encode(sig).decode()}


Trusted = Callable[[bool], Awaitable[set[str]]]  # (refresh) -> the public keys trusted now


class Verifier:
    """Checks a command's signature; ``trusted(refresh)`` gives the keys trusted now (asked
    again, with ``refresh``, once for a key it does not know yet: a node that just joined)."""

    def __init__(self, trusted: Trusted, *, max_skew_s: float = MAX_SKEW_S) -> None:
        self.trusted = trusted
        self.max_skew_s = max_skew_s
        self._seen: dict[str, float] = {}  # nonce -> expiry
        self._verify_keys: dict[str, nacl.signing.VerifyKey] = {}

    async def check(self, subject: str, payload: bytes, headers: Mapping[str, str] | None) -> str:
        """The signer's public key, or ForbiddenError saying what is wrong."""
        h = headers or {}
        key, nonce, expires, sig = (h.get(k) for k in (KEY, NONCE, EXPIRES, SIG))
        if not (key and nonce and expires and sig):
            raise ForbiddenError(f"{subject}: the command is not signed; commands must come "
                                 "from an edge of the mesh", detail={"subject": subject})
        now = time.time()
        try:
            until = float(expires)
        except ValueError as exc:
            raise ForbiddenError(f"{subject}: bad expiry {expires!r}") from exc
        if until < now - self.max_skew_s or until > now + TTL_S + self.max_skew_s:
            raise ForbiddenError(f"{subject}: the command expired (or its clock is off)",
                                 detail={"subject": subject, "key": key})
        if key not in await self.trusted(False) and key not in await self.trusted(True):
            raise ForbiddenError(f"{subject}: key {key} is not trusted by this node",
                                 detail={"subject": subject, "key": key})
        self._verify(subject, key, sig, _signed_bytes(subject, nonce, expires, payload))
        self._forget_expired(now)
        if nonce in self._seen:
            raise ForbiddenError(f"{subject}: the command was already received (a replay)",
                                 detail={"subject": subject, "key": key})
        self._seen[nonce] = until
        return key

    def _verify(self, subject: str, key: str, sig: str, data: bytes) -> None:
        try:
            vk = self._verify_keys.get(key)
            if vk is None:
                vk = self._verify_keys[key] = nacl.signing.VerifyKey(public_key_bytes(key))
            vk.verify(data, base64.b64decode(sig))
        except (ValueError, binascii.Error, nacl.exceptions.BadSignatureError) as exc:
            raise ForbiddenError(f"{subject}: the signature does not match the command",
                                 detail={"subject": subject, "key": key}) from exc

    def _forget_expired(self, now: float) -> None:
        if len(self._seen) > 1024:
            horizon = now - self.max_skew_s
            self._seen = {n: t for n, t in self._seen.items() if t >= horizon}
