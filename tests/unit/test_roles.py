"""The mesh's NATS roles as permissions, the users file of the embedded broker, and the shipped
deploy/nats/auth.conf (written from the same roles)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mesh.daemon.authconf import render
from mesh.daemon.credentials import Credentials
from mesh.daemon.roles import inbox_prefix, permissions
from mesh.errors import ConflictError, NotFoundError

pytestmark = pytest.mark.unit

AUTH_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "auth.conf"


def test_the_shipped_auth_conf_is_the_roles() -> None:
    assert AUTH_CONF.read_text() == render(["n1", "n2", "n3"]), \
        "regenerate it: python -m mesh.daemon.authconf n1 n2 n3 > deploy/nats/auth.conf"


def test_a_node_serves_its_own_name_and_commands_nobody() -> None:
    p = permissions("node", user="node-a", node="a")
    assert p["subscribe"]["allow"] == ["jinad.spawn.a", "jinad.spawn.any", "jinad.ports.a",
                                       "jinad.kill.>", "jinad.cordon.a", "_INBOX.node-a.>"]
    publish = p["publish"]["allow"]
    assert not [s for s in publish if s.startswith(("jinad.spawn", "jinad.kill", "jinad.ports",
                                                    "_INBOX", "$KV.jinad_flows", "$O."))]
    assert [s for s in publish if s.startswith("$KV.")] == ["$KV.jinad_nodes.a"]
    assert not [s for s in publish if ".UPDATE." in s or ".DELETE.KV" in s or ".PURGE." in s]
    assert p["allow_responses"] is True  # it answers without publishing on _INBOX.>


def test_an_edge_commands_and_a_log_reader_reads() -> None:
    edge = permissions("edge", user="edge-a")
    assert {"jinad.spawn.*", "jinad.kill.>", "jinad.ports.*", "$KV.jinad_flows.>",
            "$O.jinad_files.>"} <= set(edge["publish"]["allow"])
    assert "$KV.jinad_nodes.>" not in edge["publish"]["allow"] and "allow_responses" not in edge
    logs = permissions("logs", user="logs")
    assert logs["subscribe"]["allow"] == ["jinad.logs.>", "jinad.events.>", "_INBOX.logs.>"]
    assert all(s.startswith(("$JS.API.", "$JS.FC.", "$JS.ACK.")) for s in logs["publish"]["allow"])
    assert all("JINAD_LOGS" in s or "JINAD_EVENTS" in s or s.endswith((".INFO", ".NAMES"))
               for s in logs["publish"]["allow"])


def test_inbox_prefixes_are_per_identity() -> None:
    assert inbox_prefix("node-a") == "_INBOX.node-a"
    # the users made while rotating keep the first one's inbox, and only theirs
    assert inbox_prefix("node-a-2", role="node", node="a") == "_INBOX.node-a"
    assert inbox_prefix("edge-a-13", role="edge", node="a") == "_INBOX.edge-a"
    assert inbox_prefix("node-a-2", role="node", node="a-2") == "_INBOX.node-a-2"
    assert inbox_prefix("node-a-x", role="node", node="a") == "_INBOX.node-a-x"
    assert inbox_prefix("node-a-2", role="edge", node="a") == "_INBOX.node-a-2"
    assert inbox_prefix("logs-2", role="logs") == "_INBOX.logs-2"
    second = permissions("node", user="node-a-2", node="a")
    assert "_INBOX.node-a.>" in second["subscribe"]["allow"]
    assert not any(s.startswith("_INBOX.node-a-2") for s in second["subscribe"]["allow"])
    assert inbox_prefix(None) is None and inbox_prefix("a.b") is None  # not one token
    with pytest.raises(ValueError, match="one subject token"):
        permissions("logs", user="two words")


def test_users_are_made_once_kept_private_added_and_removed(tmp_path: Path) -> None:
    creds = Credentials(tmp_path)
    own = creds.own("alpha")
    assert {r: u.user for r, u in own.items()} == {"node": "node-alpha", "edge": "edge-alpha",
                                                   "logs": "logs"}
    assert creds.own("alpha") == own  # the same users (and passwords) on every start
    for path in (creds.path, creds.conf_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert own["node"].password not in repr(own["node"])

    node, edge = creds.add_node("beta")
    assert (node.user, edge.user, node.node) == ("node-beta", "edge-beta", "beta")
    with pytest.raises(ConflictError, match="has NATS users already"):
        creds.add_node("beta")
    assert creds.add_node("beta", rotate=True)[0].user == "node-beta-2"
    assert creds.mine("alpha") == {"node-alpha", "edge-alpha", "logs"}
    creds.remove(["node-beta", "edge-beta"])
    assert {u.user for u in creds.users()} == {"node-alpha", "edge-alpha", "logs", "node-beta-2",
                                               "edge-beta-2"}
    conf = creds.conf_path.read_text()
    assert '"node-beta-2"' in conf and '"node-beta"' not in conf
    with pytest.raises(NotFoundError, match="no NATS user nobody"):
        creds.remove(["nobody"])
    [logs] = creds.rotate(["logs"])
    assert logs.password != own["logs"].password and logs.password in creds.conf_path.read_text()
