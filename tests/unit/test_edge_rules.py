"""The edge's rules without a running node: who needs a token, how it is read, what the
allow-lists let through, and that the OpenAPI document describes every route."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from mesh.errors import FlowConfigError, ForbiddenError
from mesh.flow.spec import PodSpec
from mesh.http.app import create_app
from mesh.http.openapi import build_document
from mesh.http.policy import EdgePolicy
from mesh.http.startable import check_startable
from mesh.http.tokens import TOKEN_FILE, edge_access, is_loopback, parse_bearer

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
    ("node.example", False),
])
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc ", "abc"), ("Basic abc", None),
    ("abc", None), ("Bearer ", None), ("", None),
])
def test_bearer(header: str, token: str | None) -> None:
    assert parse_bearer(header) == token


def test_the_token_is_given_made_once_or_not_needed(tmp_path: Path) -> None:
    assert edge_access(host="0.0.0.0", token="t", insecure=False, state_dir=tmp_path).token == "t"
    assert edge_access(host="127.0.0.1", token=None, insecure=False, state_dir=tmp_path).token is None
    assert edge_access(host="0.0.0.0", token=None, insecure=True, state_dir=tmp_path).token is None
    assert not (tmp_path / TOKEN_FILE).exists()

    made = edge_access(host="0.0.0.0", token=None, insecure=False, state_dir=tmp_path / "s")
    assert made.source == "generated" and made.token and len(made.token) >= 32
    path = tmp_path / "s" / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and made.token not in repr(made)
    again = edge_access(host="10.0.0.5", token=None, insecure=False, state_dir=tmp_path / "s")
    assert (again.source, again.token) == ("stored", made.token)

    path.chmod(0o644)  # loosened by hand: tightened again
    edge_access(host="0.0.0.0", token=None, insecure=False, state_dir=tmp_path / "s")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_allow_lists() -> None:
    policy = EdgePolicy(allow_uses=("myorg.*", "exec/*.yml"), allow_images=("reg.local/*",))
    policy.check_pods([PodSpec(name="a", uses="myorg.enc:Enc"), PodSpec(name="b", uses="exec/x.yml"),
                       PodSpec(name="c", uses="_logforward", replicas=2, uses_before="_pass"),
                       PodSpec(name="d", uses="myorg.x:Y", image="reg.local/team:1")])
    for pod, field in [(PodSpec(name="p", uses="evil:X"), "uses"),
                       (PodSpec(name="p", uses="_pass", replicas=2, uses_after="Myorg.x:Y"), "uses_after"),
                       (PodSpec(name="p", uses="myorg.x:Y", image="docker.io/evil"), "image")]:
        with pytest.raises(ForbiddenError) as info:
            policy.check_pods([pod])
        assert info.value.detail["field"] == field and info.value.status == 403
    with pytest.raises(ForbiddenError):
        policy.check_peas("p", [{"kind": "pea", "uses": "evil:X"}])
    policy.check_peas("p", [{"kind": "gateway"}, {"kind": "pea", "uses": "myorg.a:B"}])
    EdgePolicy().check_pods([PodSpec(uses="anything:Goes", image="any/image")])  # no rules
    EdgePolicy().check_uploads({"a.py": b""})
    with pytest.raises(ForbiddenError):
        EdgePolicy(no_uploads=True).check_uploads({"a.py": b""})
    EdgePolicy(no_uploads=True).check_uploads({})


def test_what_no_node_could_start() -> None:
    check_startable([PodSpec(name="p", env={"A": "1"}, uses_with={"k": "v"})])
    for pod, field in [(PodSpec(name="p", uses_with={"blob": "x" * 800_000}), "uses_with"),
                       (PodSpec(name="p", uses_with={"blob": "x" * 200_000}, replicas=4), "uses_with")]:
        with pytest.raises(FlowConfigError) as info:
            check_startable([pod])
        assert info.value.detail["field"] == field, pod
    for bad in ({"env": {"A=B": "1"}}, {"env": {"A": "x\0y"}}, {"env": {"": "1"}},
                {"timeout_ready_s": float("inf")}, {"timeout_ready_s": 86401}):
        with pytest.raises(ValidationError, match=next(iter(bad))):  # the pod model's own rule
            PodSpec(name="p", **bad)


def _app(token: str | None) -> object:
    return create_app(name=f"rules-{bool(token)}", address="127.0.0.1", version="9.9.9", token=token,
                      max_upload_bytes=1024, default_lease_s=5)


def test_the_openapi_document_describes_every_route() -> None:
    app = _app("t")
    doc = build_document(app)  # type: ignore[arg-type]
    assert doc["openapi"] == "3.1.0" and doc["security"] == [{"bearer": []}]
    documented = {(m.upper(), p) for p, ms in doc["paths"].items() for m in ms}
    routes = {(m, "/" + re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", r.path))
              for r in app.router.routes for m in r.methods  # type: ignore[attr-defined]
              if not r.extra.websocket}
    # the API document's own page and the dashboard's page and files are not API
    assert {(m, p) for m, p in routes if not p.startswith(("/docs", "/ui"))} == documented
    schemas = doc["components"]["schemas"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op["responses"]["200"]["content"], (method, path)
            for status, answer in op["responses"].items():
                if status != "200":
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorEnvelope", (method, path, status)
            open_ = path in ("/alive", "/health", "/ready")
            assert ("401" in op["responses"]) is not open_, (method, path)
            assert (op.get("security") == []) is open_, (method, path)
    assert {"PodRequest", "PortsBody", "ErrorEnvelope", "FlowBody", "AliveBody"} <= set(schemas)
    form = doc["paths"]["/flow/yaml"]["put"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["required"] == ["yamlspec"]
    open_doc = build_document(_app(None))  # type: ignore[arg-type]
    assert "security" not in open_doc and "securitySchemes" not in open_doc["components"]
    assert "401" not in open_doc["paths"]["/nodes"]["get"]["responses"]
