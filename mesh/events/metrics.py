"""What the bus counts about the messages its handlers take (``prometheus-client`` objects,
in the process's default registry, so that a ``/metrics`` route only has to expose them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["HANDLED", "HANDLER_ERRORS", "HANDLER_SECONDS", "IN_FLIGHT"]

HANDLED = Counter("mesh_bus_messages_handled_total",
                  "Bus messages taken by a handler, by handler", ["handler"])
HANDLER_ERRORS = Counter("mesh_bus_handler_errors_total",
                         "Bus messages whose handler failed, by handler and error", ["handler", "error"])
HANDLER_SECONDS = Histogram("mesh_bus_handler_duration_seconds",
                            "Time a handler took for one bus message", ["handler"])
IN_FLIGHT = Gauge("mesh_bus_handlers_in_flight", "Bus messages being handled now", ["handler"])
