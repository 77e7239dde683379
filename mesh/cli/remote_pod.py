"""``mesh pod --host H --port-expose 8000``: one Pod on the jinad at H, for as long as this runs.

The node plans the Pod itself (``PUT /pod`` with the plain pod arguments), so the
Pod binds its input and its output on the node and anyone who can reach the node
can use it. Its log lines are printed here from the first one, marked with 🌏.
A lease, renewed in the background, makes the node remove the Pod when this
command dies without removing it (SIGKILL, a lost network).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, TextIO

from mesh import __version__
from mesh.cli.jinad_args import DEFAULT_JINAD_PORT, edge_errors, token_of
from mesh.cli.logs_cmd import level_char
from mesh.client.lease import LeaseKeeper
from mesh.errors import MeshError, NotFoundError, UnavailableError

if TYPE_CHECKING:
    from mesh.client.edge import EdgeClient

__all__ = ["RemotePod", "describe_remote_pea", "format_remote_record", "run_remote"]

DEFAULT_LEASE_S = 15.0
STOP_TIMEOUT_S = 30.0  # a DELETE waits for the node to stop the Peas (up to its kill deadline)
LOG_DRAIN_S = 3.0      # after the DELETE, how long the last log lines may take to arrive


def run_remote(args: argparse.Namespace, pod_args: dict[str, Any]) -> int:
    from mesh.cli.serve import signals_ignored, signals_interrupt
    from mesh.client.edge import EdgeClient

    port = args.port_expose or DEFAULT_JINAD_PORT
    edge = EdgeClient(args.host, port, token=token_of(args))
    with edge_errors(edge), signals_interrupt():
        alive = edge.alive()  # an unreachable jinad fails here, with the checklist
        if alive.get("version") not in (None, __version__):
            print(f"warning: jinad at {edge.base} runs version {alive['version']}, this mesh "
                  f"command {__version__}", file=sys.stderr, flush=True)
        pod = RemotePod(edge, node=str(alive.get("node") or ""), lease_s=args.lease_s,
                        stop_edge=EdgeClient(args.host, port, token=token_of(args),
                                             timeout_s=STOP_TIMEOUT_S))
        ready = False
        try:
            pod.create(pod_args)
            for line in pod.describe():
                print(line, flush=True)
            print("ready", flush=True)
            ready = True
            pod.serve()
            problem = pod.wait()
            raise UnavailableError(problem, detail={"pod_id": pod.pod_id})
        except KeyboardInterrupt:
            if not ready:
                raise
            return 0
        finally:
            with signals_ignored():
                pod.remove()


class RemotePod:
    """One pod on a jinad: create, renew its lease, stream its logs, remove."""

    def __init__(self, edge: EdgeClient, *, node: str, lease_s: float, stop_edge: EdgeClient,
                 out: TextIO | None = None) -> None:
        self.edge, self.stop_edge, self.node, self.lease_s = edge, stop_edge, node, lease_s
        self.out = out or sys.stdout
        self.pod_id = uuid.uuid4().hex  # chosen here, so that an interrupted create can be undone
        self.reply: dict[str, Any] = {}
        self.name = "pod"
        self.sent = False  # a PUT went out: the pod may exist on the node
        self.printed = 0   # log records shown, skipped when a broken stream is re-attached
        self._problem: str | None = None
        self._ended = threading.Event()
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.leases = LeaseKeeper(
            lease_s=lease_s, warn=lambda _, text: self._warn(text),
            on_gone=lambda pod_id, _: self._end(f"remote pod {pod_id} was removed from node {self.node}"),
            on_lost=lambda _, text: self._end(text))

    # -- lifecycle ------------------------------------------------------------------------
    def create(self, pod_args: dict[str, Any]) -> dict[str, Any]:
        # ``host`` pins the pod to the node whose edge answered (a name it surely knows itself)
        body = {**pod_args, "host": self.node or None, "pod_id": self.pod_id, "lease_s": self.lease_s}
        self.name = str(pod_args.get("name") or "pod")  # the node's default name
        self.sent = True
        try:
            self.reply = self.edge.create_pod(body)
        except MeshError as exc:
            if 400 <= exc.status < 500:
                self.sent = False  # refused: nothing was started
            raise
        self.pod_id = str(self.reply.get("pod_id") or self.pod_id)
        self.node = str(self.reply.get("node") or self.node)
        return self.reply

    def describe(self) -> list[str]:
        host = self.reply.get("host") or self.edge.host
        peas = list(self.reply.get("peas") or [])
        lines = [f"created remote pod with id {self.pod_id}"]
        first_in = next((p["port_in"] for p in peas if p.get("port_in")), None)
        last_out = next((p["ports_out"][0] for p in reversed(peas) if p.get("ports_out")), None)
        lines.append(f"{self.name} on node {self.node} ({host}): "
                     f"input {_tcp(host, first_in)} output {_tcp(host, last_out)}")
        lines += [describe_remote_pea(host, p) for p in peas]
        return lines

    def serve(self) -> None:
        """Start renewing the lease and printing the pod's logs."""
        self.leases.add(self.edge, self.pod_id)
        self.leases.start()
        t = threading.Thread(target=self._stream_logs, name="remote-pod-logs", daemon=True)
        t.start()
        self._threads.append(t)

    def wait(self) -> str:
        """Block until the pod is gone or out of reach; the reason. Signals interrupt it."""
        while not self._ended.wait(0.5):
            pass
        return self._problem or "the remote pod ended"

    def remove(self) -> None:
        """Delete the pod on its node (if it may exist) and let its last log lines arrive."""
        self._stopping.set()
        self.leases.stop()
        if self.sent:
            try:
                self.stop_edge.delete_pod(self.pod_id)
                print(f"removed remote pod {self.pod_id} from node {self.node or self.edge.host}",
                      file=sys.stderr, flush=True)
            except NotFoundError:
                pass  # never created, or already gone
            except MeshError as exc:
                print(f"warning: remote pod {self.pod_id} not removed ({exc.message}); its node "
                      f"removes it within {self.lease_s:g} s", file=sys.stderr, flush=True)
        deadline = time.monotonic() + LOG_DRAIN_S
        for t in self._threads:
            t.join(timeout=max(deadline - time.monotonic(), 0))

    # -- background -----------------------------------------------------------------------
    def _end(self, problem: str) -> None:
        if self._problem is None:
            self._problem = problem
        self._ended.set()

    def _stream_logs(self) -> None:
        """Print every log record of the pod; re-attach (skipping what was shown) if cut."""
        while True:
            seen = 0
            try:
                for rec in self.edge.logs(self.pod_id, follow=True):
                    seen += 1
                    if seen > self.printed:
                        if not self._write(format_remote_record(rec)):
                            return
                        self.printed = seen
            except Exception as exc:  # noqa: BLE001 - a cut stream is re-attached below
                if self._stopping.is_set():
                    return
                message = exc.message if isinstance(exc, MeshError) else repr(exc)
                self._warn(f"log stream of remote pod {self.pod_id} broke: {message}")
            if self._stopping.wait(1.0):
                return
            # a followed stream ends when the pod is deleted: ask whether it still exists
            try:
                self.edge.renew_pod(self.pod_id, self.lease_s)
            except NotFoundError:
                self._end(f"remote pod {self.pod_id} was removed from node {self.node}")
                return
            except MeshError:
                pass  # unreachable: the lease thread decides when to give up

    def _write(self, line: str) -> bool:
        """Print one line; False when our output is closed (nobody reads the logs any more)."""
        with self._write_lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (OSError, ValueError):
                self._end("the output of this command was closed")
                return False
        return True

    def _warn(self, text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)


def format_remote_record(rec: dict[str, Any]) -> str:
    """``🌏 pod@1234[I]:message``, the seed's form for a remote Pea's line."""
    return (f"🌏 {rec.get('pea') or rec.get('pod')}@{rec.get('pid') or 0}[{level_char(rec)}]:"
            f"{rec.get('message', '')}")


def describe_remote_pea(host: str, pea: dict[str, Any]) -> str:
    """``pod: input tcp://H:1 (PULL_BIND) output tcp://H:2 (PUSH_BIND) control over tcp://H:3 (ROUTER_BIND)``.

    Only the sockets a Pea binds are known to its node; "-" marks a side that dials
    another Pea of the same pod.
    """
    inputs = f"{_tcp(host, pea['port_in'])} (PULL_BIND)" if pea.get("port_in") else "-"
    outputs = " ".join(f"{_tcp(host, p)} (PUSH_BIND)" for p in pea.get("ports_out") or []) or "-"
    return (f"{pea['name']}: input {inputs} output {outputs} "
            f"control over {_tcp(host, pea['port_ctrl'])} (ROUTER_BIND)")


def _tcp(host: str, port: int | None) -> str:
    return f"tcp://{host}:{port}" if port else "-"
