"""Bus helpers that need no server."""

from __future__ import annotations

import pytest

from mesh.events.connection import redact, split_servers

pytestmark = pytest.mark.unit


def test_connect_errors_never_show_passwords_or_tokens() -> None:
    assert redact("nats://a:secret@127.0.0.1:4222") == "nats://a:***@127.0.0.1:4222"
    assert redact("nats://s3cr3t-token@h:4222") == "nats://***@h:4222"
    assert redact("nats://h:4222") == "nats://h:4222"


def test_server_lists() -> None:
    assert split_servers("nats://a:1, nats://b:2") == ["nats://a:1", "nats://b:2"]
    assert split_servers(["nats://a:1"]) == ["nats://a:1"]
    with pytest.raises(ValueError, match="no NATS server URL"):
        split_servers(" , ")
