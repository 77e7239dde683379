"""Big inputs stay off the event loop and out of single messages: a 20 MB Flow YAML is read in
a worker thread while /alive keeps answering; a YAML over the record's limit is kept in the
object store and reads back whole; pod arguments one message could not carry are a 400."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from mesh.scheduler.deployer import INLINE_YAML_BYTES
from tests.fixtures.jinad import JinadNode
from tests.integration.jinad_support import assert_clean, upload

pytestmark = pytest.mark.integration

HEAD = "!Flow\nversion: 1\npods:\n  - name: p\n    uses: _pass\n"
LINE = "# " + "c" * 77 + "\n"  # 80 bytes


def _yaml_of(size: int) -> str:
    return HEAD + LINE * ((size - len(HEAD)) // len(LINE))


class AlivePoller:
    """Polls /alive every 0.1 s in a thread; records the slowest answer and any failure."""

    def __init__(self, node: JinadNode) -> None:
        self.url = f"{node.url}/alive"
        self.slowest_s = 0.0
        self.answers = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            started = time.monotonic()
            try:
                r = requests.get(self.url, timeout=10)
                if r.status_code != 200:
                    self.failures.append(f"{r.status_code}: {r.text[:200]}")
            except requests.RequestException as exc:
                self.failures.append(repr(exc))
            self.slowest_s = max(self.slowest_s, time.monotonic() - started)
            self.answers += 1

    def __enter__(self) -> AlivePoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


@pytest.fixture
def clean(node: JinadNode) -> Iterator[JinadNode]:
    yield node
    assert_clean(node)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_20_mb_yaml_does_not_stall_the_edge(clean: JinadNode) -> None:
    text = _yaml_of(20 * 1024 * 1024)
    with AlivePoller(clean) as poller:
        r = upload(clean, text, timeout_s=240)
    assert not poller.failures, poller.failures[:5]
    assert poller.answers > 10 and poller.slowest_s < 2.0, (poller.answers, poller.slowest_s)
    assert r.status_code == 200, r.text[:500]
    flow_id = r.json()["flow_id"]
    back = requests.get(f"{clean.url}/flow/{flow_id}", params={"yaml_only": "1"}, timeout=60)
    assert back.status_code == 200 and len(back.text) == len(text) and back.text == text
    clean.edge.delete_flow(flow_id)


def test_a_2_mb_yaml_flow_starts_and_reads_back(clean: JinadNode) -> None:
    text = _yaml_of(2 * 1024 * 1024)
    assert len(text.encode()) > 2 * INLINE_YAML_BYTES
    r = upload(clean, text, timeout_s=60)
    assert r.status_code == 200, r.text[:500]
    flow_id = r.json()["flow_id"]
    try:
        back = requests.get(f"{clean.url}/flow/{flow_id}", params={"yaml_only": "1"}, timeout=30)
        assert back.headers["content-type"].startswith("application/yaml")
        assert back.text == text
        info = requests.get(f"{clean.url}/flow/{flow_id}", timeout=30).json()
        assert info["yaml"] == text and info["status"] == "running"
        listed = requests.get(f"{clean.url}/flows", timeout=30).json()["flows"]
        assert [(f["flow_id"], f["yaml"]) for f in listed] == [(flow_id, "")]  # too big to list
    finally:
        clean.edge.delete_flow(flow_id)
    assert requests.get(f"{clean.url}/flow/{flow_id}", timeout=5).status_code == 404


def test_pod_arguments_too_big_for_one_message(clean: JinadNode) -> None:
    big = "x" * (1024 * 1024)
    r = upload(clean, HEAD + f"    uses_with:\n      blob: {big}\n", timeout_s=60)
    assert r.status_code == 400, r.text[:500]
    body = r.json()
    assert body["detail"]["field"] == "uses_with" and "'p'" in body["message"], body
    r = requests.put(f"{clean.url}/pod", json={"uses": "_pass", "uses_with": {"blob": big}}, timeout=30)
    assert r.status_code == 400 and r.json()["detail"]["field"] == "uses_with", r.text[:500]
