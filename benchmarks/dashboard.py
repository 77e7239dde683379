"""The dashboard's page load with 10 nodes and 5 Flows: ten jinads on 127.0.0.1 (nine joined
to the first one's embedded broker), five one-pod Flows, the page opened in Debian's
headless Chromium (Selenium) again and again. Measured by the browser itself: first
contentful paint, and the moment the page has drawn the 10 nodes and 5 Flows (its own
``performance.mark("dashboard-rendered")``). Without chromium, chromedriver or selenium,
one ``skipped`` line says why."""

from __future__ import annotations

import shutil
import time
from typing import Any

from benchmarks.context import Context
from benchmarks.jinad_flow import flow_yaml
from benchmarks.nodes import JinadNode, start_node, stop_node, wait_nodes
from benchmarks.report import median

__all__ = ["run"]

NODES = 10
FLOWS = 5
_TIMES = """
const nav = performance.getEntriesByType("navigation")[0];
const paint = performance.getEntriesByName("first-contentful-paint")[0];
const done = performance.getEntriesByName("dashboard-rendered")[0];
return [paint ? paint.startTime : null, done ? done.startTime : null,
        nav ? nav.responseEnd - nav.startTime : null];
"""


def _skip_reason() -> str | None:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return "no chromium and chromedriver (bash .ci/browser-setup.sh installs them)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extra has it)"
    return None


def _browser() -> Any:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1100", "--no-proxy-server"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(shutil.which("chromedriver")))


def _mesh(ctx: Context) -> JinadNode:
    first = start_node(ctx.tmp, name="dash0")
    ctx.stack.callback(stop_node, first)
    for i in range(1, NODES):
        node = start_node(ctx.tmp, name=f"dash{i}", extra=first.join_args(f"dash{i}"))
        ctx.stack.callback(stop_node, node)
    wait_nodes(first, NODES, timeout_s=30)
    for i in range(FLOWS):
        flow_id = first.edge.create_flow(flow_yaml([f"dash{2 * i + 1}"]))["flow_id"]
        ctx.stack.callback(first.edge.delete_flow, flow_id)
    return first


def _load(driver: Any, url: str, timeout_s: float = 30) -> tuple[float, float, float]:
    driver.get(url)
    deadline = time.monotonic() + timeout_s
    while True:
        paint, done, served = driver.execute_script(_TIMES)
        if paint is not None and done is not None:
            return paint, done, served
        if time.monotonic() > deadline:
            raise TimeoutError(f"the dashboard did not render within {timeout_s:g} s")
        time.sleep(0.05)


def run(ctx: Context, name: str) -> None:
    why = _skip_reason()
    if why:
        ctx.report.emit(name, "skipped", None, None, params={"reason": why})
        return
    node = _mesh(ctx)
    driver = _browser()
    ctx.stack.callback(driver.quit)
    url = f"{node.url}/ui"
    _load(driver, url)  # warm: the browser's own start, the edge's first answers
    samples = [_load(driver, url) for _ in range(ctx.pick(10, 3))]
    params = {"nodes": NODES, "flows": FLOWS, "loads": len(samples)}
    for metric, i in (("first_paint_ms", 0), ("rendered_ms", 1), ("html_served_ms", 2)):
        values = [s[i] for s in samples]
        ctx.report.emit(name, metric, median(values), "ms",
                        params={**params, "samples_ms": [round(v, 1) for v in values]})
