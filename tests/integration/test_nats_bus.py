"""The bus against a real nats-server: typed request/reply, error envelopes, sturdy handlers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.msg import Msg

from mesh.daemon.broker import NatsServer
from mesh.errors import PeaStartError
from mesh.events import (
    Bus,
    BusConnectError,
    BusTimeoutError,
    ErrorBody,
    KillReply,
    KillRequest,
    LogRecord,
    NoRespondersError,
    RemoteError,
    SpawnReply,
    SpawnRequest,
    subjects,
)
from mesh.events.errors import EventDecodeError
from tests.fixtures.nats import nats_server  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:  # noqa: F811
    connected = await Bus.connect(nats_server.url, name="test-bus")
    yield connected
    await connected.close()


def _log(i: int) -> LogRecord:
    return LogRecord(time=time.time(), level="INFO", node="n1", flow="f1", pod="p", pea="p/0", message=f"line {i}")


async def test_request_reply_is_typed(bus: Bus) -> None:
    async def spawn(req: SpawnRequest, msg: Msg) -> SpawnReply:
        return SpawnReply(ok=True, peas=[{"name": p["name"], "port": 1234} for p in req.peas])

    await bus.subscribe(subjects.spawn("n1"), SpawnRequest, spawn)
    req = SpawnRequest(flow_id="f1", pod="p", peas=[{"name": "p/0"}])
    reply = await bus.request(subjects.spawn("n1"), req, SpawnReply, timeout_s=2)
    assert reply == SpawnReply(ok=True, peas=[{"name": "p/0", "port": 1234}])


async def test_handler_error_is_reraised_with_its_name_message_and_status(bus: Bus) -> None:
    async def spawn(req: SpawnRequest, msg: Msg) -> SpawnReply:
        raise PeaStartError(f"pea of {req.pod} exited with code 3", detail={"exit_code": 3})

    await bus.subscribe(subjects.spawn("n1"), SpawnRequest, spawn)
    with pytest.raises(RemoteError) as info:
        await bus.request(subjects.spawn("n1"), SpawnRequest(flow_id="f1", pod="p"), SpawnReply, timeout_s=2)
    err = info.value
    assert (err.error, err.message, err.status, err.detail) == (
        "PeaStartError", "pea of p exited with code 3", 500, {"exit_code": 3},
    )


async def test_error_inside_a_typed_reply_is_reraised_too(bus: Bus) -> None:
    async def kill(req: KillRequest, msg: Msg) -> KillReply:
        body = ErrorBody(error="NotFoundError", message=f"no flow {req.flow_id}", status_code=404)
        return KillReply(ok=False, peas=[{"name": "x"}], error=body)

    await bus.subscribe(subjects.KILL_ALL, KillRequest, kill)
    with pytest.raises(RemoteError) as info:
        await bus.request(subjects.kill("f9"), KillRequest(flow_id="f9"), KillReply, timeout_s=2)
    assert (info.value.error, info.value.status) == ("NotFoundError", 404)
    assert info.value.reply.peas == [{"name": "x"}]


async def test_a_raising_handler_does_not_kill_the_subscription(bus: Bus) -> None:
    seen: list[str] = []
    done = asyncio.Event()

    async def handler(record: LogRecord, msg: Msg) -> None:
        seen.append(record.message)
        if record.message == "line 0":
            raise RuntimeError("handler bug")
        if record.message == "line 2":
            done.set()

    await bus.subscribe(subjects.LOGS_ALL, LogRecord, handler)
    await bus.nc.publish(subjects.logs("f1", "p", "p/0"), b"not json")  # undecodable: logged, skipped
    for i in range(3):
        await bus.publish(subjects.logs("f1", "p", "p/0"), _log(i))
    await asyncio.wait_for(done.wait(), timeout=5)
    assert seen == ["line 0", "line 1", "line 2"]


async def test_undecodable_request_gets_a_400_envelope(bus: Bus) -> None:
    async def spawn(req: SpawnRequest, msg: Msg) -> SpawnReply:
        return SpawnReply(ok=True)

    await bus.subscribe(subjects.SPAWN_ANY, SpawnRequest, spawn, queue=subjects.SPAWN_QUEUE)
    with pytest.raises(RemoteError) as info:
        await bus.request(subjects.SPAWN_ANY, KillRequest(flow_id="f"), SpawnReply, timeout_s=2)
    assert (info.value.error, info.value.status) == ("EventDecodeError", 400)


async def test_reply_that_does_not_decode_raises_event_decode_error(bus: Bus) -> None:
    async def wrong(req: SpawnRequest, msg: Msg) -> KillReply:
        return KillReply(ok=True)

    await bus.subscribe(subjects.spawn("n1"), SpawnRequest, wrong)
    with pytest.raises(EventDecodeError):
        await bus.request(subjects.spawn("n1"), SpawnRequest(flow_id="f", pod="p"), SpawnReply, timeout_s=2)


async def test_queue_group_delivers_each_request_once(bus: Bus, nats_server: NatsServer) -> None:  # noqa: F811
    other = await Bus.connect(nats_server.url, name="test-bus-2")
    takers: list[str] = []

    def taker(name: str) -> Any:
        async def handle(req: SpawnRequest, msg: Msg) -> SpawnReply:
            takers.append(name)
            return SpawnReply(ok=True, peas=[{"node": name}])
        return handle

    try:
        await bus.subscribe(subjects.SPAWN_ANY, SpawnRequest, taker("a"), queue=subjects.SPAWN_QUEUE)
        await other.subscribe(subjects.SPAWN_ANY, SpawnRequest, taker("b"), queue=subjects.SPAWN_QUEUE)
        await other.flush()
        for _ in range(10):
            await bus.request(subjects.SPAWN_ANY, SpawnRequest(flow_id="f", pod="p"), SpawnReply, timeout_s=2)
        assert len(takers) == 10
    finally:
        await other.close()


async def test_no_responders_and_timeout_are_distinct_errors(bus: Bus) -> None:
    with pytest.raises(NoRespondersError, match="jinad.spawn.nobody"):
        await bus.request(subjects.spawn("nobody"), SpawnRequest(flow_id="f", pod="p"), SpawnReply, timeout_s=1)

    async def silent(req: SpawnRequest, msg: Msg) -> None:
        return None

    await bus.subscribe(subjects.spawn("slow"), SpawnRequest, silent)
    with pytest.raises(BusTimeoutError) as info:
        await bus.request(subjects.spawn("slow"), SpawnRequest(flow_id="f", pod="p"), SpawnReply, timeout_s=0.2)
    assert info.value.status == 504


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server_fails_fast_with_the_url() -> None:
    url = f"nats://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(BusConnectError, match=url) as info:
        await Bus.connect(url, name="nobody-home", connect_timeout_s=1)
    assert time.monotonic() - started < 2
    assert info.value.status == 503


async def test_wrong_credentials_are_a_connect_error(nats_server_with_auth: NatsServer) -> None:
    with pytest.raises(BusConnectError, match="uthorization"):
        await Bus.connect(nats_server_with_auth.url, name="intruder", user="a", password="wrong", connect_timeout_s=1)
    bus = await Bus.connect(nats_server_with_auth.url, name="friend", user="a", password="secret")
    await bus.drain()


@pytest.fixture
def nats_server_with_auth() -> Any:
    with NatsServer(jetstream=False, extra_args=["--user", "a", "--pass", "secret"]) as server:
        yield server


async def test_a_lost_connection_that_hangs_on_close_is_aborted_and_reconnects(
        tmp_path: Any) -> None:
    """nats-py can wait for ever on a lost socket's close before it reconnects (its
    ``_attempt_reconnect`` awaits ``wait_closed()``): the bus aborts that socket after
    UNSTICK_S, and reconnects to the broker started again on the same port. The hang is
    forced here: the socket's close waits until the socket is aborted."""
    from mesh.events import bus as bus_module

    server = NatsServer(store_dir=tmp_path / "nats").start()
    port = server.port
    bus = await Bus.connect(server.url, name="unstick", reconnect_wait_s=0.2)
    transport = bus.nc._transport
    real_wait = transport.wait_closed
    try:
        aborted = asyncio.Event()
        writer_transport = transport._io_writer.transport
        real_abort = writer_transport.abort

        def abort() -> None:
            aborted.set()
            real_abort()

        async def hang_until_aborted() -> None:
            await aborted.wait()
            await real_wait()

        writer_transport.abort = abort
        transport.wait_closed = hang_until_aborted
        server.stop(grace_s=0)  # the broker goes; its socket closes under the bus
        server = NatsServer(store_dir=tmp_path / "nats", port=port).start()
        lost = time.monotonic()
        await asyncio.wait_for(aborted.wait(), bus_module.UNSTICK_S + 5)
        await asyncio.wait_for(bus.wait_connected(), 10)
        assert bus.is_connected and time.monotonic() - lost < bus_module.UNSTICK_S + 8

        async def answer(req: KillRequest, _msg: Msg) -> KillReply:
            return KillReply(ok=True, node=req.flow_id)

        await bus.subscribe("unstick.kill", KillRequest, answer)
        reply = await bus.request("unstick.kill", KillRequest(flow_id="f"), KillReply, timeout_s=5)
        assert reply.ok and reply.node == "f"  # the reconnected bus carries requests again
    finally:
        transport.wait_closed = real_wait  # a failed test must not hang in the close
        await asyncio.wait_for(bus.close(), 10)
        server.stop(grace_s=2)
