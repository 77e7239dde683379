"""Models to bytes and back; bad bytes give EventDecodeError with a message to act on."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel

from mesh.errors import BadRequestError, NotFoundError
from mesh.events import codec
from mesh.events.errors import EventDecodeError, RemoteError
from mesh.events.models import (
    ErrorBody,
    ErrorReply,
    KillReply,
    KillRequest,
    LifecycleEvent,
    LogRecord,
    NodeInfo,
    PortsReply,
    PortsRequest,
    SpawnReply,
    SpawnRequest,
)

pytestmark = pytest.mark.unit


def _node() -> NodeInfo:
    return NodeInfo(
        name="n1", address="10.0.0.1", port=8000, labels={"gpu": "yes"}, cpu_count=4, load1=0.5,
        mem_total_mb=8000, mem_available_mb=4000, peas=2, version="0.1.0", started=1.0, heartbeat=2.0,
    )


@pytest.mark.parametrize(
    "model", [
        LogRecord(time=1.5, level="INFO", node="n1", flow="f", pod="p", pea="p/0", message="hi", pid=7),
        _node(),
        LifecycleEvent(flow="f", pod="p", pea="p/0", node="n1", kind="exited", exit_code=1, time=3.0),
        SpawnRequest(flow_id="f", pod="p", peas=[{"name": "p/0", "uses": "_pass"}], ready_timeout_s=5),
        SpawnReply(ok=False, error=ErrorBody(error="PeaStartError", message="boom", status_code=500)),
        KillRequest(flow_id="f", renew_lease_s=30),
        KillReply(ok=True, node="n1", peas=[{"name": "p/0"}]),
        SpawnReply(ok=True, node="n1", address="10.0.0.1", peas=[{"name": "p/0", "port_ctrl": 5}]),
        PortsRequest(count=3),
        PortsReply(node="n1", address="10.0.0.1", ports=[5000, 5001]),
        ErrorReply(error=ErrorBody(error="X", message="y", detail={"k": [1, 2]}, status_code=418)),
    ],
)
def test_round_trip(model: BaseModel) -> None:
    assert codec.decode(codec.encode(model), type(model)) == model


def test_every_payload_names_its_versioned_type() -> None:
    record = LogRecord(time=1.0, level="INFO", node="n", flow="f", pod="p", pea="e", message="m")
    obj = orjson.loads(codec.encode(record))
    assert obj["type"] == "log.v1"
    assert obj["stream"] == "log"


def test_bad_json_is_an_event_decode_error() -> None:
    with pytest.raises(EventDecodeError, match="not valid JSON") as info:
        codec.decode(b"{nope", LogRecord)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, BadRequestError)


def test_wrong_shape_names_the_model_and_the_field() -> None:
    with pytest.raises(EventDecodeError, match=r"LogRecord.*message") as info:
        codec.decode(b'{"type": "log.v1", "time": 1, "level": "I", "node": "n", "flow": "f"}', LogRecord)
    assert info.value.detail["model"] == "LogRecord"
    orjson.dumps(info.value.detail)  # the detail can travel in an error envelope


def test_wrong_type_literal_is_rejected() -> None:
    with pytest.raises(EventDecodeError):
        codec.decode(codec.encode(KillRequest(flow_id="f")), SpawnRequest)


def test_decode_one_of_dispatches_on_type() -> None:
    reply = codec.encode(ErrorReply(error=ErrorBody(error="E", message="m")))
    assert isinstance(codec.decode_one_of(reply, [SpawnReply, ErrorReply]), ErrorReply)
    with pytest.raises(EventDecodeError, match="none of"):
        codec.decode_one_of(codec.encode(KillRequest(flow_id="f")), [SpawnReply, ErrorReply])


def test_unknown_fields_from_newer_nodes_are_ignored() -> None:
    data = codec.encode(KillRequest(flow_id="f"))[:-1] + b', "future": 1}'
    assert codec.decode(data, KillRequest) == KillRequest(flow_id="f")


def test_dumps_rejects_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="JSON"):
        codec.dumps({"x": object()})


def test_error_body_keeps_a_mesh_errors_name_status_and_detail() -> None:
    body = ErrorBody.from_exception(NotFoundError("no flow f1", detail={"flow_id": "f1"}))
    assert body == ErrorBody(error="NotFoundError", message="no flow f1", detail={"flow_id": "f1"}, status_code=404)
    assert ErrorBody.from_exception(RuntimeError("x")).status_code == 500


def test_error_body_forwards_a_remote_error_unchanged() -> None:
    remote = RemoteError("disk full", error="PeaStartError", status=500, detail={"pea": "p/0"})
    body = ErrorBody.from_exception(remote)
    assert (body.error, body.message, body.status_code, body.detail) == ("PeaStartError", "disk full", 500, {"pea": "p/0"})



def test_error_body_reads_the_status_of_older_nodes() -> None:
    body = ErrorBody.model_validate({"error": "NotFoundError", "message": "m", "status": 404})
    assert body.status_code == 404
    assert body.model_dump()["status_code"] == 404


def test_a_remote_error_is_the_same_type_as_the_one_raised_remotely() -> None:
    from mesh.errors import FlowConfigError
    from mesh.events.errors import remote_error

    err = remote_error(ErrorBody(error="FlowConfigError", message="bad pod", status_code=400))
    assert isinstance(err, FlowConfigError) and isinstance(err, RemoteError)
    assert (err.status, err.message, type(err).__name__) == (400, "bad pod", "FlowConfigError")
    unknown = remote_error(ErrorBody(error="SomethingElse", message="m", status_code=502))
    assert type(unknown) is RemoteError and unknown.status == 502
