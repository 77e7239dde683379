"""The mesh tests' Flow helpers: YAML of pods, the seed's HTTP calls against one node of a
``Mesh``, and what "nothing left" means (the ``clean`` fixture of ``conftest.py`` checks it)."""

from __future__ import annotations

from typing import Any

import requests

from tests.mesh.conftest import EDGE_PORT, Mesh

__all__ = ["assert_nothing_left", "delete_flow", "flow_ids", "flow_yaml", "get_flow",
           "pea_pids", "pod_yaml", "put_flow"]


def flow_yaml(*pods: str) -> str:
    return "!Flow\nversion: 1\npods:\n" + "".join(pods)


def pod_yaml(name: str, uses: str = "_logforward", **where: Any) -> str:
    text = f"  - name: {name}\n    uses: {uses}\n"
    for key, value in where.items():
        if isinstance(value, dict):
            text += f"    {key}:\n" + "".join(f"      {k}: {v}\n" for k, v in value.items())
        else:
            text += f"    {key}: {value}\n"
    return text


def put_flow(mesh: Mesh, node: str, yaml_text: str,
             files: list[tuple[str, tuple[str, bytes]]] = ()) -> requests.Response:  # type: ignore[assignment]
    """The seed's ``create_flow``: a multipart upload in the field ``yamlspec`` (and files)."""
    url = f"http://{mesh[node].ip}:{EDGE_PORT}/flow/yaml/"
    parts = [("yamlspec", ("flow.yml", yaml_text.encode())), *files]
    return requests.put(url, files=parts, timeout=60)


def get_flow(mesh: Mesh, node: str, flow_id: str) -> requests.Response:
    return requests.get(f"http://{mesh[node].ip}:{EDGE_PORT}/flow/{flow_id}", timeout=10)


def delete_flow(mesh: Mesh, node: str, flow_id: str) -> requests.Response:
    return requests.delete(f"http://{mesh[node].ip}:{EDGE_PORT}/flow",
                           params={"flow_id": flow_id}, timeout=60)


def flow_ids(mesh: Mesh, node: str) -> list[str]:
    body = requests.get(f"http://{mesh[node].ip}:{EDGE_PORT}/flows", timeout=10).json()
    return [f["flow_id"] for f in body["flows"]]


def pea_pids(record: dict[str, Any]) -> dict[str, set[int]]:
    """Pids of the flow's Peas by node, from its record (the gateway's included)."""
    out: dict[str, set[int]] = {}
    for pod in record["pods"]:
        out.setdefault(pod["node"], set()).update(p["pid"] for p in pod["peas"])
    return out


def assert_nothing_left(mesh: Mesh) -> None:
    """No Pea on any node, no flow record or uploaded file in the mesh, no workspace."""
    assert mesh.peas() == {name: [] for name in mesh.nodes}
    assert flow_ids(mesh, "A") == []
    assert mesh.stored() == {"jinad_flows": [], "jinad_files": []}
    for node in mesh.nodes.values():
        workspace = node.jinad.state_dir / "workspace"
        assert not workspace.exists() or not any(workspace.iterdir()), node.name
