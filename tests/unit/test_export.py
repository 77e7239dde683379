"""``mesh export``: Kubernetes manifests validated against the bundled schemas of Kubernetes
1.29 (kubernetes-validate, offline), the Compose file's wiring, and the refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mesh.cli.main import main
from mesh.export.files import MOUNT
from tests.container.support import write_tagger

pytestmark = pytest.mark.unit

K8S_VERSION = "1.29.0"
FLOW = """\
!Flow
version: 1
with:
  port_expose: 41001
  port_http: 41002
pods:
  - name: tag
    uses: exec/tagger.yml
    replicas: 3
    labels: {zone: eu-1, disk: ssd}
  - name: fan
    uses: _pass
    replicas: 2
    polling: all
"""


@pytest.fixture
def flow_yml(tmp_path: Path) -> Path:
    write_tagger(tmp_path / "exec")
    path = tmp_path / "flow.yml"
    path.write_text(FLOW)
    return path


def _export(fmt: str, flow_yml: Path, out: Path, *extra: str) -> None:
    assert main(["export", fmt, str(flow_yml), "-o", str(out), *extra]) == 0


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_kubernetes_manifests_validate_against_1_29(flow_yml: Path, tmp_path: Path) -> None:
    _export("kubernetes", flow_yml, tmp_path / "k8s")
    out = tmp_path / "k8s" / "flow.yaml"
    assert out.stat().st_mode & 0o077 == 0  # it holds the keys
    docs = _docs(out)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    deployments = {n for k, n in kinds if k == "Deployment"}
    assert deployments == {n for k, n in kinds if k == "Service"} == {
        "gateway", "tag-head", "tag-replicas", "tag-tail", "fan-head", "fan-0", "fan-1", "fan-tail"}
    assert ("Secret", "flow-keys") in kinds and ("ConfigMap", "flow-files") in kinds
    by_name = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    tag = by_name["tag-replicas"]["spec"]
    assert tag["replicas"] == 3
    pod = tag["template"]["spec"]
    assert pod["nodeSelector"] == {"zone": "eu-1", "disk": "ssd"}
    container = pod["containers"][0]
    assert container["volumeMounts"] == [{"name": "executor-files", "mountPath": MOUNT, "readOnly": True}]
    assert {i["path"] for i in pod["volumes"][0]["configMap"]["items"]} == {"exec/tagger.yml", "exec/tagger.py"}
    assert container["livenessProbe"]["exec"]["command"][:2] == ["mesh", "ping"]
    assert "tcpSocket" in container["readinessProbe"]
    keys = next(e for e in container["env"] if e["name"] == "MESH_PEA_KEYS")
    assert keys["valueFrom"]["secretKeyRef"]["name"] == "flow-keys"
    secret = next(d for d in docs if d["kind"] == "Secret")["stringData"]["MESH_PEA_KEYS"]
    assert secret not in out.read_text().split("stringData")[0]  # only in the Secret
    assert all(secret not in " ".join(c["args"]) for d in by_name.values()
               for c in d["spec"]["template"]["spec"]["containers"])
    gw = by_name["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gw["readinessProbe"]["httpGet"]["port"] == 41002
    assert by_name["fan-0"]["spec"]["replicas"] == 1


def test_compose_wires_services_by_name_with_keys_in_the_environment(flow_yml: Path, tmp_path: Path) -> None:
    out = tmp_path / "compose.yml"
    _export("compose", flow_yml, out, "--image", "my/mesh:1")
    services = _docs(out)[0]["services"]
    assert services["tag-replicas"]["scale"] == 3
    assert services["gateway"]["ports"] == ["41001:41001", "41002:41002"]
    head = services["tag-head"]
    assert head["image"] == "my/mesh:1"
    assert head["healthcheck"]["test"][:3] == ["CMD", "mesh", "ping"]
    assert services["tag-replicas"]["volumes"] == [f"{tmp_path}:{MOUNT}:ro"]
    import orjson

    replica = orjson.loads(services["tag-replicas"]["command"][1])
    assert replica["uses"] == f"{MOUNT}/exec/tagger.yml" and "keys" not in replica
    assert replica["inputs"][0]["addresses"][0].startswith("tag-head:")
    fan_head = orjson.loads(services["fan-head"]["command"][1])
    hosts = {a.split(":")[0] for s in fan_head["outputs"] for a in s["addresses"]}
    assert hosts == {"fan-0", "fan-1"}
    assert all(len(s["environment"]["MESH_PEA_KEYS"]) > 64 for s in services.values())


@pytest.mark.parametrize(("args", "message"), [
    (["export", "helm", "{flow}"], "unknown export format 'helm'"),
    (["export", "compose", "{missing}"], "Flow YAML file not found"),
    (["export", "kubernetes", "{remote}"], "pod 'far' has host: 'n2'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, flow_yml: Path, args: list[str],
                                         message: str) -> None:
    remote = tmp_path / "remote.yml"
    remote.write_text("!Flow\nversion: 1\npods:\n  - name: far\n    host: n2\n")
    argv = [a.format(flow=flow_yml, missing=tmp_path / "nope.yml", remote=remote) for a in args]
    proc = subprocess.run([sys.executable, "-m", "mesh.cli.main", *argv], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_a_pods_restart_policy_becomes_the_compose_restart() -> None:
    from mesh.export.common import Unit
    from mesh.export.compose import _restart
    from mesh.flow.spec import PodSpec
    from mesh.runtime.config import PeaConfig

    cfg = PeaConfig(name="p/0", pod="p", port_ctrl=50001)
    assert _restart(Unit(name="p", kind="pea", config=cfg, image="i", pod=PodSpec(name="p"))) == "on-failure:5"
    off = PodSpec(name="p", restart={"attempts": 0})
    assert _restart(Unit(name="p", kind="pea", config=cfg, image="i", pod=off)) == "no"
    assert _restart(Unit(name="gateway", kind="gateway", config=cfg, image="i")) == "on-failure"
