"""A real Prometheus scrapes a 3-node mesh found through ``/sd/prometheus``.

Three jinads on the loopback share the first one's embedded broker (the others join with
the command ``jinad credentials add-node`` prints) and one edge token. Prometheus (Debian's
package, ``.ci/prometheus-setup.sh``) runs with the scrape config of
``deploy/prometheus/prometheus.yml``, pointed at the first node, its token and 1 s intervals;
the test asks its HTTP API until every node is up and the Flow's counters say what was sent.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from mesh.net.ports import free_port
from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import upload

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMETHEUS = "/usr/bin/prometheus"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "prometheus.yml"
TOKEN = "prometheus-test-token"
REQUESTS = 7
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Any]:
    """``start(sd_url)``: a Prometheus on a free loopback port; stopped at teardown."""
    if not Path(PROMETHEUS).exists():
        pytest.skip("no /usr/bin/prometheus: bash .ci/prometheus-setup.sh installs it")
    started: list[subprocess.Popen[bytes]] = []

    def start(sd_url: str) -> str:
        config = yaml.safe_load(DEPLOY.read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        job = config["scrape_configs"][0]
        job["http_sd_configs"][0].update(url=sd_url, refresh_interval="1s")
        (tmp_path / "mesh-token").write_text(TOKEN)
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        started.append(proc)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "prometheus.log").read_text())
            return requests.get(f"{url}/-/ready", timeout=2).status_code == 200

        wait_for(ready, timeout_s=30, ignore=(requests.ConnectionError,), what="Prometheus ready")
        return url

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert all(p.returncode is not None for p in started)
    shutil.rmtree(tmp_path / "tsdb", ignore_errors=True)


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    r = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _value(url: str, promql: str) -> float | None:
    result = _query(url, promql)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_finds_and_scrapes_every_node(jinad_factory: Any, prometheus: Any) -> None:
    alpha: JinadNode = jinad_factory(name="alpha", token=TOKEN)
    others = [jinad_factory(name=n, token=TOKEN, extra=alpha.join_args(n)) for n in ("beta", "gamma")]
    wait_for(lambda: len(alpha.edge.nodes()) == 3, timeout_s=15, what="3 nodes in the mesh")
    r = upload(alpha, "!Flow\nversion: 1\npods:\n"
               "  - name: one\n    uses: _pass\n    host: beta\n"
               "  - name: two\n    uses: _pass\n    host: gamma\n", headers=AUTH)
    assert r.status_code == 200, r.text
    flow = r.json()
    gw = flow["gateway"]
    for i in range(REQUESTS):
        r = requests.post(f"http://{gw['host']}:{gw['port_http']}/post/index",
                          json={"data": [f"doc {i}", f"doc {i}b"]}, timeout=30)
        assert r.status_code == 200, r.text

    url = prometheus(f"{alpha.url}/sd/prometheus")
    up = wait_for(lambda: len(_query(url, 'up{job="mesh"} == 1')) == 3 and
                  _query(url, 'up{job="mesh"} == 1'), timeout_s=60, what="3 targets up")
    assert {s["metric"]["instance"] for s in up} == {"alpha", "beta", "gamma"}
    fid = flow["flow_id"]
    counts = {
        "gateway": f'sum(mesh_gateway_requests_total{{flow="{fid}",endpoint="/index"}})',
        "one": f'sum(mesh_pea_requests_total{{flow="{fid}",pod="one",node="beta"}})',
        "two": f'sum(mesh_pea_requests_total{{flow="{fid}",pod="two",node="gamma"}})',
        "docs": f'sum(mesh_pea_documents_total{{flow="{fid}",pod="two"}}) / 2',
    }
    for what, promql in counts.items():
        wait_for(lambda q=promql: _value(url, q) == REQUESTS, timeout_s=30,  # type: ignore[misc]
                 what=f"{what}: {REQUESTS} requests in Prometheus")
    latency = _value(url, f'sum(mesh_gateway_request_duration_seconds_count{{flow="{fid}"}})')
    assert latency == REQUESTS
    assert _value(url, 'count(process_resident_memory_bytes{job="mesh"})') == 3
    alpha.edge.delete_flow(fid)
    for node in others:
        node.stop()
