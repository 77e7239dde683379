"""Helpers shared by the ``test_jinad_*`` modules: uploads, and the after-test cleanup check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.waiting import wait_for

__all__ = ["assert_clean", "put_flow", "remove_all_flows", "upload", "write_files"]

# The old name of ``wait_for``, kept only while test_jinad_lifecycle.py still imports it here.


def upload(node: JinadNode, yaml_text: str | bytes, files: dict[str, bytes] | None = None, *,
           field: str = "uses_files", headers: dict[str, str] | None = None,
           timeout_s: float = 60) -> requests.Response:
    """``PUT /flow/yaml`` as the seed does it: multipart ``yamlspec`` plus files by relative path."""
    body = yaml_text.encode() if isinstance(yaml_text, str) else yaml_text
    parts: list[tuple[str, tuple[str, bytes]]] = [("yamlspec", ("flow.yml", body))]
    parts += [(field, (name, data)) for name, data in (files or {}).items()]
    return requests.put(f"{node.url}/flow/yaml", files=parts, headers=headers, timeout=timeout_s)


def put_flow(node: JinadNode, yaml_text: str, files: dict[str, bytes] | None = None) -> dict[str, Any]:
    r = upload(node, yaml_text, files)
    assert r.status_code == 200, r.text
    return dict(r.json())


def write_files(root: Path, files: dict[str, str]) -> dict[str, bytes]:
    """Write ``files`` (relative path -> text) under ``root``; return them as an upload."""
    out = {}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out[name] = path.read_bytes()
    return out


def remove_all_flows(node: JinadNode) -> list[str]:
    """Delete every flow the node's mesh knows (a failed test must not spoil the next one)."""
    flows = node.edge._call("GET", "/flows")["flows"]
    for flow in flows:
        node.edge.delete_flow(flow["flow_id"])
    return [f["flow_id"] for f in flows]


def assert_clean(node: JinadNode, *, timeout_s: float = 5.0) -> None:
    """No flow recorded, no Pea running, and the daemon still answers."""
    assert node.proc.poll() is None, f"jinad exited with {node.proc.returncode}:\n{node.log()[-3000:]}"
    alive = requests.get(f"{node.url}/alive", timeout=5)
    assert alive.status_code == 200 and alive.json()["status_code"] == 200
    left = remove_all_flows(node)
    assert not left, f"flows left behind: {left}"
    wait_for(lambda: not pea_pids_of(node.proc.pid), timeout_s=timeout_s,
             what=f"the Peas of jinad {node.name} to exit")
