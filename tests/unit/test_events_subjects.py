"""Every jinad.* subject comes from mesh.events.subjects, and bad names never reach NATS."""

from __future__ import annotations

import pytest

from mesh.events import subjects

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["pod0", "my-pod_1", "gateway", "a=b", "Ünïcode", "$x"])
def test_valid_tokens_pass(name: str) -> None:
    assert subjects.validate_token(name) == name


@pytest.mark.parametrize("name", ["", "a.b", "x>", "*", "a b", "tab\there", "new\nline", "cr\r"])
def test_invalid_tokens_name_the_value(name: str) -> None:
    with pytest.raises(ValueError, match="subject token") as info:
        subjects.validate_token(name)
    assert repr(name) in str(info.value)


def test_non_string_token_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        subjects.validate_token(None)  # type: ignore[arg-type]


def test_slash_is_mapped_reversibly() -> None:
    tok = subjects.token("enc/head")
    assert tok == "enc~head"
    assert subjects.untoken(tok) == "enc/head"
    assert subjects.logs("f1", "enc/head", "enc/head/0") == "jinad.logs.f1.enc~head.enc~head~0"


def test_tilde_in_a_name_is_rejected_to_keep_the_mapping_reversible() -> None:
    with pytest.raises(ValueError, match="'~'"):
        subjects.token("a~b")


def test_subject_tree() -> None:
    assert subjects.spawn("node-1") == "jinad.spawn.node-1"
    assert subjects.SPAWN_ANY == "jinad.spawn.any"
    assert subjects.kill("f1") == "jinad.kill.f1"
    assert subjects.kill("f1", "pod0") == "jinad.kill.f1.pod0"
    assert subjects.KILL_ALL == "jinad.kill.>"
    assert subjects.logs("f1", "pod0", "pod0/1") == "jinad.logs.f1.pod0.pod0~1"
    assert subjects.LOGS_ALL == "jinad.logs.>"
    assert subjects.logs_for("f1") == "jinad.logs.f1.>"
    assert subjects.logs_for("f1", "pod0") == "jinad.logs.f1.pod0.*"
    assert subjects.events("f1") == "jinad.events.f1"
    assert subjects.EVENTS_ALL == "jinad.events.>"
    assert subjects.ports("node-1") == "jinad.ports.node-1"


@pytest.mark.parametrize(
    "build", [
        lambda: subjects.spawn("a.b"), lambda: subjects.kill("f", "x>"), lambda: subjects.kill("*"),
        lambda: subjects.logs("f", "p", ""), lambda: subjects.logs_for("f", "a b"),
        lambda: subjects.events("f.1"),
    ],
)
def test_every_builder_validates(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_node_named_any_would_clash_with_spawn_any() -> None:
    with pytest.raises(ValueError, match="reserved"):
        subjects.spawn("any")
