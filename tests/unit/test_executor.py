"""Executors: binding methods to endpoints, calling them on a request, loading them from ``uses``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mesh import Document, DocumentArray, Executor, Request, requests
from mesh.errors import ExecutorNotFoundError, FlowConfigError
from mesh.executors.builtins import BUILTINS
from mesh.executors.dispatch import RESULTS_KEY, run_handler
from mesh.executors.loader import check_uses, load_executor
from mesh.executors.reduce import merge_by_id

pytestmark = pytest.mark.unit


class Bound(Executor):
    @requests
    def default(self, docs: DocumentArray) -> None:
        for d in docs:
            d.tags["by"] = "default"

    @requests(on="/index")
    def index(self, docs: DocumentArray, parameters: dict[str, Any]) -> None:
        for d in docs:
            d.text = d.text.upper()
            d.tags["p"] = parameters.get("p")

    @requests(on=["/search", "/find"])
    def search(self, docs: DocumentArray) -> DocumentArray:
        return DocumentArray(Document(id=f"new-{d.id}", text="found") for d in docs)

    @requests(on="/stats")
    def stats(self, docs: DocumentArray) -> dict[str, Any]:
        return {"count": len(docs)}

    @requests(on="/header")
    def header(self, request: Request, endpoint: str) -> None:
        request.parameters["seen"] = [endpoint, request.num_docs]

    @requests(on="/bad")
    def bad(self, docs: DocumentArray) -> Any:
        return 42

    @requests(on="/boom")
    def boom(self, docs: DocumentArray) -> None:
        raise ValueError("cannot handle this")


def received(endpoint: str, docs: list[Document], **parameters: Any) -> Request:
    """A request as a Pea receives it: from frames, Documents not decoded yet."""
    sent = Request.new(endpoint, docs, parameters=parameters).to_frames()
    return Request.from_frames([bytes(f) for f in sent])


def test_requests_bare_binds_every_endpoint_and_on_binds_one_or_several() -> None:
    ex = Bound()
    assert ex.handler_for("/anything").name == "default"
    assert ex.handler_for("/index").name == "index"
    assert ex.handler_for("/search").name == ex.handler_for("/find").name == "search"


def test_executor_without_default_ignores_other_endpoints() -> None:
    class OnlyIndex(Executor):
        @requests(on="/index")
        def index(self, docs: DocumentArray) -> None: ...

    req = received("/search", [Document(text="a")])
    assert OnlyIndex().handler_for("/search") is None
    assert run_handler(OnlyIndex(), req, pod="p")
    assert not req.decoded and not req.failed


def test_subclass_inherits_and_overrides_bindings() -> None:
    class Child(Bound):
        @requests(on="/index")
        def index2(self, docs: DocumentArray) -> None: ...

    assert Child().handler_for("/index").name == "index2"
    assert Child().handler_for("/search").name == "search"
    assert Bound().handler_for("/index").name == "index"


def test_in_place_change_with_parameters() -> None:
    req = received("/index", [Document(text="hi")], p=7)
    assert run_handler(Bound(), req, pod="p")
    assert (req.docs[0].text, req.docs[0].tags["p"]) == ("HI", 7)


def test_returned_documents_replace_the_request_documents() -> None:
    req = received("/find", [Document(id="a"), Document(id="b")])
    assert run_handler(Bound(), req, pod="p")
    assert req.docs.ids == ["new-a", "new-b"]


def test_returned_dict_goes_to_parameters_under_the_pod_name() -> None:
    req = received("/stats", [Document(), Document()])
    assert run_handler(Bound(), req, pod="counter")
    assert req.parameters[RESULTS_KEY] == {"counter": {"count": 2}}
    assert req.num_docs == 2


def test_method_taking_only_request_does_not_decode_documents() -> None:
    req = received("/header", [Document(blob=np.arange(10))])
    assert run_handler(Bound(), req, pod="p")
    assert not req.decoded
    assert req.parameters["seen"] == ["/header", 1]


def test_raising_method_marks_the_request_failed_with_pod_and_message() -> None:
    req = received("/boom", [Document()])
    assert not run_handler(Bound(), req, pod="enc")
    assert req.failed
    st = req.status
    assert (st["pod"], st["error"], st["message"]) == ("enc", "ValueError", "cannot handle this")
    assert "boom" in st["traceback"]


def test_wrong_return_type_fails_the_request_with_what_to_return() -> None:
    req = received("/bad", [Document()])
    assert not run_handler(Bound(), req, pod="p")
    assert req.status["error"] == "TypeError"
    assert "Bound.bad returned int" in req.status["message"]
    assert "return None, a list of Documents, or a dict" in req.status["message"]


def test_docs_matrix_holds_the_parts_as_sent() -> None:
    class Join(Executor):
        @requests
        def join(self, docs_matrix: list[DocumentArray]) -> None:
            self.seen = [[m.id for d in part for m in d.matches] for part in docs_matrix]

    a = DocumentArray([Document(id="d", matches=[Document(id="ma")])])
    b = DocumentArray([Document(id="d", matches=[Document(id="mb")])])
    merged = merge_by_id([a, b])
    assert [m.id for m in merged[0].matches] == ["ma", "mb"]
    ex = Join()
    assert run_handler(ex, Request.new("/x", merged), pod="j", docs_matrix=[a, b])
    assert ex.seen == [["ma"], ["mb"]]


# -- constructing and loading -------------------------------------------------------


class WithArgs(Executor):
    def __init__(self, greeting: str = "hello", times: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.greeting, self.times = greeting, times


class NoSuper(Executor):
    def __init__(self, size: int) -> None:
        self.size = size


def test_uses_with_are_constructor_arguments_and_metas_are_set() -> None:
    ex = load_executor(f"{__name__}:WithArgs", uses_with={"greeting": "hej", "times": 3},
                       metas={"name": "pod0", "replica_id": 2})
    assert isinstance(ex, WithArgs)
    assert (ex.greeting, ex.times) == ("hej", 3)
    assert ex.metas == {"name": "pod0", "replica_id": 2}


def test_executor_without_metas_argument_still_gets_metas() -> None:
    ex = load_executor(f"{__name__}.NoSuper", uses_with={"size": 4}, metas={"name": "p"})
    assert isinstance(ex, NoSuper) and ex.size == 4 and ex.metas == {"name": "p"}


def test_unknown_uses_with_argument_is_a_config_error() -> None:
    with pytest.raises(FlowConfigError, match="WithArgs.*colour"):
        load_executor(f"{__name__}:WithArgs", uses_with={"colour": "red"})
    with pytest.raises(FlowConfigError, match="Bound.*unexpected arguments: x"):
        load_executor(f"{__name__}:Bound", uses_with={"x": 1})


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_load_by_name(name: str) -> None:
    assert type(load_executor(name)) is BUILTINS[name]


def test_unknown_builtin_lists_the_builtins() -> None:
    with pytest.raises(ExecutorNotFoundError) as info:
        load_executor("_nope")
    assert "'_nope'" in info.value.message
    for name in ("_pass", "_route", "_logforward", "_merge", "_merge_matches", "_merge_chunks"):
        assert name in info.value.message


@pytest.mark.parametrize("uses, what", [
    ("no.such.module:X", "cannot import 'no.such.module'"),
    ("mesh.types.document:Document", "does not name an Executor subclass"),
    ("mesh.executors.builtins:Nope", "does not name an Executor subclass"),
    ("SomeName", "use a built-in .*import path"),
])
def test_bad_import_paths(uses: str, what: str) -> None:
    with pytest.raises(ExecutorNotFoundError, match=what):
        load_executor(uses)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_executor_yaml_with_py_modules_relative_to_the_yaml(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "cfg" / "lib" / "my_exec.py", """
        from mesh import Executor, requests

        class MyExec(Executor):
            def __init__(self, factor=1, **kwargs):
                super().__init__(**kwargs)
                self.factor = factor

            @requests
            def scale(self, docs):
                for d in docs:
                    d.embedding = d.embedding * self.factor
    """)
    yml = _write(tmp_path / "cfg" / "exec.yml", """
        !MyExec
        with:
          factor: 3
        metas:
          py_modules: [lib/my_exec.py]
    """)
    monkeypatch.chdir(tmp_path)  # somewhere else than the YAML's folder
    ex = load_executor(str(yml), uses_with={}, metas={"name": "pod0"})
    assert type(ex).__name__ == "MyExec" and ex.factor == 3
    assert ex.metas["name"] == "pod0" and ex.metas["py_modules"] == ["lib/my_exec.py"]
    req = Request.new("/x", [Document(embedding=np.ones(2))])
    assert run_handler(ex, req, pod="pod0")
    assert req.docs[0].embedding.tolist() == [3.0, 3.0]
    assert load_executor("exec.yml", uses_with={"factor": 5}, base_dir=str(yml.parent)).factor == 5


def test_executor_yaml_problems(tmp_path: Path) -> None:
    with pytest.raises(ExecutorNotFoundError, match="missing.yml.*does not exist"):
        load_executor(str(tmp_path / "missing.yml"))
    untagged = _write(tmp_path / "untagged.yml", "with: {a: 1}\n")
    with pytest.raises(FlowConfigError, match="must start with the executor's class as a tag"):
        load_executor(str(untagged))
    unknown = _write(tmp_path / "unknown.yml", "!_pass\nwith: {}\nmetass: {}\n")
    with pytest.raises(FlowConfigError, match="unknown keys.*metass"):
        load_executor(str(unknown))
    no_module = _write(tmp_path / "nomod.yml", "!X\nmetas:\n  py_modules: [gone.py]\n")
    with pytest.raises(ExecutorNotFoundError, match="gone.py.*does not exist"):
        load_executor(str(no_module))
    broken = _write(tmp_path / "broken.yml", "!X\nwith: [unclosed\n")
    with pytest.raises(FlowConfigError, match="broken.yml is not valid YAML"):
        load_executor(str(broken))
    python_tag = _write(tmp_path / "py.yml", "!!python/object/apply:os.system ['true']\n")
    with pytest.raises(FlowConfigError, match="Python object tags are refused"):
        load_executor(str(python_tag))


def test_check_uses_runs_no_user_code(tmp_path: Path) -> None:
    """What a Flow checks before starting processes: names and files, not imports of user modules."""
    check_uses("_merge_matches")
    check_uses("tests.integration.executors.not_a_module:Anything")  # only its package is looked up
    yml = _write(tmp_path / "e.yml", "!Anything\nmetas:\n  py_modules: [raises_on_import.py]\n")
    _write(tmp_path / "raises_on_import.py", "raise SystemExit('imported')\n")
    check_uses(str(yml))
    check_uses("e.yml", base_dir=str(tmp_path))
    with pytest.raises(ExecutorNotFoundError, match="no module named 'nosuchpkg'"):
        check_uses("nosuchpkg.mod:X")
    with pytest.raises(ExecutorNotFoundError, match="unknown built-in"):
        check_uses("_nope")
    with pytest.raises(ExecutorNotFoundError, match="does not exist"):
        check_uses("e.yml")
