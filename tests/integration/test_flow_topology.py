"""Flow shapes in real processes: fan-out and join, replicas with polling any and all,
head and tail executors, explicit ports, executor YAML files."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh import Client, Document, Flow
from mesh.executors.dispatch import RESULTS_KEY
from mesh.net.ports import free_port
from mesh.runtime.control import ctrl_request
from tests.fixtures.procs import mesh_children

pytestmark = pytest.mark.integration

EXECUTORS = "tests.integration.executors.basic"
TAGGER = f"{EXECUTORS}:Tagger"
HERE = Path(__file__).parent


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    before = set(mesh_children())
    yield
    assert set(mesh_children()) <= before


def _match_ids(doc: Document) -> list[str]:
    return sorted(m.id for m in doc.matches)


@pytest.mark.usefixtures("no_leftovers")
def test_fan_out_and_join() -> None:
    """pod0 feeds a and b; a join waits for both; c is a second end the gateway joins in."""
    flow = (Flow()
            .add(name="pod0")
            .add(name="a", uses=TAGGER, uses_with={"key": "a"}, needs="pod0")
            .add(name="b", uses=TAGGER, uses_with={"key": "b"}, needs="pod0")
            .join(["a", "b"], name="j")
            .add(name="c", uses=TAGGER, uses_with={"key": "c"}, needs="pod0"))
    with flow:
        results = flow.index([Document(id=f"d{i}") for i in range(20)], request_size=5)
        assert flow.plan is not None and flow.plan.gateway.num_parts == 2  # ends: j and c
    assert results is not None and len(results) == 4
    for resp in results:
        assert not resp.failed
        assert len(resp.docs) == 5  # one Document per id, not one per branch
        for doc in resp.docs:
            assert _match_ids(doc) == ["a--1", "b--1", "c--1"]
        pods = [e["pod"] for e in resp.route]
        assert sorted(pods) == ["a", "b", "c", "gateway", "j", "pod0"]
        assert pods.index("j") > max(pods.index("a"), pods.index("b"))
        assert resp.parameters[RESULTS_KEY] == {"a": {"docs": 5}, "b": {"docs": 5}, "c": {"docs": 5}}


@pytest.mark.usefixtures("no_leftovers")
def test_replicas_with_polling_any_and_all_and_head_tail_executors(tmp_path: Path) -> None:
    yml = tmp_path / "after.yml"  # the tail's executor from a YAML file outside the package
    yml.write_text(f"!Suffix\nwith:\n  suffix: ' (after)'\nmetas:\n  py_modules: [{HERE}/executors/lib/suffix.py]\n")
    flow = (Flow()
            .add(name="any3", uses=TAGGER, uses_with={"key": "any3"}, replicas=3, polling="any",
                 uses_before=str(HERE / "executors" / "suffix.yml"), uses_after=str(yml))
            .add(name="all2", uses=TAGGER, uses_with={"key": "all2"}, replicas=2, polling="all"))
    with flow:
        results = flow.index([Document(id=f"d{i}", text="t") for i in range(30)], request_size=1)
        peas = [p.name for pp in flow.plan.pods for p in pp.peas]  # type: ignore[union-attr]
    assert peas == ["any3/head", "any3/0", "any3/1", "any3/2", "any3/tail",
                    "all2/head", "all2/0", "all2/1", "all2/tail"]
    assert results is not None and len(results) == 30
    replicas_used = set()
    for resp in results:
        assert not resp.failed
        (doc,) = resp.docs
        assert doc.text == "t! (after)"  # uses_before on the head, uses_after on the tail
        replicas_used.add(doc.tags["any3"])
        # polling any: one replica; polling all: both, their matches joined by the tail
        assert _match_ids(doc) == sorted([f"any3-{doc.tags['any3']}", "all2-0", "all2-1"])
        peas_passed = [e["pea"] for e in resp.route]
        assert peas_passed[:2] == ["gateway", "any3/head"]
        assert sum(p.startswith("any3/") and p[-1].isdigit() for p in peas_passed) == 1
        assert {"all2/0", "all2/1"} <= set(peas_passed)
    assert len(replicas_used) > 1 and replicas_used <= {0, 1, 2}


@pytest.mark.usefixtures("no_leftovers")
def test_explicit_ports() -> None:
    port_in, port_ctrl, port_out, port_expose = (free_port() for _ in range(4))
    flow = (Flow(port_expose=port_expose, http=False)
            .add(name="p", uses=f"{EXECUTORS}:Worker", port_in=port_in, port_ctrl=port_ctrl,
                 port_out=port_out)
            .add(name="q"))
    with flow:
        assert flow.port_expose == port_expose and flow.port_http is None
        status = ctrl_request("127.0.0.1", port_ctrl)
        assert (status["pea"], status["pod"], status["executor"]) == ("p", "p", "Worker")
        for port in (port_in, port_out):
            with socket.socket() as s, pytest.raises(OSError):
                s.bind(("0.0.0.0", port))  # the pod listens there
        with Client(host="127.0.0.1", port_expose=port_expose) as client:
            results = client.index(["x"])
    assert results is not None and results[0].docs.texts == ["X"]
    assert results[0].route_str() == "gateway▸p▸q▸⚐"
