"""Flow YAML: loading (both forms, env, errors) and dumping back to an equal Flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh import Flow
from mesh.errors import FlowConfigError
from mesh.flow.spec import GATEWAY
from mesh.yaml.loader import load_yaml

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _needs(flow: Flow) -> dict[str, list[str] | None]:
    return {str(p.name): p.needs for p in flow.pods}


def _load_error(text: str) -> str:
    with pytest.raises(FlowConfigError) as info:
        Flow.load_config(text)
    return info.value.message


# -- the seed and other accepted forms -------------------------------------------
def test_seed_example_loads_as_two_pods_in_a_row() -> None:
    flow = Flow.load_config(EXAMPLES / "dummy_flow.yml")
    assert [p.name for p in flow.pods] == ["pod0", "pod1"]
    assert _needs(flow) == {"pod0": [GATEWAY], "pod1": ["pod0"]}
    assert all(p.uses == "_logforward" and p.method is None for p in flow.pods)
    assert flow == Flow().add(name="pod0", uses="_logforward").add(name="pod1", uses="_logforward")


def test_path_given_as_str_and_yaml_text_load_the_same(tmp_path: Path) -> None:
    text = (EXAMPLES / "dummy_flow.yml").read_text()
    copy = tmp_path / "flow.yml"
    copy.write_text(text)
    assert Flow.load_config(str(copy)) == Flow.load_config(text) == Flow.load_config(copy)


def test_dag_example_fans_out_and_joins() -> None:
    flow = Flow.load_config(EXAMPLES / "dag_flow.yml")
    assert flow.spec.name == "dag"
    assert _needs(flow) == {
        "split": [GATEWAY],
        "left": ["split"],
        "right": ["split"],
        "join": ["left", "right"],
    }
    left, join = flow.pods[1], flow.pods[3]
    assert (left.replicas, left.polling) == (2, "all")
    assert join.uses == "_merge"


def test_older_mapping_form_keyed_by_pod_name() -> None:
    flow = Flow.load_config("!Flow\npods:\n  enc:\n    uses: _pass\n    parallel: 2\n  idx:\n")
    assert [p.name for p in flow.pods] == ["enc", "idx"]
    assert flow.pods[0].replicas == 2
    assert _needs(flow) == {"enc": [GATEWAY], "idx": ["enc"]}


def test_untagged_mapping_with_pods_and_integer_version() -> None:
    flow = Flow.load_config("version: 1\npods:\n  - uses: _pass\n  - uses: _pass\n")
    assert [p.name for p in flow.pods] == ["pod0", "pod1"]


def test_with_and_env_become_flow_arguments() -> None:
    flow = Flow.load_config(
        "!Flow\nversion: '1'\nwith:\n  name: f1\n  port_expose: 45000\n  http: false\n"
        "  env: {A: a, B: b}\nenv:\n  B: top\n  PORT: 8080\npods:\n  - env: {DEBUG: true}\n"
    )
    assert (flow.spec.name, flow.spec.port_expose, flow.spec.http) == ("f1", 45000, False)
    assert flow.spec.env == {"A": "a", "B": "top", "PORT": "8080"}
    assert flow.pods[0].env == {"DEBUG": "true"}


def test_env_substitution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_TEST_USES", "_logforward")
    monkeypatch.setenv("MESH_TEST_REPLICAS", "3")
    flow = Flow.load_config(
        "!Flow\npods:\n  - uses: ${{ENV.MESH_TEST_USES}}\n"
        "    replicas: ${{ ENV.MESH_TEST_REPLICAS }}\n"
    )
    assert (flow.pods[0].uses, flow.pods[0].replicas) == ("_logforward", 3)


def test_unset_env_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESH_TEST_UNSET", raising=False)
    message = _load_error("!Flow\npods:\n  - uses: ${{ENV.MESH_TEST_UNSET}}\n")
    assert "MESH_TEST_UNSET is not set" in message


# -- refused input ------------------------------------------------------------------
def test_python_object_tag_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for text in (
        f'!!python/object/apply:os.system ["touch {marker}"]\n',
        f'!Flow\npods:\n  - uses: !!python/object/apply:os.system ["touch {marker}"]\n',
    ):
        assert "Python object tags are refused" in _load_error(text)
    assert not marker.exists()


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("!Flow\npods: [ {name: a\n")
    with pytest.raises(FlowConfigError, match="not valid YAML") as info:
        Flow.load_config(path)
    assert str(path) in info.value.message
    assert info.value.detail["source"] == str(path)


def test_missing_file_is_reported() -> None:
    assert "file not found: no/such/flow.yml" in _load_error("no/such/flow.yml")


@pytest.mark.parametrize(
    "text", ["- a\n- b\n", "name: x\nuses: _pass\n", "!Pod\nuses: _pass\n", "just text\n"]
)
def test_not_a_flow_shows_what_a_flow_looks_like(text: str) -> None:
    message = _load_error(text)
    assert "not a Flow YAML" in message and "pods:" in message


@pytest.mark.parametrize("version", ["2", "'1.0'", "true"])
def test_unsupported_version(version: str) -> None:
    assert "is not supported" in _load_error(f"!Flow\nversion: {version}\npods: []\n")


def test_unknown_key_names_the_pod_and_the_key() -> None:
    message = _load_error("!Flow\npods:\n  - name: pod0\n  - name: pod1\n    replica: 2\n")
    assert "pod 'pod1': unknown key 'replica' (did you mean 'replicas'?)" in message


def test_unknown_top_level_and_with_keys() -> None:
    assert "unknown top-level key 'pod' (did you mean 'pods'?)" in _load_error("!Flow\npod: []\n")
    assert "with: unknown key 'nmae'" in _load_error("!Flow\nwith: {nmae: x}\npods: []\n")


def test_zero_replicas_rejected() -> None:
    message = _load_error("!Flow\npods:\n  - name: pod0\n  - name: pod1\n    replicas: 0\n")
    assert "pod 'pod1': replicas: Input should be greater than or equal to 1" in message


def test_needs_naming_a_missing_pod() -> None:
    message = _load_error("!Flow\npods:\n  - name: a\n  - name: b\n    needs: [a, ghost]\n")
    assert "pod 'b' needs 'ghost', which is not a pod of this Flow" in message


def test_cycle_is_reported_as_a_cycle() -> None:
    message = _load_error("!Flow\npods:\n  - name: a\n    needs: c\n  - name: b\n  - name: c\n")
    assert "cycle: a -> c -> b -> a" in message


def test_pod_listed_before_what_it_needs() -> None:
    message = _load_error(
        "!Flow\npods:\n  - {name: j, needs: [a]}\n  - {name: a, needs: gateway}\n"
    )
    assert "pod 'j' needs 'a', which is listed after it" in message


def test_method_needs_without_needs() -> None:
    assert "requires `needs:`" in _load_error("!Flow\npods:\n  - {name: a, method: needs}\n")


def test_duplicate_pod_names() -> None:
    assert "two pods are named 'a'" in _load_error("!Flow\npods:\n  - name: a\n  - name: a\n")


# -- relative executor paths ----------------------------------------------------------
def test_relative_uses_paths_resolve_against_the_yaml_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cfg"
    (folder / "exec").mkdir(parents=True)
    (folder / "exec" / "enc.yml").write_text("!MyEncoder\nwith: {}\n")
    (folder / "tail.yaml").write_text("!MyTail\n")
    (folder / "flow.yml").write_text(
        "!Flow\npods:\n  - uses: ./exec/enc.yml\n    uses_after: tail.yaml\n    replicas: 2\n"
        "  - uses: missing.yml\n  - uses: _pass\n"
    )
    monkeypatch.chdir(tmp_path)
    flow = Flow.load_config("cfg/flow.yml")
    assert flow.pods[0].uses == str((folder / "exec" / "enc.yml").resolve())
    assert flow.pods[0].uses_after == str((folder / "tail.yaml").resolve())
    assert Path(flow.pods[0].uses).is_absolute()
    assert flow.pods[1].uses == "missing.yml"
    assert flow.pods[2].uses == "_pass"


def test_relative_uses_in_yaml_text_stay_as_written() -> None:
    flow = Flow.load_config("!Flow\npods:\n  - uses: ./enc.yml\n")
    assert flow.pods[0].uses == "./enc.yml"


# -- dumping -----------------------------------------------------------------------------
def _rich_flow() -> Flow:
    return (
        Flow(
            name="rich",
            port_expose=45678,
            port_http=45679,
            http=True,
            request_size=7,
            timeout_ready_s=12.5,
            log_level="DEBUG",
            env={"A": "1"},
        )
        .add(
            name="enc",
            uses="_logforward",
            env={"K": "v"},
            timeout_ready_s=5,
            uses_with={"model": {"layers": [1, 2.5, None, True], "name": "x"}, "dim": 8},
        )
        .add(
            name="left",
            replicas=3,
            polling="all",
            uses_before="_pass",
            uses_after="_merge",
            needs="enc",
            labels={"gpu": "true"},
        )
        .add(
            name="right",
            uses="mesh.executors.builtins:LogForwardExecutor",
            needs=["enc"],
            port_in=5001,
            port_out=5002,
            port_ctrl=5003,
            port_expose=8000,
            host="10.0.0.2",
            image="mesh-test:1",
        )
        .needs(["left", "right"], name="join")
        .add(uses="_pass")
    )


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    flow = _rich_flow()
    path = tmp_path / "rich.yml"
    flow.save_config(path)
    loaded = Flow.load_config(path)
    assert loaded == flow
    assert loaded.to_yaml() == flow.to_yaml()


def test_round_trip_through_text() -> None:
    flow = _rich_flow()
    assert Flow.load_config(flow.to_yaml()) == flow


@pytest.mark.parametrize("name", ["dummy_flow.yml", "dag_flow.yml"])
def test_examples_round_trip(name: str) -> None:
    flow = Flow.load_config(EXAMPLES / name)
    assert Flow.load_config(flow.to_yaml()) == flow


def test_dump_writes_only_what_differs_from_defaults() -> None:
    data = load_yaml(_rich_flow().to_yaml())
    assert data.tag == "Flow"
    assert list(data) == ["version", "with", "pods"] and data["version"] == "1"
    pods = {p["name"]: p for p in data["pods"]}
    assert all(next(iter(p)) == "name" for p in data["pods"])
    assert (
        "needs" not in pods["enc"] and "needs" not in pods["left"] and "needs" not in pods["pod4"]
    )
    assert pods["right"]["needs"] == ["enc"]
    assert pods["join"]["needs"] == ["left", "right"]
    assert pods["left"] == {
        "name": "left",
        "uses_before": "_pass",
        "uses_after": "_merge",
        "replicas": 3,
        "polling": "all",
        "labels": {"gpu": "true"},
    }
    assert all("method" not in p for p in data["pods"])


def test_default_flow_dumps_without_with() -> None:
    text = Flow().add().to_yaml()
    assert text == "!Flow\nversion: '1'\npods:\n- name: pod0\n"
    assert Flow.load_config(text) == Flow().add()


def test_first_pod_needing_gateway_is_default_but_other_needs_are_kept() -> None:
    flow = Flow().add(name="a").add(name="b", needs="gateway")
    data = load_yaml(flow.to_yaml())
    assert "needs" not in data["pods"][0]
    assert data["pods"][1]["needs"] == [GATEWAY]
    assert Flow.load_config(flow.to_yaml()) == flow


def test_value_yaml_cannot_write_is_a_clear_error() -> None:
    flow = Flow().add(uses_with={"handle": object()})
    with pytest.raises(FlowConfigError, match="YAML cannot write"):
        flow.to_yaml()


def test_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    """A few lines of nested aliases would expand to billions of values; a local Flow refuses
    them as the edge does, naming the file."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yml"
    path.write_text("!Flow\nversion: 1\nwith:\n  env: {}\n" + "\n".join(lines) + "\npods: []\n")
    with pytest.raises(FlowConfigError, match=r"bomb\.yml holds more than"):
        Flow.load_config(path)
