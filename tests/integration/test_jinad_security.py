"""The edge is not open by accident: loopback by default; beyond it a token (given, or made,
printed once and kept 0600) or a plain ``--insecure``; probes open; ``bearer`` in any case;
HTTPS with ``--tls-cert/--tls-key``; allow-lists and ``--no-uploads`` refuse with a 403
naming the rule before anything starts."""

from __future__ import annotations

import datetime
import ipaddress
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh.daemon.settings import Settings
from mesh.http.tokens import TOKEN_FILE
from tests.fixtures.docker import walkthrough
from tests.fixtures.jinad import JinadNode, pea_pids_of
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import assert_clean, upload

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DUMMY_FLOW = REPO / "examples" / "dummy_flow.yml"
PROBES = ("/alive", "/health", "/ready", "/docs/openapi.json")


def _flow(*pod_lines: str) -> str:
    return "!Flow\nversion: 1\npods:\n" + "".join(f"  {line}\n" for line in pod_lines)


def _forbidden(r: requests.Response, *words: str) -> dict[str, Any]:
    assert r.status_code == 403, f"{r.status_code}: {r.text}"
    body = r.json()
    assert set(body) == {"error", "message", "detail", "status_code"}
    assert body["error"] == "ForbiddenError" and body["status_code"] == 403
    for word in words:
        assert word in body["message"], body["message"]
    return dict(body)


def test_the_default_host_is_loopback() -> None:
    assert Settings().host == "127.0.0.1"


def test_beyond_loopback_without_a_token_jinad_makes_one(jinad_factory: Any) -> None:
    node: JinadNode = jinad_factory(host="0.0.0.0", insecure=False)
    token_file = node.state_dir / TOKEN_FILE
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert node.log().count(token) == 1, "the new token is printed once"
    assert f"kept in {token_file}" in node.log()

    for path in PROBES:  # open without a token
        assert requests.get(f"{node.url}{path}", timeout=5).status_code == 200, path
    r = requests.get(f"{node.url}/flows", timeout=5)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = requests.get(f"{node.url}/flows", headers={"Authorization": f"{scheme} {token}"}, timeout=5)
        assert r.status_code == 200, (scheme, r.text)

    # the next start keeps the token, and does not print it again
    node.stop()
    again: JinadNode = jinad_factory(name=node.name, host="0.0.0.0", insecure=False,
                                     state_dir=node.state_dir)
    assert token_file.read_text().strip() == token
    assert token not in again.log()
    assert requests.get(f"{again.url}/flows", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).status_code == 200


def test_insecure_is_open_and_says_so_once_and_the_seed_scripts_work(jinad_factory: Any) -> None:
    """The seed's scripts send no token: they work unchanged against an --insecure node."""
    node: JinadNode = jinad_factory(host="0.0.0.0", insecure=True)
    assert not (node.state_dir / TOKEN_FILE).exists()
    assert node.log().count("without a token (--insecure)") == 1
    walkthrough(node.host, node.port, DUMMY_FLOW)
    assert_clean(node)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "edge.crt", tmp / "edge.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_tls_serves_https_with_the_token(jinad_factory: Any, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    node: JinadNode = jinad_factory(tls=(cert, key), token="tls-token")
    assert node.url.startswith("https://") and re.search(r"ready: edge https://", node.log())
    auth = {"Authorization": "Bearer tls-token"}
    r = requests.get(f"{node.url}/nodes", headers=auth, verify=str(cert), timeout=5)
    assert r.status_code == 200 and r.json()["count"] == 1
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{node.url}/alive", timeout=5)  # not a certificate the system trusts
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://{node.host}:{node.port}/alive", timeout=5)  # plain HTTP: no
    pod = node.edge.create_pod({"uses": "_pass"})  # EdgeClient over HTTPS (ca_file)
    assert node.edge.delete_pod(pod["pod_id"])["status"] == "deleted"
    assert not pea_pids_of(node.proc.pid)


def test_tls_cert_without_a_key_is_one_line(tmp_path: Path) -> None:
    from mesh.daemon.main import main

    assert main(["--tls-cert", str(tmp_path / "c.pem"), "--state-dir", str(tmp_path)]) == 2


# -- allow-lists and --no-uploads --------------------------------------------------------------
@pytest.fixture(scope="module")
def ruled(jinad_module_factory: Any) -> JinadNode:
    return jinad_module_factory(extra=["--allow-uses", "mine.*", "ok:*",
                                       "--allow-images", "registry.local/team/*", "--no-uploads"])


@pytest.fixture
def strict_node(ruled: JinadNode) -> Any:
    yield ruled
    assert_clean(ruled)
    assert not (ruled.state_dir / "workspace").exists() or \
        not any((ruled.state_dir / "workspace").iterdir())


@pytest.mark.parametrize(("pod_lines", "words"), [
    (("- name: p", "  uses: evil:Thing"), ("'p'", "uses='evil:Thing'", "--allow-uses", "mine.*")),
    (("- name: p", "  uses: _pass", "  replicas: 2", "  uses_before: other.x:Y"),
     ("'p'", "uses_before='other.x:Y'", "--allow-uses")),
    (("- name: p", "  uses: ok:Exec", "  image: docker.io/evil:1"),
     ("'p'", "image='docker.io/evil:1'", "--allow-images", "registry.local/team/*")),
])
def test_a_pod_no_rule_allows_is_403_before_anything_starts(strict_node: JinadNode,
                                                             pod_lines: tuple[str, ...],
                                                             words: tuple[str, ...]) -> None:
    body = _forbidden(upload(strict_node, _flow(*pod_lines)), *words)
    assert body["detail"]["pod"] == "p" and body["detail"]["rule"] in ("allow_uses", "allow_images")
    assert not pea_pids_of(strict_node.proc.pid)


def test_put_pod_is_held_to_the_same_rules(strict_node: JinadNode) -> None:
    url = f"{strict_node.url}/pod"
    _forbidden(requests.put(url, json={"uses": "evil:Thing"}, timeout=10), "--allow-uses")
    _forbidden(requests.put(url, json={"uses": "_pass", "image": "evil:1"}, timeout=10),
               "--allow-images")
    pea = {"kind": "pea", "name": "p", "pod": "p", "port_ctrl": 5, "uses": "evil:Thing"}
    body = _forbidden(requests.put(url, json={"uses": "_pass", "peas": [pea]}, timeout=10),
                      "peas.0.uses")
    assert body["detail"]["rule"] == "allow_uses"


def test_builtins_and_allowed_names_pass(strict_node: JinadNode) -> None:
    created = strict_node.edge.create_pod({"uses": "_logforward"})
    strict_node.edge.delete_pod(created["pod_id"])
    # allowed by the rule, refused as unknown afterwards (a 400 of the executor check)
    r = upload(strict_node, _flow("- name: p", "  uses: mine.nothing:Here"))
    assert r.status_code == 400 and "mine.nothing" in r.json()["message"], r.text


def test_no_uploads_refuses_a_flow_with_files(strict_node: JinadNode) -> None:
    r = upload(strict_node, _flow("- name: p", "  uses: ok:Exec"), {"ok.py": b"X = 1\n"})
    body = _forbidden(r, "--no-uploads", "ok.py")
    assert body["detail"] == {"rule": "no_uploads", "files": ["ok.py"]}
    r = upload(strict_node, _flow("- name: p", "  uses: _pass"))  # no files: fine
    assert r.status_code == 200, r.text
    strict_node.edge.delete_flow(r.json()["flow_id"])


def test_the_generated_token_rotates_without_a_restart(jinad_factory: Any) -> None:
    """`jinad token rotate` on the state dir: the running jinad refuses the old token within a
    second or two and takes the new one; its process and its Flows keep running."""
    node: JinadNode = jinad_factory(host="0.0.0.0", insecure=False)
    old = (node.state_dir / TOKEN_FILE).read_text().strip()
    created = requests.put(f"{node.url}/flow/yaml", headers={"Authorization": f"Bearer {old}"},
                           files=[("yamlspec", ("f.yml", b"!Flow\nversion: 1\npods:\n  - name: p\n"))],
                           timeout=60)
    assert created.status_code == 200, created.text
    flow = created.json()
    out = subprocess.run([sys.executable, "-m", "mesh.daemon.main", "token", "rotate", "--state-dir",
                          str(node.state_dir)], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    new = (node.state_dir / TOKEN_FILE).read_text().strip()
    assert new != old and new in out.stdout
    assert stat.S_IMODE((node.state_dir / TOKEN_FILE).stat().st_mode) == 0o600

    def status(token: str) -> int:
        return requests.get(f"{node.url}/flows", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).status_code

    wait_for(lambda: status(old) == 401, timeout_s=10, what="the old token refused")
    assert status(new) == 200
    served = requests.post(f"http://127.0.0.1:{flow['port_http']}/post/index",
                           json={"data": ["still here"]}, timeout=30)
    assert served.status_code == 200, served.text  # the Flow never stopped
    assert node.proc.poll() is None
    requests.delete(f"{node.url}/flow", params={"flow_id": flow["flow_id"]},
                    headers={"Authorization": f"Bearer {new}"}, timeout=30)
