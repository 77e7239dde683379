"""Signing and checking control commands; the keys in Pea configs and how they travel."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mesh.runtime.config import GatewayConfig, PeaConfig, config_from_dict, config_to_dict
from mesh.runtime.ctrl_auth import VALIDITY_S, Verifier, check_proof, proof, sign
from mesh.runtime.keys import KEYS_ENV, MeshKeys, keys_from_env, new_keys

pytestmark = pytest.mark.unit

KEY = "ab" * 32
NOW = 1_800_000_000.0


def _verifier(**kwargs: float) -> Verifier:
    return Verifier(KEY, pea="p", started=NOW - 60, **kwargs)


def test_a_signed_command_is_taken_once() -> None:
    verifier = _verifier()
    body = sign(KEY, "terminate", pea="p", now=NOW)
    assert verifier.refusal(body, now=NOW + 1) is None
    assert verifier.refusal(body, now=NOW + 2) == "it is a replay of a command already received"


@pytest.mark.parametrize("change, reason", [
    (lambda b: b.pop("mac"), "it is not signed with the Flow's key"),
    (lambda b: b.update(mac="00" * 32), "its signature is not the Flow's key's"),
    (lambda b: b.update(cmd="status"), "its signature is not the Flow's key's"),  # the MAC covers cmd
    (lambda b: b.update(ts_ms=b["ts_ms"] + 1), "its signature is not the Flow's key's"),
    (lambda b: b.update(ts_ms="1"), "it is not signed with the Flow's key"),
])
def test_a_changed_or_unsigned_command_is_refused(change, reason) -> None:  # type: ignore[no-untyped-def]
    body = sign(KEY, "terminate", pea="p", now=NOW)
    change(body)
    assert _verifier().refusal(body, now=NOW) == reason


def test_a_command_for_another_pea_or_under_another_key_is_refused() -> None:
    assert _verifier().refusal(sign(KEY, "terminate", pea="q", now=NOW), now=NOW) == \
        "it is signed for 'q', not for this Pea"
    assert _verifier().refusal(sign("cd" * 32, "terminate", pea="p", now=NOW), now=NOW) == \
        "its signature is not the Flow's key's"


@pytest.mark.parametrize("age_s", [VALIDITY_S + 1, -(VALIDITY_S + 1)])
def test_a_command_outside_the_window_is_refused(age_s: float) -> None:
    body = sign(KEY, "terminate", pea="p", now=NOW - age_s)
    assert "more than 30 s from this Pea's clock" in (_verifier().refusal(body, now=NOW) or "")


def test_a_command_signed_before_the_pea_started_is_refused() -> None:
    """A restarted Pea (same name, same key) remembers no nonces: the start time stands in."""
    body = sign(KEY, "terminate", pea="p", now=NOW - 5)
    restarted = Verifier(KEY, pea="p", started=NOW - 1)
    assert restarted.refusal(body, now=NOW) == \
        "it was signed before this Pea started (a replay, or clocks that differ)"


def test_nonces_are_forgotten_after_the_window() -> None:
    verifier = _verifier()
    for i in range(100):
        assert verifier.refusal(sign(KEY, "terminate", pea="p", now=NOW + i), now=NOW + i) is None
    assert len(verifier._seen) <= VALIDITY_S + 1


def test_a_pea_without_a_key_obeys_nothing_but_status() -> None:
    verifier = Verifier(None, pea="p", started=0)
    assert "holds no control key" in (verifier.refusal(sign(KEY, "terminate", pea="p")) or "")


def test_an_open_command_needs_only_a_valid_signature_for_its_proof() -> None:
    """The ready wait signs its status before the Pea starts, answered whenever it is ready."""
    body = sign(KEY, "status", pea="p", now=NOW - 3600)
    assert _verifier().unsigned(body) is None
    reply = {"ok": True, "cmd": "status", "pea": "p"}
    reply["proof"] = proof(KEY, body["nonce"], reply)
    assert check_proof(KEY, body, reply)
    assert not check_proof(KEY, body, {**reply, "pea": "impostor"})
    assert not check_proof("cd" * 32, body, reply)
    assert not check_proof(KEY, body, {"ok": True, "cmd": "status", "pea": "p"})


def test_keys_never_show_in_a_repr_or_on_the_command_line() -> None:
    keys = new_keys(encrypt_data=True)
    cfg = PeaConfig(name="p", pod="p", port_ctrl=5555, keys=keys, env={"A": "1"})
    for secret in (keys.ctrl, keys.curve_server_secret, keys.curve_client_secret):
        assert secret not in repr(cfg) and secret not in repr(keys)
        assert secret not in cfg.to_json()
    assert cfg.env[KEYS_ENV] == keys.to_env()  # the launchers pass env on to the Pea
    environ = {**cfg.env}
    assert keys_from_env(environ) == keys
    assert environ == {"A": "1"}  # taken out of the Pea's environment


@pytest.mark.parametrize("kind", [PeaConfig, GatewayConfig])
def test_keys_travel_with_a_config_to_a_node(kind: type) -> None:
    keys = new_keys()
    cfg = (kind(name="p", pod="p", port_ctrl=5555, keys=keys) if kind is PeaConfig
           else kind(port_expose=5556, port_ctrl=5555, keys=keys))
    data = config_to_dict(cfg)
    assert data["keys"]["ctrl"] == keys.ctrl and KEYS_ENV not in data["env"]  # once, not twice
    again = config_from_dict(data)
    assert again == cfg and again.keys == keys and KEYS_ENV in again.env


def test_new_keys_make_curve_pairs_only_for_encrypted_flows() -> None:
    assert not new_keys().encrypt and new_keys().curve_server_public == ""
    keys = new_keys(encrypt_data=True)
    assert keys.encrypt and len(keys.curve_server_public) == 40  # Z85 of 32 bytes
    assert keys.curve_server_public != keys.curve_client_public
    assert new_keys().ctrl != new_keys().ctrl and len(bytes.fromhex(new_keys().ctrl)) == 32
    assert MeshKeys.from_data(None) is None


def test_the_pea_start_path_does_not_import_hashlib() -> None:
    """A Pea imports the HMAC code only when a signed command arrives (hashlib costs ms)."""
    code = ("import sys, mesh.runtime.entry, mesh.runtime.pea, mesh.runtime.gateway\n"
            "print(sorted(m for m in ('hashlib', 'hmac', 'mesh.runtime.ctrl_auth') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
