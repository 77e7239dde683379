"""Choosing a node for a pod: by host, by labels, the least loaded; never a node of another
mesh protocol (a 409 saying why)."""

from __future__ import annotations

import pytest

from mesh.errors import ConflictError, FlowConfigError
from mesh.events.models import PROTOCOL, NodeInfo
from mesh.flow.spec import PodSpec
from mesh.scheduler.placer import choose_gateway, choose_node, ineligible, spread_replicas

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


def _pod(**kw: object) -> PodSpec:
    return PodSpec.model_validate({"name": "p", "replicas": 3, **kw})


def test_replicas_spread_one_per_node_before_two_on_any_the_least_loaded_first() -> None:
    a, b, c = _node("a", peas=2), _node("bb", peas=0), _node("ccc", peas=1)
    pending: dict[str, int] = {"a": 2}  # the head and tail on a
    assert [n.name for n in spread_replicas(_pod(), [a, b, c], home=a, pending=pending)] == \
        ["bb", "ccc", "a"]
    assert pending == {"a": 3, "bb": 1, "ccc": 1}
    five = spread_replicas(_pod(replicas=5), [a, b], home=a, pending={})
    assert sorted(n.name for n in five) == ["a", "a", "bb", "bb", "bb"]


def test_placement_keeps_replicas_together_caps_them_and_limits_the_nodes() -> None:
    a, b, c = _node("a"), _node("bb"), _node("ccc", gpu="1")
    together = spread_replicas(_pod(placement={"spread": False}), [a, b, c], home=b, pending={})
    assert {n.name for n in together} == {"bb"}
    pinned = spread_replicas(_pod(host="bb"), [a, b, c], home=b, pending={})
    assert {n.name for n in pinned} == {"bb"}
    allowed = spread_replicas(_pod(placement={"nodes": ["a", "ccc"]}), [a, b, c], home=a, pending={})
    assert sorted(n.name for n in allowed) == ["a", "a", "ccc"]
    spread = spread_replicas(_pod(replicas=4), [a, b, c], home=a, pending={})
    assert [n.name for n in spread] == ["a", "bb", "ccc", "a"]  # ties: the home node first
    busy = _node("ddd", peas=8)
    capped = spread_replicas(_pod(replicas=4, placement={"max_per_node": 2}), [a, busy], home=busy,
                             pending={})
    assert sorted(n.name for n in capped) == ["a", "a", "ddd", "ddd"]  # not 3 on the idle one
    labelled = spread_replicas(_pod(placement={"labels": {"gpu": "1"}}), [a, b, c], home=c,
                               pending={})
    assert {n.name for n in labelled} == {"ccc"}


def test_a_placement_no_node_meets_is_a_409_naming_the_constraint() -> None:
    a, b = _node("a"), _node("bb")
    with pytest.raises(ConflictError) as caught:
        spread_replicas(_pod(replicas=5, placement={"max_per_node": 2}), [a, b], home=a, pending={})
    assert caught.value.detail["constraint"]["max_per_node"] == 2 and "only 2 node(s)" in caught.value.message
    with pytest.raises(ConflictError) as caught:
        spread_replicas(_pod(placement={"spread": False, "max_per_node": 2}), [a, b], home=a,
                        pending={})
    assert "spread: false" in caught.value.message
    with pytest.raises(ConflictError) as caught:
        choose_node(_pod(placement={"nodes": ["zz"]}), [a, b], here=a)
    assert caught.value.detail["constraint"] == {"nodes": ["zz"]}
    with pytest.raises(ConflictError) as caught:
        choose_node(_pod(labels={"gpu": "1"}, placement={"nodes": ["a"]}), [a, b], here=a)
    assert "no live node it may use has" in caught.value.message
    with pytest.raises(ValueError, match="disagree on gpu"):
        _pod(labels={"gpu": "1"}, placement={"labels": {"gpu": "2"}})


def test_a_cordoned_node_takes_nothing_new_the_gateway_included() -> None:
    here, other = _node("a"), _node("bb", peas=6)
    here.cordoned = True
    assert choose_node(PodSpec(name="p"), [here, other], here=here).name == "bb"
    assert choose_gateway([here, other], here=here, pending={}).name == "bb"
    with pytest.raises(ConflictError, match="which is cordoned"):
        choose_node(PodSpec(name="p", host="a"), [here, other], here=here)
    other.cordoned = True
    with pytest.raises(ConflictError) as caught:
        choose_node(PodSpec(name="p"), [here, other], here=here)
    assert caught.value.detail["constraint"] == {"cordoned": ["a", "bb"]}
    with pytest.raises(ConflictError, match="every live node is cordoned"):
        choose_gateway([here, other], here=here, pending={})
