"""``mesh deploy FLOW.yml --host H`` and ``mesh delete FLOW --host H``: remote Flows without curl.

``deploy`` uploads the Flow YAML with the files it references (executor YAMLs by their paths
relative to the Flow file, and the ``py_modules`` those name), as ``PUT /flow/yaml`` takes
them. While the PUT waits, a thread shows each pod's progress: placed (the Flow's record
names its node), starting (its first lifecycle event), ready (each of its Peas ready), from
``GET /flows`` and ``GET /events/{id}?follow=1`` (from a jinad without it, the log stream
``GET /logs/{id}?follow=1``: a Pea's "ready and listening" line).
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mesh.cli.flows_cmd import gateway_of
from mesh.cli.jinad_args import add_edge_args, edge_client, edge_errors
from mesh.cli.table import plural, table
from mesh.errors import BadRequestError, MeshError, NotFoundError

if TYPE_CHECKING:
    from mesh.client.edge import EdgeClient

__all__ = ["flow_files", "register", "run_delete", "run_deploy"]

_USES_KEYS = ("uses", "uses_before", "uses_after")
_POLL_S = 0.2
PROGRESS_GRACE_S = 3.0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    deploy = commands.add_parser(
        "deploy", help="start a Flow on a mesh from its YAML, with the files it needs",
        description="Upload a Flow YAML and the executor files it references (paths relative "
                    "to the Flow file, and their py_modules) to a jinad, show each pod's "
                    "progress (placed, starting, ready) and, once ready, its pods, nodes and "
                    "gateway address. On failure: the error, exit 1.")
    deploy.add_argument("flow_yml", metavar="FLOW.yml", help="the Flow's YAML file")
    add_edge_args(deploy)
    deploy.add_argument("--json", action="store_true", help="print PUT /flow/yaml's answer")
    deploy.set_defaults(run=run_deploy)
    delete = commands.add_parser(
        "delete", help="stop a Flow of a mesh",
        description="Stop every Pea of the Flow on every node; returns once they are gone.")
    delete.add_argument("flow_id", metavar="FLOW", help="the flow_id")
    add_edge_args(delete)
    delete.set_defaults(run=run_delete)


def run_delete(args: argparse.Namespace) -> int:
    edge = edge_client(args)
    with edge_errors(edge):
        edge.delete_flow(args.flow_id)
    print(f"deleted flow {args.flow_id}", flush=True)
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    path = Path(args.flow_yml)
    try:
        yaml_text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"cannot read {path}: {exc}") from exc
    files = flow_files(path, yaml_text)
    edge = edge_client(args, timeout_s=600)
    say = _Say(quiet=args.json)
    say(f"deploying {path} to {edge.base}" + (f" with {plural(len(files), 'file')}: "
                                              f"{', '.join(sorted(files))}" if files else ""))
    with edge_errors(edge):
        progress = _Progress(edge, yaml_text, {f["flow_id"] for f in edge.flows()}, say)
        progress.start()
        try:
            flow = edge.create_flow(yaml_text, files)
        except MeshError as exc:  # the Flow did not start: exit 1, whatever the cause
            progress.done.set()
            raise MeshError(exc.message, detail=exc.detail) from exc
        progress.join(timeout=PROGRESS_GRACE_S)  # the last "ready" may trail the PUT's answer
        progress.done.set()
    if args.json:
        print(json.dumps(flow, indent=2), flush=True)
        return 0
    say(summary(flow))
    return 0


def summary(flow: dict[str, Any]) -> str:
    pods = flow.get("pods") or []
    rows = [(p.get("name"), p.get("node"), p.get("replicas"), p.get("status")) for p in pods]
    return "\n".join([f"flow {flow.get('flow_id')} ready: gateway {gateway_of(flow)}",
                      table(("POD", "NODE", "REPLICAS", "STATUS"), rows)])


# -- the files a Flow needs -----------------------------------------------------------------
def flow_files(path: Path, yaml_text: str) -> dict[str, bytes]:
    """Every executor YAML the Flow names that exists next to it, and its py_modules, by their
    paths relative to the Flow file's folder."""
    from mesh.yaml.loader import load_yaml

    root = path.parent
    data = load_yaml(yaml_text, source=str(path))
    files: dict[str, bytes] = {}
    for pod in (data.get("pods") or []) if isinstance(data, dict) else []:
        for key in _USES_KEYS:
            uses = pod.get(key) if isinstance(pod, dict) else None
            if isinstance(uses, str) and uses.endswith((".yml", ".yaml")) and (root / uses).is_file():
                _add(files, root, PurePosixPath(uses))
                for module in _py_modules(root / uses):
                    _add(files, root, PurePosixPath(uses).parent / module)
    return files


def _py_modules(executor_yml: Path) -> list[str]:
    from mesh.yaml.loader import load_yaml

    data = load_yaml(executor_yml.read_bytes(), source=str(executor_yml))
    metas = data.get("metas") if isinstance(data, dict) else None
    return [str(m) for m in (metas or {}).get("py_modules") or []]


def _add(files: dict[str, bytes], root: Path, rel: PurePosixPath) -> None:
    if rel.is_absolute() or ".." in rel.parts:
        raise BadRequestError(f"{rel} is outside the Flow file's folder {root}: an upload keeps "
                              "paths relative to it; move the file under that folder")
    try:
        files[str(rel)] = (root / rel).read_bytes()
    except OSError as exc:
        raise BadRequestError(f"cannot read {root / rel}, which the Flow needs: {exc}") from exc


# -- progress while the PUT waits -----------------------------------------------------------
class _Say:
    """Lines to stdout from two threads, one at a time."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet, self._lock = quiet, threading.Lock()

    def __call__(self, line: str) -> None:
        if not self.quiet:
            with self._lock:
                print(line, flush=True)


class _Progress(threading.Thread):
    """Finds the new Flow's record, says where each pod is placed, then follows its logs."""

    def __init__(self, edge: EdgeClient, yaml_text: str, before: set[str], say: _Say) -> None:
        super().__init__(name="deploy-progress", daemon=True)
        self.edge, self.yaml_text, self.before, self.say = edge, yaml_text, before, say
        self.done = threading.Event()
        self._ready: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"<deploy progress {self.edge.base}>"

    def run(self) -> None:
        try:
            record = self._find()
            if record is not None:
                self._follow(record)
        except MeshError:
            return  # the PUT's own answer tells what went wrong

    def _find(self) -> dict[str, Any] | None:
        while not self.done.wait(_POLL_S):
            new = [f for f in self.edge.flows() if f["flow_id"] not in self.before]
            mine = [f for f in new if f.get("yaml") in (self.yaml_text, "")]
            if mine:
                record = mine[0]
                gw = record.get("gateway") or {}
                self.say(f"flow {record['flow_id']}: gateway placed on node {gw.get('node')}")
                for pod in record.get("pods") or []:
                    self.say(f"pod {pod['name']}: placed on node {pod['node']} "
                             f"({plural(len(pod.get('peas') or []), 'Pea')})")
                return record
        return None

    def _follow(self, record: dict[str, Any]) -> None:
        """The Flow's lifecycle events; from a jinad without ``/events``, its log lines."""
        peas = {p["name"]: {e["name"] for e in p.get("peas") or []} for p in record.get("pods") or []}
        try:
            for ev in self.edge.events(record["flow_id"], follow=True):
                if self._show(peas, ev, ready=ev.get("kind") == "ready"):
                    return
                if ev.get("kind") == "failed" and str(ev.get("pod")) in peas:
                    self.say(f"pod {ev.get('pod')}: failed: {ev.get('detail') or ev.get('pea')}")
        except NotFoundError:
            for rec in self.edge.logs(record["flow_id"], follow=True):
                if self._show(peas, rec, ready=rec.get("message") == "ready and listening"):
                    return

    def _show(self, peas: dict[str, set[str]], item: dict[str, Any], *, ready: bool) -> bool:
        """Say a pod's first sign of life and its last Pea ready; True once every pod is ready
        or the PUT failed."""
        if self.done.is_set():
            return True
        pod = str(item.get("pod"))
        if pod not in peas:
            return False
        if pod not in self._ready:
            self._ready[pod] = set()
            self.say(f"pod {pod}: starting on node {item.get('node')}")
        if ready and not self._ready[pod] >= peas[pod]:
            pea = str(item.get("pea"))  # "*": a pod's event, all its Peas
            self._ready[pod] |= peas[pod] if pea == "*" else {pea}
            if self._ready[pod] >= peas[pod]:
                self.say(f"pod {pod}: ready")
        return all(self._ready.get(p, set()) >= names for p, names in peas.items())
