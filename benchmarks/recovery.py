"""Recovery on a jinad node, with a request loop running the whole time.

- ``pea_recovery_s``: SIGKILL of the Pea of a one-pod Flow (restart policy ``delay_s: 0``,
  so the figure is the node's own work: see the exit, start the Pea, wait until it is
  ready, the gateway's socket reconnecting) until a request through the Flow is answered
  again; p50 over the kills.
- ``jinad_recovery_s``: SIGTERM of a jinad (its Peas stop with it), then a new jinad on the
  same state dir until the same Flow, re-created from its record, answers again.

Each comes with the requests of the loop that failed meanwhile (the loop's Client gives a
request 2 s): the requests that were inside the killed Pea are lost, not failed at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from benchmarks.context import Context
from benchmarks.nodes import JinadNode, pea_pids_of, start_node, stop_node
from benchmarks.report import median

__all__ = ["run"]

FLOW = ("!Flow\nversion: 1\npods:\n  - name: a\n    uses: _pass\n"
        "    restart: {attempts: 1000, delay_s: 0, backoff: 1}\n")
LOOP_TIMEOUT_S = 2.0
PROBE_TIMEOUT_S = 0.5


class _Loop:
    """Sequential one-Document requests until stopped; counts answers and failures."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.ok = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="request-loop", daemon=True)

    def __enter__(self) -> _Loop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        from mesh import Client, Document
        from mesh.errors import MeshError

        with Client(host=self.host, port_expose=self.port, timeout_s=LOOP_TIMEOUT_S) as client:
            while not self._stop.is_set():
                try:
                    client.index([Document(text="loop")], on_done=lambda _r: None)
                    self.ok += 1
                except MeshError:
                    self.failed += 1
                time.sleep(0.005)


def _answers(host: str, port: int) -> bool:
    from mesh import Client, Document
    from mesh.errors import MeshError

    try:
        with Client(host=host, port_expose=port, timeout_s=PROBE_TIMEOUT_S,
                    connect_timeout_s=PROBE_TIMEOUT_S) as client:
            client.index([Document(text="probe")], on_done=lambda _r: None)
        return True
    except MeshError:
        return False


def _until_answered(host: str, port: int, timeout_s: float = 60.0) -> float:
    t0 = time.monotonic()
    while not _answers(host, port):
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"the Flow at {host}:{port} did not answer within {timeout_s:g} s")
    return time.monotonic() - t0


def _pod_pea(node: JinadNode, gateway_pid: int | None) -> int:
    peas = [p for p in pea_pids_of(node.proc.pid) if p != gateway_pid]
    if len(peas) != 1:
        raise RuntimeError(f"expected the one Pea of pod a, found {peas}")
    return peas[0]


def run(ctx: Context, name: str) -> None:
    kills = ctx.pick(10, 3)
    node = start_node(ctx.tmp, name="recovery")
    try:
        flow = node.edge.create_flow(FLOW)
        host, port = flow["host"], flow["port"]
        gateway_pid = next((p for p in pea_pids_of(node.proc.pid)
                            if p not in {e["pid"] for e in flow["pods"][0]["peas"]}), None)
        times: list[float] = []
        with _Loop(host, port) as loop:
            time.sleep(0.5)
            for _ in range(kills):
                pid = _pod_pea(node, gateway_pid)
                os.kill(pid, signal.SIGKILL)
                t0 = time.monotonic()
                while pid in pea_pids_of(node.proc.pid):
                    time.sleep(0.001)
                times.append(time.monotonic() - t0 + _until_answered(host, port))
                time.sleep(0.5)
        ctx.report.emit(name, "pea_recovery_s", median(times), "s", params={
            "kills": kills, "samples_s": [round(t, 3) for t in times], "loop_ok": loop.ok,
            "loop_failed": loop.failed, "restart": "delay_s 0", "loop_timeout_s": LOOP_TIMEOUT_S})

        with _Loop(host, port) as loop:
            time.sleep(0.5)
            t0 = time.monotonic()
            stop_node(node)
            node = start_node(ctx.tmp, name="recovery", state_dir=node.state_dir)
            took = time.monotonic() - t0 + _until_answered(host, port)
            time.sleep(0.5)
        ctx.report.emit(name, "jinad_recovery_s", took, "s", params={
            "what": "SIGTERM, a new jinad on the state dir, the Flow answering again",
            "loop_ok": loop.ok, "loop_failed": loop.failed})
        node.edge.delete_flow(flow["flow_id"])
    finally:
        stop_node(node)
