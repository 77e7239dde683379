"""Signed commands (mesh/events/signing.py): what a node accepts and what it refuses."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path

import pytest

from mesh.agents.trust import read_trusted_keys
from mesh.errors import FlowConfigError, ForbiddenError
from mesh.events import signing
from mesh.events.signing import Signer, Verifier, public_key_bytes

pytestmark = pytest.mark.unit


def _verifier(*trusted: Signer) -> Verifier:
    keys = {s.public_key for s in trusted}

    async def trust(refresh: bool) -> set[str]:
        return keys

    return Verifier(trust)


def _check(verifier: Verifier, subject: str, payload: bytes, headers: dict[str, str] | None) -> str:
    return asyncio.run(verifier.check(subject, payload, headers))


def test_a_signed_command_names_its_signer() -> None:
    edge = Signer.generate()
    headers = edge.headers("jinad.spawn.n1", b'{"flow_id": "f1"}')
    assert _check(_verifier(edge), "jinad.spawn.n1", b'{"flow_id": "f1"}', headers) == edge.public_key


@pytest.mark.parametrize(("subject", "payload", "why"), [
    ("jinad.spawn.n1", b'{"flow_id": "f2"}', "the signature does not match"),   # payload changed
    ("jinad.spawn.n2", b'{"flow_id": "f1"}', "the signature does not match"),   # sent to another node
])
def test_a_changed_command_is_refused(subject: str, payload: bytes, why: str) -> None:
    edge = Signer.generate()
    headers = edge.headers("jinad.spawn.n1", b'{"flow_id": "f1"}')
    with pytest.raises(ForbiddenError, match=why):
        _check(_verifier(edge), subject, payload, headers)


def test_a_replayed_command_is_refused() -> None:
    edge, verifier = Signer.generate(), None
    verifier = _verifier(edge)
    headers = edge.headers("jinad.kill.f1", b"{}")
    _check(verifier, "jinad.kill.f1", b"{}", headers)
    with pytest.raises(ForbiddenError, match="a replay"):
        _check(verifier, "jinad.kill.f1", b"{}", headers)


def test_unsigned_untrusted_and_expired_commands_are_refused() -> None:
    edge, stranger = Signer.generate(), Signer.generate()
    verifier = _verifier(edge)
    with pytest.raises(ForbiddenError, match="not signed"):
        _check(verifier, "jinad.ports.n1", b"{}", None)
    with pytest.raises(ForbiddenError, match="not trusted"):
        _check(verifier, "jinad.ports.n1", b"{}", stranger.headers("jinad.ports.n1", b"{}"))
    old = edge.headers("jinad.ports.n1", b"{}", ttl_s=-(signing.MAX_SKEW_S + 1))
    with pytest.raises(ForbiddenError, match="expired"):
        _check(verifier, "jinad.ports.n1", b"{}", old)
    far = edge.headers("jinad.ports.n1", b"{}", ttl_s=3600)
    with pytest.raises(ForbiddenError, match="expired"):
        _check(verifier, "jinad.ports.n1", b"{}", far)


def test_a_forged_key_header_does_not_pass_for_a_trusted_one() -> None:
    edge, stranger = Signer.generate(), Signer.generate()
    headers = stranger.headers("jinad.ports.n1", b"{}") | {signing.KEY: edge.public_key}
    with pytest.raises(ForbiddenError, match="does not match"):
        _check(_verifier(edge), "jinad.ports.n1", b"{}", headers)


def test_the_key_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "edge.nk"
    first = Signer.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Signer.load_or_create(path).public_key == first.public_key
    assert len(public_key_bytes(first.public_key)) == 32


def test_trusted_keys_file(tmp_path: Path) -> None:
    a, b = Signer.generate(), Signer.generate()
    path = tmp_path / "trusted"
    path.write_text(f"# edges of the mesh\n{a.public_key}\n\n{b.public_key}  # the second\n")
    assert read_trusted_keys(path) == {a.public_key, b.public_key}
    path.write_text(f"{a.public_key}\nnot-a-key\n")
    with pytest.raises(FlowConfigError, match=f"{path}:2"):
        read_trusted_keys(path)


def test_nonces_are_forgotten_after_their_expiry() -> None:
    edge = Signer.generate()
    verifier = _verifier(edge)
    for i in range(1100):
        _check(verifier, "jinad.ports.n1", str(i).encode(), edge.headers("jinad.ports.n1", str(i).encode()))
    assert len(verifier._seen) <= 1101  # bounded by the validity window, not by history
    verifier._seen = {n: time.time() - 3600 for n in verifier._seen}
    _check(verifier, "jinad.ports.n1", b"x", edge.headers("jinad.ports.n1", b"x"))
    assert len(verifier._seen) == 1
