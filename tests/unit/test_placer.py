"""Choosing a node for a pod: by host, by labels, the least loaded; never a node of another
mesh protocol (a 409 saying why)."""

from __future__ import annotations

import pytest

from mesh.errors import ConflictError, FlowConfigError
from mesh.events.models import PROTOCOL, NodeInfo
from mesh.flow.spec import PodSpec
from mesh.scheduler.placer import choose_node, ineligible

pytestmark = pytest.mark.unit


def _node(name: str, *, peas: int = 0, protocol: int = PROTOCOL, **labels: str) -> NodeInfo:
    return NodeInfo(name=name, address=f"10.0.0.{len(name)}", port=8000, labels=labels,
                    cpu_count=2, load1=0.0, mem_total_mb=1, mem_available_mb=1, peas=peas,
                    version="x", started=0.0, heartbeat=0.0, protocol=protocol)


def test_the_least_loaded_node_of_this_protocol_is_chosen() -> None:
    here, busy, old = _node("a", peas=4), _node("bb", peas=2), _node("ccc", protocol=PROTOCOL - 1)
    assert choose_node(PodSpec(name="p"), [here, busy, old], here=here).name == "bb"
    assert ineligible(old) is not None and "protocol" in (ineligible(old) or "")
    assert ineligible(busy) is None


def test_a_tie_goes_to_the_node_that_took_the_flow_whatever_the_load() -> None:
    here, other = _node("a", peas=1), _node("bb", peas=1)
    here.load1, other.load1 = 1.5, 0.1  # one machine's load, sampled at two moments
    assert choose_node(PodSpec(name="p"), [other, here], here=here).name == "a"
    other.peas = 0
    assert choose_node(PodSpec(name="p"), [other, here], here=here).name == "bb"


def test_a_pod_that_only_fits_nodes_of_another_protocol_is_a_409() -> None:
    here, old = _node("a"), _node("bb", protocol=PROTOCOL - 1, gpu="1")
    with pytest.raises(ConflictError, match="another mesh protocol") as err:
        choose_node(PodSpec(name="p", labels={"gpu": "1"}), [here, old], here=here)
    assert err.value.status == 409 and err.value.detail["nodes"] == ["bb"]
    with pytest.raises(ConflictError, match=f"speaks mesh protocol {PROTOCOL - 1}"):
        choose_node(PodSpec(name="p", host="bb"), [here, old], here=here)


def test_labels_no_node_has_are_a_409_naming_the_pod_and_the_constraint() -> None:
    here = _node("a", zone="x")
    with pytest.raises(ConflictError, match="'p' asks for labels zone=y") as err:
        choose_node(PodSpec(name="p", labels={"zone": "y"}), [here], here=here)
    assert err.value.detail == {"pod": "p", "constraint": {"labels": {"zone": "y"}}}


def test_a_host_no_node_has_is_a_400() -> None:
    here = _node("a")
    with pytest.raises(FlowConfigError, match="names host 'zz'"):
        choose_node(PodSpec(name="p", host="zz"), [here], here=here)


def test_a_record_without_protocol_is_of_protocol_1() -> None:
    record = _node("a").model_dump()
    del record["protocol"]
    assert NodeInfo.model_validate(record).protocol == 1
