"""``jinad``: join (or start) the NATS mesh, run the node agent, serve the HTTP edge."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesh import __version__
from mesh.daemon.flags import load_settings
from mesh.daemon.lock import StateLock
from mesh.errors import MeshError

if TYPE_CHECKING:
    from mesh.daemon.node import Wiring
    from mesh.daemon.settings import Settings

__all__ = ["main"]

logger = logging.getLogger("jinad")


def _setup_logging(level: str) -> None:
    from mesh.logs import setup_pea_logging

    setup_pea_logging("jinad", level)
    # sanic.root: the framework's own banner lines (Sanic Extensions' list, "Server Stopped")
    for noisy in ("sanic.access", "sanic.server", "sanic.root"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _port_free(port: int) -> bool:
    """True when the edge can bind ``port``: with SO_REUSEADDR, as the server binds it, so
    that connections of a previous life in TIME_WAIT (a restart after a crash) don't count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["credentials"]:
        from mesh.daemon.join import main as credentials_main

        return credentials_main(args[1:])
    if args[:1] == ["token"]:
        return _token_command(args[1:])
    try:
        settings = load_settings(argv)
    except SystemExit as exc:  # --help, --version, or a bad value (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if settings.port == 0:
        from mesh.net.ports import free_port

        settings.port = free_port()
    try:  # one jinad per state dir: the second one names the first and leaves
        lock = StateLock.acquire(settings.state_dir, name=settings.name, port=settings.port)
    except (MeshError, OSError) as exc:
        print(f"jinad: error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 1
    try:
        return _locked_main(settings, lock)
    finally:
        lock.release()


def _locked_main(settings: Settings, lock: StateLock) -> int:
    if not _port_free(settings.port):
        print(f"jinad: error: port {settings.port} is in use; pass --port or JINAD_PORT", file=sys.stderr)
        return 2
    from mesh.daemon.node import wire
    from mesh.http.tokens import announce, edge_access

    access = edge_access(host=settings.host, token=settings.token, insecure=settings.insecure,
                         state_dir=settings.state_dir)  # beyond loopback: never an open edge by accident
    settings.token = access.token
    wiring = wire(settings, version=__version__)
    _setup_logging(wiring.log_level)
    announce(access, host=settings.host, port=settings.port)
    try:
        return _serve(wiring, lock, token_file=access.path)
    except MeshError as exc:
        print(f"jinad: error: {exc.message}", file=sys.stderr)
        return 1


def _token_command(argv: list[str]) -> int:
    """``jinad token rotate [--state-dir DIR]``: a new edge token, taken by the running jinad
    of that state dir within a second (its Flows keep running); printed once."""
    import argparse

    from mesh.daemon.settings import Settings
    from mesh.http.tokens import rotate_token

    parser = argparse.ArgumentParser(prog="jinad token", description=_token_command.__doc__)
    parser.add_argument("action", choices=["rotate"])
    parser.add_argument("--state-dir", type=Path, default=Settings.model_fields["state_dir"].default,
                        help="the jinad's state dir (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.state_dir.is_dir():
        print(f"jinad: error: no state dir {args.state_dir}", file=sys.stderr)
        return 2
    token = rotate_token(args.state_dir)
    print(f"the edge's new token (in {args.state_dir / 'edge-token'}, 0600; the old one is refused "
          f"within a second):\n\n    {token}\n")
    return 0


def _serve(wiring: Wiring, lock: StateLock, *, token_file: Path | None = None) -> int:
    from mesh.daemon.node import Node
    from mesh.http.app import create_app

    node = Node(wiring, record=lock.record)
    node.start_broker()
    if node.embedded is not None:  # for `jinad credentials` (the URL others join)
        lock.record(nats_url=node.embedded.join_url, nats_local=node.embedded.url)
    try:
        node.check_broker()
    except BaseException:
        node.stop_broker()
        raise
    app = create_app(**wiring.edge, token_file=token_file)
    started = time.monotonic()
    host, port = wiring.server["host"], wiring.server["port"]

    @app.before_server_start
    async def _up(app_: Any) -> None:
        await node.start()
        app.ctx.attach(node.edge_services())

    @app.after_server_start
    async def _ready(app_: Any) -> None:
        _second_signal_kills(app_, node.kill_broker)  # after Sanic's own handlers, to replace them
        logger.info("jinad %s ready: edge %s://%s:%d, advertised as %s, NATS %s, mesh size %d",
                    wiring.name, "https" if wiring.server.get("ssl") else "http", host, port,
                    node.address, node.nats_url,
                    len(await node.agent.live_nodes()))

    @app.before_server_stop
    async def _down(app_: Any) -> None:
        await node.stop()
        c = node.agent.counts
        logger.info("jinad %s stopped after %.0f s: %d Peas spawned, %d stopped, %d log lines shipped",
                    wiring.name, time.monotonic() - started, c["spawned"], c["killed"],
                    node.agent.shipper.shipped)

    try:
        app.run(**wiring.server, single_process=True, access_log=False, motd=False)
    finally:
        node.stop_broker()
    return 0


def _second_signal_kills(app: Any, kill_broker: Callable[[], None]) -> None:
    """The first SIGINT/SIGTERM stops gracefully; a second one exits at once (the Peas follow,
    as each one watches its parent; the embedded nats-server, in a session of its own, is
    killed first)."""
    loop = asyncio.get_running_loop()
    count = {"n": 0}

    def on_signal() -> None:
        count["n"] += 1
        if count["n"] >= 2:
            logger.warning("second signal: exiting now")
            kill_broker()
            os._exit(1)
        logger.info("stopping (send the signal again to exit at once)")
        app.stop(terminate=False)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


if __name__ == "__main__":
    sys.exit(main())
