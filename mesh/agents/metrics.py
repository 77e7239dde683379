"""The node's Prometheus figures about its Peas.

Counters of the node itself (spawns, failed spawns, Peas that ended on their own) are
prometheus-client objects in the default registry. The Peas' own figures live in the Peas
(:mod:`mesh.runtime.meter`); :class:`PeaCollector` asks every Pea of the node for them with
the ``metrics`` control command, all at once, when ``/metrics`` is scraped, and answers them
as Prometheus metrics labelled by flow, pod, pea, node and endpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import zmq
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from mesh.runtime.control import ControlClient

__all__ = ["EXITS", "RESTARTS", "SPAWNS", "SPAWN_FAILURES", "PeaCollector", "PeaRef"]

logger = logging.getLogger(__name__)

SPAWNS = Counter("mesh_pod_spawns_total", "Pods this node was asked to start")
SPAWN_FAILURES = Counter("mesh_pod_spawn_failures_total",
                         "Pods this node failed to start, by error", ["error"])
EXITS = Counter("mesh_pea_unexpected_exits_total", "Peas that ended while they should run")
RESTARTS = Counter("mesh_pea_restarts_total", "Peas this node started again after they ended "
                   "on their own (their pod's restart policy)")

PeaRef = tuple[str, str, str, int, bool]  # flow, pod, pea, port_ctrl, alive
_LABELS = ["flow", "pod", "pea", "node"]
_EP = [*_LABELS, "endpoint"]
ASK_TIMEOUT_S = 1.0  # a Pea that does not answer within this is counted as not answering


class PeaCollector(Collector):
    """One scrape: one ``metrics`` command to every live Pea of the node, in parallel."""

    def __init__(self, *, node: str, peas: Callable[[], list[PeaRef]],
                 timeout_s: float = ASK_TIMEOUT_S) -> None:
        self.node, self.peas, self.timeout_s = node, peas, timeout_s

    def register(self) -> None:
        REGISTRY.register(self)

    def unregister(self) -> None:
        try:
            REGISTRY.unregister(self)
        except KeyError:
            pass

    def describe(self) -> Iterable[Any]:
        return []  # figures depend on the Peas of the moment: collected at scrape time only

    def collect(self) -> Iterator[Any]:
        peas = self.peas()
        status = GaugeMetricFamily("mesh_peas", "Peas on this node's books, by status",
                                   labels=["node", "status"])
        for state in ("running", "exited"):
            status.add_metric([self.node, state],
                              sum(1 for p in peas if p[4] == (state == "running")))
        yield status
        answers = self._ask([p for p in peas if p[4]])
        yield from self._families(answers)

    def _ask(self, peas: list[PeaRef]) -> list[tuple[PeaRef, dict[str, Any] | None]]:
        """Every Pea's answer (None when it gave none within the deadline)."""
        poller = zmq.Poller()
        asked: dict[Any, tuple[PeaRef, ControlClient]] = {}
        out: list[tuple[PeaRef, dict[str, Any] | None]] = []
        try:
            for ref in peas:
                ctrl = ControlClient("127.0.0.1", ref[3])
                ctrl.send("metrics")
                asked[ctrl.sock] = (ref, ctrl)
                poller.register(ctrl.sock, zmq.POLLIN)
            deadline = time.monotonic() + self.timeout_s
            while asked and (left := deadline - time.monotonic()) > 0:
                for sock, _ in poller.poll(int(left * 1000) + 1):
                    poller.unregister(sock)
                    ref, ctrl = asked.pop(sock)
                    out.append((ref, _reply(ctrl)))
                    ctrl.close()
        finally:
            for ref, ctrl in asked.values():
                out.append((ref, None))
                ctrl.close()
        return out

    def _families(self, answers: list[tuple[PeaRef, dict[str, Any] | None]]) -> Iterator[Any]:
        up = GaugeMetricFamily("mesh_pea_metrics_up", "1 when the Pea answered the node's "
                               "metrics command at this scrape", labels=_LABELS)
        fams = {kind: _Families(kind) for kind in ("pea", "gateway")}
        for (flow, pod, pea, _, _), reply in answers:
            labels = [flow, pod, pea, self.node]
            up.add_metric(labels, 1 if reply is not None else 0)
            figures = (reply or {}).get("metrics")
            if figures:
                kind = "gateway" if reply and reply.get("pod") == "gateway" else "pea"
                fams[kind].add(labels, figures)
        yield up
        for fam in fams.values():
            yield from fam.all()


def _reply(ctrl: ControlClient) -> dict[str, Any] | None:
    try:
        reply = ctrl.poll(0)
    except Exception as exc:  # noqa: BLE001 - one Pea's odd answer does not fail the scrape
        logger.debug("metrics answer on %s unreadable: %s", ctrl.address, exc)
        return None
    return reply if reply and reply.get("ok") else None


class _Families:
    """The metric families of Peas (``mesh_pea_*``) or of gateways (``mesh_gateway_*``,
    whose latency is end to end: from the client's request to its answer)."""

    def __init__(self, kind: str) -> None:
        what = "requests" if kind == "pea" else "client requests"
        p = f"mesh_{kind}"
        self.requests = CounterMetricFamily(f"{p}_requests", f"{what} handled, by endpoint", labels=_EP)
        self.failed = CounterMetricFamily(f"{p}_failed_requests", f"{what} that failed", labels=_EP)
        self.bytes_in = CounterMetricFamily(f"{p}_received_bytes", f"bytes of {what} received",
                                            labels=_EP)
        self.bytes_out = CounterMetricFamily(f"{p}_sent_bytes", f"bytes of {what} answered", labels=_EP)
        self.docs = CounterMetricFamily(f"{p}_documents", "Documents of the requests answered",
                                        labels=_EP)
        self.latency = HistogramMetricFamily(
            f"{p}_request_duration_seconds",
            "time from a request's arrival to its answer" if kind == "pea" else
            "time from a client's request to its answer (end to end)", labels=_EP)

    def add(self, labels: list[str], figures: dict[str, Any]) -> None:
        bounds = figures.get("buckets_s") or []
        for endpoint, row in (figures.get("endpoints") or {}).items():
            ep = [*labels, str(endpoint)]
            self.requests.add_metric(ep, row["requests"])
            self.failed.add_metric(ep, row["failed"])
            self.bytes_in.add_metric(ep, row["bytes_in"])
            self.bytes_out.add_metric(ep, row["bytes_out"])
            self.docs.add_metric(ep, row["docs"])
            self.latency.add_metric(ep, _cumulative(bounds, row["buckets"]), row["seconds_sum"])

    def all(self) -> list[Any]:
        return [self.requests, self.failed, self.bytes_in, self.bytes_out, self.docs, self.latency]


def _cumulative(bounds: list[float], counts: list[int]) -> list[tuple[str, float]]:
    total, out = 0, []
    for bound, count in zip([*map(str, bounds), "+Inf"], counts, strict=False):
        total += count
        out.append((bound, float(total)))
    return out
