"""The embedded nats-server: free port, ready from its own output, clean stop."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from mesh.daemon.broker import NatsServer, NatsServerError, find_binary
from mesh.events import Bus
from tests.fixtures.nats import nats_server, nats_server_factory  # noqa: F401

pytestmark = pytest.mark.integration


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_binary_comes_from_the_package() -> None:
    assert os.access(find_binary(), os.X_OK)


def test_start_on_a_free_port_then_stop(tmp_path: Path) -> None:
    server = NatsServer(store_dir=tmp_path)
    server.start()
    pid, port = server.pid, server.port
    assert pid is not None and server.running
    assert server.url == f"nats://127.0.0.1:{port}"
    assert not _port_is_free(port)

    server.stop()
    assert not server.running
    assert _process_gone(pid)
    assert _port_is_free(port)
    server.stop()  # a second stop is harmless


def test_context_manager_and_temp_store_cleanup() -> None:
    with NatsServer() as server:
        store = server.store_dir
        assert store is not None and (store / "jetstream").is_dir()
    assert not store.exists()


def test_early_exit_is_reported_with_its_output() -> None:
    started = time.monotonic()
    with pytest.raises(NatsServerError, match="exited") as info:
        NatsServer(extra_args=["--no-such-flag"]).start()
    assert time.monotonic() - started < 5
    assert "no-such-flag" in str(info.value)


def test_missing_binary_is_a_clear_error() -> None:
    server = NatsServer(binary="/nonexistent/nats-server")
    with pytest.raises(NatsServerError, match="cannot run /nonexistent/nats-server"):
        server.start()
    assert server.store_dir is None  # its temporary store is gone again


def test_ready_deadline(tmp_path: Path) -> None:
    # the server logs to a file instead of its output, so "ready" never shows
    server = NatsServer(ready_timeout_s=0.5, extra_args=["-l", str(tmp_path / "log")])
    with pytest.raises(NatsServerError, match="not ready within 0.5s"):
        server.start()
    assert not server.running


def test_config_file(tmp_path: Path) -> None:
    config = tmp_path / "nats.conf"
    config.write_text(
        f'listen: "127.0.0.1:-1"\njetstream {{ store_dir: "{tmp_path / "js"}" }}\n', encoding="utf-8"
    )
    with NatsServer(config_path=config) as server:
        assert server.port > 0
        assert (tmp_path / "js" / "jetstream").is_dir()


async def test_restart_keeps_the_port_and_clients_reconnect(nats_server: NatsServer) -> None:  # noqa: F811
    bus = await Bus.connect(nats_server.url, name="restart-test", reconnect_wait_s=0.1)
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    bus.on_reconnect(on_reconnect)
    try:
        port = nats_server.port
        nats_server.stop()
        nats_server.start()
        assert nats_server.port == port
        await asyncio.wait_for(reconnected.wait(), timeout=5)
        await bus.flush(timeout_s=5)
        assert bus.is_connected
    finally:
        await bus.close()


def test_factory_stops_what_it_started(nats_server_factory) -> None:  # noqa: F811
    first, second = nats_server_factory(), nats_server_factory()
    assert first.port != second.port
