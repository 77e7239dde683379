"""``GET /flow/{id}/export`` on a real jinad: a running Flow as a Compose file or as
Kubernetes manifests (validated against the Kubernetes 1.29 schemas); bad formats and
unknown flows are 4xx envelopes."""

from __future__ import annotations

import pytest
import requests
import yaml

from tests.fixtures.jinad import JinadNode
from tests.integration.jinad_support import put_flow

pytestmark = pytest.mark.integration

FLOW = "!Flow\nversion: 1\npods:\n  - name: enc\n    replicas: 2\n  - name: idx\n    uses: _logforward\n"


def test_a_running_flow_exports_to_compose_and_kubernetes(node: JinadNode) -> None:
    import kubernetes_validate

    flow_id = put_flow(node, FLOW)["flow_id"]
    try:
        r = requests.get(f"{node.url}/flow/{flow_id}/export", params={"format": "compose"}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/yaml")
        compose = yaml.safe_load(r.text)
        services = set(compose["services"])
        assert "gateway" in services and any(s.startswith("enc") for s in services)
        assert any(s.startswith("idx") for s in services)
        r = requests.get(f"{node.url}/flow/{flow_id}/export", params={"format": "kubernetes"},
                         timeout=30)
        assert r.status_code == 200, r.text
        docs = [d for d in yaml.safe_load_all(r.text) if d]
        kinds = {d["kind"] for d in docs}
        assert {"Deployment", "Service", "Secret"} <= kinds, kinds
        for doc in docs:
            kubernetes_validate.validate(doc, "1.29.0", strict=True)
        bad = requests.get(f"{node.url}/flow/{flow_id}/export", params={"format": "swarm"}, timeout=10)
        assert bad.status_code == 400 and "swarm" in bad.json()["message"]
    finally:
        requests.delete(f"{node.url}/flow", params={"flow_id": flow_id}, timeout=30)
    missing = requests.get(f"{node.url}/flow/no-such-flow/export", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"
