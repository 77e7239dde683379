"""jinad's settings: every field is a flag and an environment variable, reaches the component
that uses it, and is listed in the README exactly as ``jinad --help`` shows it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from mesh import __version__
from mesh.agents.agent import Agent
from mesh.daemon.broker import NatsServer
from mesh.daemon.flags import build_parser, flag_table, flags, load_settings
from mesh.daemon.main import main
from mesh.daemon.node import Wiring, wire
from mesh.daemon.settings import Settings
from mesh.events.bus import Bus
from mesh.flow.spec import PodSpec
from mesh.http.app import create_app
from mesh.scheduler.deployer import Deployer

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"

# A value for every setting, none of them a default, no two alike.
DISTINCT: dict[str, Any] = {
    "host": "10.1.2.3", "port": 18001, "name": "node-under-test", "advertise_host": "10.9.9.9",
    "labels": {"zone": "zone-under-test"}, "state_dir": Path("/tmp/jinad-state-under-test"),
    "token": "token-under-test", "insecure": True, "tls_cert": Path("/tmp/tls-cert-under-test"),
    "tls_key": Path("/tmp/tls-key-under-test"), "allow_uses": ["uses-under-test.*"],
    "allow_images": ["image-under-test/*"], "no_uploads": True, "no_metrics": True,
    "nats": "nats://10.7.7.7:4299", "nats_port": 14222,
    "nats_user": "user-under-test", "nats_password": "password-under-test",
    "nats_token": "nats-token-under-test", "nats_creds": "/tmp/creds-under-test",
    "nats_listen": "10.4.4.4", "nats_edge_user": "edge-user-under-test",
    "nats_edge_password": "edge-password-under-test", "nats_edge_creds": "/tmp/edge-creds-under-test",
    "nats_tls_ca": "/tmp/ca-under-test", "nats_tls_cert": "/tmp/cert-under-test",
    "nats_tls_key": "/tmp/key-under-test", "nats_replicas": 4, "heartbeat_interval_s": 1.25,
    "node_ttl_s": 7.5, "ready_timeout_s": 42.5, "spawn_timeout_s": 77.5, "stop_grace_s": 4.25,
    "lease_s": 9.75, "log_max_age_s": 3601.5, "log_max_bytes": 123457, "max_upload_bytes": 654321,
    "log_level": "DEBUG", "trusted_keys": Path("/tmp/trusted-keys-under-test"),
}

# Where each setting is used: (component of the Wiring, keyword argument of that component).
USED_BY: dict[str, tuple[str, str]] = {
    "host": ("server", "host"), "port": ("server", "port"), "name": ("agent", "name"),
    "advertise_host": ("agent", "address"), "labels": ("agent", "labels"),
    "state_dir": ("agent", "state_dir"), "token": ("edge", "token"),
    "insecure": ("edge", "insecure"), "tls_cert": ("server", "ssl.cert"),
    "tls_key": ("server", "ssl.key"), "allow_uses": ("edge", "allow_uses"),
    "allow_images": ("edge", "allow_images"), "no_uploads": ("edge", "no_uploads"),
    "no_metrics": ("edge", "no_metrics"),
    "nats": ("nats_url", ""), "nats_port": ("broker", "port"), "nats_user": ("bus", "user"),
    "nats_password": ("bus", "password"), "nats_token": ("bus", "token"),
    "nats_creds": ("bus", "creds"), "nats_tls_ca": ("bus", "tls_ca"),
    "nats_listen": ("broker", "host"), "nats_edge_user": ("edge_bus", "user"),
    "nats_edge_password": ("edge_bus", "password"), "nats_edge_creds": ("edge_bus", "creds"),
    "nats_tls_cert": ("bus", "tls_cert"), "nats_tls_key": ("bus", "tls_key"),
    "nats_replicas": ("agent", "nats_replicas"),
    "heartbeat_interval_s": ("agent", "heartbeat_interval_s"),
    "node_ttl_s": ("agent", "node_ttl_s"), "ready_timeout_s": ("deployer", "ready_timeout_s"),
    "spawn_timeout_s": ("deployer", "spawn_timeout_s"), "stop_grace_s": ("agent", "stop_grace_s"),
    "lease_s": ("edge", "default_lease_s"), "log_max_age_s": ("agent", "log_max_age_s"),
    "log_max_bytes": ("agent", "log_max_bytes"), "max_upload_bytes": ("edge", "max_upload_bytes"),
    "log_level": ("log_level", ""), "trusted_keys": ("agent", "trusted_keys_file"),
}


@pytest.fixture
def wiring() -> Wiring:
    return wire(Settings(**DISTINCT), version="9.9.9")


def _arrived(wiring: Wiring, component: str, key: str) -> Any:
    """``key`` may name a nested entry: ``ssl.cert`` is ``server["ssl"]["cert"]``."""
    part = getattr(wiring, component)
    for name in key.split(".") if key else []:
        part = part[name]
    return part


def test_the_test_values_are_distinct_and_not_defaults() -> None:
    assert set(DISTINCT) == set(Settings.model_fields), "give every setting a value in DISTINCT"
    defaults = Settings()
    for name, value in DISTINCT.items():
        assert getattr(defaults, name) != value, name
    values = [v for v in DISTINCT.values() if not isinstance(v, bool)]  # a switch has one
    assert len({repr(v) for v in values}) == len(values)  # value besides its default


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_reaches_the_component_that_uses_it(wiring: Wiring, name: str) -> None:
    assert name in USED_BY, f"setting {name!r} is used by no component (wire it in node.wire)"
    component, key = USED_BY[name]
    assert _arrived(wiring, component, key) == DISTINCT[name], (name, component, key)


def test_every_setting_has_a_description() -> None:
    for name, info in Settings.model_fields.items():
        assert info.description, f"setting {name!r} has no description (its --help line)"


def test_the_wiring_fits_the_components_signatures(wiring: Wiring) -> None:
    """The keyword arguments are the ones each constructor takes (nothing is built)."""
    inspect.signature(Agent).bind(bus=None, **wiring.agent)
    inspect.signature(Deployer).bind(bus=None, nodes=None, flows=None, **wiring.deployer)
    inspect.signature(NatsServer).bind(**wiring.broker)
    inspect.signature(Bus.connect).bind("nats://x", name="x", **wiring.bus)
    inspect.signature(Bus.connect).bind("nats://x", name="x", **wiring.edge_bus)
    inspect.signature(create_app).bind(**wiring.edge)
    inspect.signature(Sanic.run).bind(None, **wiring.server)
    assert wiring.broker["store_dir"] == DISTINCT["state_dir"] / "nats"
    assert wiring.edge["address"] == wiring.agent["address"] == DISTINCT["advertise_host"]
    assert wiring.deployer["node"] == wiring.edge["name"] == DISTINCT["name"]


def test_the_edge_context_carries_the_edge_settings(wiring: Wiring) -> None:
    ctx = create_app(**wiring.edge).ctx
    assert (ctx.name, ctx.address, ctx.version) == (DISTINCT["name"], DISTINCT["advertise_host"], "9.9.9")
    assert (ctx.max_upload_bytes, ctx.default_lease_s) == (DISTINCT["max_upload_bytes"], DISTINCT["lease_s"])
    assert ctx.metrics is not DISTINCT["no_metrics"]


def _deployer(ready_timeout_s: float) -> Deployer:
    return Deployer(bus=None, node="n", nodes=None, flows=None, spawn_timeout_s=90,  # type: ignore[arg-type]
                    files=object(), ready_timeout_s=ready_timeout_s)  # type: ignore[arg-type]


def test_the_ready_deadline_is_the_pods_own_or_the_nodes() -> None:
    deployer = _deployer(42.5)
    assert deployer._ready_s(PodSpec(uses="_pass")) == 42.5
    assert deployer._ready_s(PodSpec(uses="_pass", timeout_ready_s=3)) == 3
    assert deployer._ready_s(PodSpec(uses="_pass", timeout_ready_s=30)) == 30  # set, if the default


# -- flags and environment variables ------------------------------------------------------------
def test_one_flag_and_one_env_var_per_field() -> None:
    parser_flags = {s for a in build_parser()._actions for s in a.option_strings if s.startswith("--")}
    assert parser_flags == {f.flag for f in flags()} | {"--help", "--version"}
    assert [f.env for f in flags()] == [f"JINAD_{n.upper()}" for n in Settings.model_fields]
    assert [f.flag for f in flags()] == ["--" + n.replace("_", "-") for n in Settings.model_fields]


def test_flag_beats_env_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JINAD_LEASE_S", "5")
    monkeypatch.setenv("JINAD_LOG_LEVEL", "debug")
    s = load_settings(["--lease-s", "7", "--labels", "zone=a", "gpu=1"])
    assert (s.lease_s, s.log_level, s.labels) == (7.0, "DEBUG", {"zone": "a", "gpu": "1"})
    assert load_settings([]).lease_s == 5.0
    monkeypatch.delenv("JINAD_LEASE_S")
    assert load_settings([]).lease_s == Settings.model_fields["lease_s"].default
    monkeypatch.setenv("JINAD_LABELS", '{"zone": "b"}')
    assert load_settings([]).labels == {"zone": "b"}


@pytest.mark.parametrize(("argv", "env", "words"), [
    (["--port", "abc"], {}, "--port (JINAD_PORT): Input should be a valid integer"),
    (["--labels", "zone"], {}, "argument --labels: 'zone' must look like key=value"),
    ([], {"JINAD_LOG_LEVEL": "loud"}, "--log-level (JINAD_LOG_LEVEL): Input should be"),
    (["--ready-timeout-s", "-1"], {}, "--ready-timeout-s (JINAD_READY_TIMEOUT_S): Input should be greater"),
    (["--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
])
def test_a_bad_value_is_one_line_and_exit_code_2(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                argv: list[str], env: dict[str, str], words: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("jinad: error: ") and err.count("\n") == 1 and words in err, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_help_lists_every_flag_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for f in flags():
        assert f.flag in text and " ".join(f.help.split()) in text and f.env in text, f.flag


def test_the_readme_table_is_the_help() -> None:
    readme = README.read_text()
    listed = re.findall(r"^\| `(--[a-z-]+)` \|", readme, flags=re.M)
    assert listed == [f.flag for f in flags()] + ["--version"]
    assert flag_table() in readme, "paste mesh.daemon.flags.flag_table() into the README:\n" + flag_table()


def test_the_edge_connection_has_the_node_connection_s_login_unless_given_its_own() -> None:
    """An operator's broker with one user for both keeps working: --nats-edge-* fall back."""
    s = {k: v for k, v in DISTINCT.items() if not k.startswith("nats_edge_")}
    bus = wire(Settings(**s), version="9.9.9").edge_bus
    assert (bus["user"], bus["password"], bus["creds"]) == (
        DISTINCT["nats_user"], DISTINCT["nats_password"], DISTINCT["nats_creds"])
    assert Settings().nats_listen == "127.0.0.1"  # the embedded broker is private by default
