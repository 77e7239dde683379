"""The dashboard (``GET /ui``) in a real headless Chromium (Debian's, driven by Selenium):
a 3-node mesh whose page node needs a token, so the page asks for it once and gets a cookie;
then it lists the 3 nodes, draws the Flow's pods, shows a log line this test caused and the
Flow's lifecycle events. A screenshot is saved in the test's tmp dir (``MESH_DASHBOARD_PNG``
names a second copy, e.g. docs/dashboard.png)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh import Document
from mesh.client.client import Client
from tests.fixtures.jinad import JinadNode
from tests.fixtures.waiting import wait_for

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOKEN = "dashboard-token-123"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLOW = """\
!Flow
version: 1
pods:
  - name: ingest
    uses: _logforward
    host: beta
  - name: encode
    uses: _logforward
    replicas: 2
    host: gamma
  - name: index
    uses: _logforward
    needs: [ingest, encode]
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("no chromium and chromedriver (bash .ci/browser-setup.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1100", "--no-proxy-server"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, what: str, predicate: Any, timeout_s: float = 30) -> Any:
    return WebDriverWait(driver, timeout_s).until(lambda d: predicate(d), message=what)


def _texts(driver: Any, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def test_dashboard_shows_the_mesh(jinad_factory: Any, browser: Any, tmp_path: Path) -> None:
    alpha: JinadNode = jinad_factory(name="alpha", token=TOKEN)
    for name in ("beta", "gamma"):
        jinad_factory(name=name, extra=alpha.join_args(name))
    wait_for(lambda: len(alpha.edge.nodes()) == 3, timeout_s=15, what="3 nodes in GET /nodes")
    created = put_flow_with_token(alpha, FLOW)
    flow_id = created["flow_id"]

    # the page itself is open; the API is not, until the page's login sets the cookie
    browser.get(f"{alpha.url}/ui")
    form = _wait(browser, "the login form", lambda d: d.find_element(By.ID, "login").is_displayed()
                 and d.find_element(By.ID, "login"))
    browser.find_element(By.ID, "token").send_keys("wrong")
    form.submit()
    _wait(browser, "a wrong token refused", lambda d: "wrong token" in d.find_element(By.ID, "login-error").text)
    browser.find_element(By.ID, "token").clear()
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    form.submit()
    _wait(browser, "3 nodes listed",
          lambda d: sorted(_texts(d, "#nodes tbody tr td:first-child")) == ["alpha", "beta", "gamma"])
    cookie = browser.get_cookie("mesh_token")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert requests.get(f"{alpha.url}/nodes", cookies={"mesh_token": TOKEN}, timeout=5).status_code == 200
    assert requests.get(f"{alpha.url}/nodes", cookies={"mesh_token": "x"}, timeout=5).status_code == 401

    # the Flow: listed, selected, drawn as its pods with the edges of their needs
    _wait(browser, "the Flow listed", lambda d: flow_id in _texts(d, "#flows tbody td:first-child"))
    _wait(browser, "the pods drawn running", lambda d: sorted(
        e.get_attribute("data-pod") for e in d.find_elements(By.CSS_SELECTOR, "#graph g.pod.s-running")
    ) == ["encode", "gateway", "index", "ingest"])
    edges = {(e.get_attribute("data-from"), e.get_attribute("data-to"))
             for e in browser.find_elements(By.CSS_SELECTOR, "#graph path.edge")}
    assert edges == {("gateway", "ingest"), ("ingest", "encode"), ("ingest", "index"),
                     ("encode", "index")}
    encode = browser.find_element(By.CSS_SELECTOR, '#graph g.pod[data-pod="encode"]').text
    assert "×2" in encode and "gamma" in encode, encode

    # a request through the Flow's gateway: each _logforward pod logs it, the page shows it live
    with Client(host=created["host"], port_expose=created["port"]) as client:
        client.index([Document(text="from the dashboard test")])
    _wait(browser, "the request's log line", lambda d: any(
        "recv" in t and "index/" in t for t in _texts(d, "#logs li")))
    _wait(browser, "lifecycle events", lambda d: any(
        " ready " in t and "encode/" in t and "@gamma" in t for t in _texts(d, "#events li")))

    # the filters: one pod, then errors only
    webdriver.support.ui.Select(browser.find_element(By.ID, "log-pod")).select_by_value("index")
    shown = [t for t in _texts(browser, "#logs li") if t]
    assert shown and all(" index/" in t for t in shown), shown
    webdriver.support.ui.Select(browser.find_element(By.ID, "log-level")).select_by_value("40")
    assert not [t for t in _texts(browser, "#logs li") if t and "ERROR" not in t]
    webdriver.support.ui.Select(browser.find_element(By.ID, "log-level")).select_by_value("0")
    webdriver.support.ui.Select(browser.find_element(By.ID, "log-pod")).select_by_value("")

    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    if copy := os.environ.get("MESH_DASHBOARD_PNG"):
        shutil.copyfile(shot, copy)
    alpha.edge.delete_flow(flow_id)


def put_flow_with_token(node: JinadNode, yaml_text: str) -> dict[str, Any]:
    r = requests.put(f"{node.url}/flow/yaml", files=[("yamlspec", ("flow.yml", yaml_text.encode()))],
                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert r.status_code == 200, r.text
    return dict(r.json())
