"""Running a Flow in the foreground until SIGINT or SIGTERM, then closing it."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from mesh.errors import UnavailableError

if TYPE_CHECKING:
    from mesh.flow.flow import Flow

__all__ = ["gateway_line", "serve", "signals_ignored", "signals_interrupt"]

HEALTH_INTERVAL_S = 0.5
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve(flow: Flow, *, on_ready: Callable[[Flow], None]) -> int:
    """Start ``flow``, report it ready, serve until a signal; 0 on a signalled stop.

    A signal during the start raises KeyboardInterrupt after the started Peas are
    stopped; a Pea that dies while serving raises UnavailableError. Every path closes
    the Flow, with further signals ignored so that the close runs to its end (it is
    bounded by the Peas' stop grace).
    """
    with signals_interrupt():
        started = False
        try:
            flow.start()
            started = True
            on_ready(flow)
            _watch(flow)
        except KeyboardInterrupt:
            if not started:
                raise
            return 0
        finally:
            with signals_ignored():
                flow.close()


def _watch(flow: Flow) -> NoReturn:
    while True:
        problem = flow.health()
        if problem:
            raise UnavailableError(f"the Flow stopped serving: {problem}")
        time.sleep(HEALTH_INTERVAL_S)  # a polling interval; signals interrupt it at once


def gateway_line(flow: Flow) -> str:
    """The machine-readable line that tells scripts where the gateway is.

    The gateway binds every interface; the host shown is the first private address
    the Flow's banner lists, or 127.0.0.1 when the machine's name resolves to none.
    """
    from mesh.flow.banner import private_addresses

    host = next(iter(private_addresses()), "127.0.0.1")
    return f"gateway: host={host} port_expose={flow.port_expose} port_http={flow.port_http or 'none'}"


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM both raise KeyboardInterrupt, even where SIGINT was ignored."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
