"""The README is true: every Python and shell block runs as written, against a real jinad.

Each fenced ``python``/``py``, ``bash``/``sh``/``shell`` and ``console`` block is one test
case, named by its line (``README.md:123``), run in order in one working directory (a copy
of ``examples/`` and ``deploy/``, plus the files of ``file`` blocks): Python in a fresh
``python -c``, shell with ``bash -euo pipefail -c``, each with a deadline; it must exit 0,
print what the README shows (below), and leave no process behind.

Markers: an HTML comment on the line right before the fence, several joined by ``;``::

    <!-- readme-test: skip (why) -->     not run; the reason is required. Keep them rare.
    <!-- readme-test: background -->     long-running commands, one per line: each is started
                                          in order and waited for until it says it is ready
                                          (jinad: "ready: edge", nats-server: "Server is
                                          ready", `mesh flow`: "gateway:", else a line with
                                          "ready"), then all are stopped (SIGINT, as Ctrl-C)
                                          and must exit 0 and leave nothing running. They get
                                          ports of their own (not the test's jinad).
    <!-- readme-test: needs jinad -->    talks to a running jinad: the test's own (started
                                          once, on a free port, temp state dir). Implied by
                                          the example edge port or a flow id.
    <!-- readme-test: needs flow -->     talks to a running Flow: the test starts one
                                          (examples/dummy_flow.yml) on its jinad for the block
                                          and removes it after. Implied by the example gateway
                                          port or $PORT_HTTP when no earlier block printed a
                                          Flow's id.
    <!-- readme-test: file NAME -->      not run: the block's text is written to NAME in the
                                          working directory of the blocks after it.

A block without a marker must run. Example values, replaced in the block (and in the copy of
``deploy/``) before it runs (``tests/fixtures/readme.py``): every IPv4 address and
``localhost`` → 127.0.0.1; port 8000 → the jinad's edge, 4222 → its NATS, 8222 → NATS
monitoring, 45678 → a Flow's gateway (ZeroMQ); a flow id (any UUID) → the id the last block
printed, else the test's own Flow's. Environment: ``$PORT_HTTP`` (the Flow's HTTP JSON port),
``$T`` (a token), ``JINAD_PORT``/``JINAD_NATS_PORT``/``JINAD_STATE_DIR``/``JINAD_HOST``/
``JINAD_ADVERTISE_HOST`` (a bare ``jinad`` of a background block gets free ports and a temp
state dir, bound to and advertised on loopback).

Shown output: in Python, ``print(...)  # text`` means the text is printed; in a console
block, every line that is not a ``$ `` command is output. Each must appear in stdout, in order
(``...`` matches anything; ids, addresses and numbers of 4+ digits match any). All blocks
together have ``TOTAL_BUDGET_S``; each one at most ``BLOCK_TIMEOUT_S`` of it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from mesh.errors import MeshError
from mesh.net.ports import free_port
from tests.fixtures.jinad import JinadNode, start_jinad, stop_nodes
from tests.fixtures.readme import (
    UUID,
    Block,
    background_commands,
    console_script,
    expected_output,
    extract,
    stray_markers,
    substitute,
    uses,
)
from tests.fixtures.waiting import wait_for
from tests.integration.jinad_support import remove_all_flows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
COPIED = ("examples", "deploy")
BLOCK_TIMEOUT_S = 45.0
TOTAL_BUDGET_S = 90.0  # every block together, from the first one's start
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
LEFT_TIMEOUT_S = 10.0
TAG = "MESH_README_RUN"
READY = {"jinad": r"ready: edge", "nats-server": r"Server is ready", "mesh flow": r"^gateway: "}

BLOCKS = [b for b in extract(README) if b.kind or b.marks or b.problems]


# -- processes: every one a block starts carries a tag in its environment ----------------
def tagged(tag: str) -> list[int]:
    """Live (non-zombie) processes whose environment carries ``TAG=tag``."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] not in "ZX":
            found.append(int(entry.name))
    return sorted(found)


def describe(pids: list[int]) -> str:
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            cmd = "?"
        out.append(f"{pid} {cmd[:120]}")
    return "; ".join(out)


def assert_nothing_left(tag: str, what: str) -> None:
    """Wait (bounded) for every process tagged ``tag`` to exit; SIGKILL and fail otherwise."""
    try:
        wait_for(lambda: not tagged(tag), timeout_s=LEFT_TIMEOUT_S, what=f"{what} to exit")
    except AssertionError:
        left = tagged(tag)
        report = describe(left)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pytest.fail(f"{what} left processes running: {report}")


def tail(text: str, n: int = 4000) -> str:
    return text if len(text) <= n else "..." + text[-n:]


# -- the walk: one working directory and one jinad for every block, in order -------------
@dataclass
class Walk:
    root: Path
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    node: JinadNode | None = None
    printed_id: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    deadline: float = field(default_factory=lambda: time.monotonic() + TOTAL_BUDGET_S)

    def timeout_s(self, block: Block) -> float:
        """This block's deadline: its own, within what is left of the README's budget."""
        left_s = self.deadline - time.monotonic()
        assert left_s > 1, f"{block.id}: the README's blocks ran past {TOTAL_BUDGET_S:g} s together"
        return min(BLOCK_TIMEOUT_S, left_s)

    @property
    def work(self) -> Path:
        return self.root / "work"

    def jinad(self) -> JinadNode:
        if self.node is None or self.node.proc.poll() is not None:
            self.node = start_jinad(self.root, name="readme", env={TAG: "jinad"},
                                    state_dir=self.root / "state-jinad")
        return self.node

    def prepare(self, values: dict[str, Any]) -> None:
        """The working directory as this block finds it: what earlier blocks left, fresh
        copies of examples/ and deploy/ with this block's values, the ``file`` blocks."""
        self.work.mkdir(exist_ok=True)
        for name in COPIED:
            shutil.rmtree(self.work / name, ignore_errors=True)
            shutil.copytree(REPO / name, self.work / name)
        for path in (self.work / "deploy").rglob("*"):
            if path.is_file():
                path.write_text(substitute(path.read_text(encoding="utf-8"), values),
                                encoding="utf-8")
        for name, text in self.files.items():
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            (self.work / name).write_text(substitute(text, values), encoding="utf-8")

    def live_printed_flow(self) -> dict[str, Any] | None:
        """The Flow whose id an earlier block printed, while it runs on the test's jinad."""
        if not self.printed_id or self.node is None:
            return None
        try:
            return self.node.edge.get_flow(self.printed_id)
        except MeshError:
            return None

    def env(self, tag: str, values: dict[str, Any]) -> dict[str, str]:
        env = {**os.environ, TAG: tag, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8",
               "PYTHONUNBUFFERED": "1", "T": self.token, "JINAD_HOST": "127.0.0.1",
               "JINAD_ADVERTISE_HOST": "127.0.0.1",
               "JINAD_STATE_DIR": str(self.root / f"state-{tag}"),
               "JINAD_PORT": str(values["edge_port"]), "JINAD_NATS_PORT": str(values["nats_port"])}
        if values.get("port_http"):
            env["PORT_HTTP"] = str(values["port_http"])
        return env


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    state = Walk(tmp_path_factory.mktemp("readme"))
    yield state
    if state.node is not None:
        if state.node.proc.poll() is None:
            remove_all_flows(state.node)  # a walkthrough may end with its Flow running
        leftovers = stop_nodes([state.node])
        assert not leftovers, f"Peas left behind by the README's jinad: {leftovers}"
    assert_nothing_left("jinad", "the README's jinad")


# -- the values a block's example addresses stand for ------------------------------------
@dataclass
class Setup:
    values: dict[str, Any]
    flow_id: str | None = None  # a Flow the test started for this block


def setup_values(block: Block, walk: Walk) -> Setup:
    used = uses(block.text) | {v for t in walk.files.values() for v in uses(t)}
    values: dict[str, Any] = {"host": "127.0.0.1", "nats_http_port": free_port()}
    if "background" in block.marks:
        values.update(edge_port=free_port(), nats_port=free_port())
        return Setup(values)
    wants_flow = bool(used & {"gateway_port", "port_http"}) or "flow" in block.needs
    if not (used & {"edge_port", "nats_port", "flow_id"} or wants_flow or block.needs):
        values.update(edge_port=free_port(), nats_port=free_port())
        return Setup(values)
    node = walk.jinad()
    values.update(edge_port=node.port, nats_port=int(node.nats_url().rsplit(":", 1)[1]))
    flow = None if "flow" in block.needs else walk.live_printed_flow()
    setup = Setup(values)
    if flow is None and (wants_flow or ("flow_id" in used and not walk.printed_id)):
        yaml_text = (REPO / "examples" / "dummy_flow.yml").read_text(encoding="utf-8")
        flow = node.edge.create_flow(yaml_text)
        setup.flow_id = flow["flow_id"]
    values["flow_id"] = flow["flow_id"] if flow else walk.printed_id
    if flow:
        values.update(gateway_port=flow["port"], port_http=flow["port_http"])
    return setup


# -- running a block ---------------------------------------------------------------------
def command(block: Block, text: str) -> list[str]:
    if block.kind == "python":
        return [sys.executable, "-c", text]
    if block.kind == "console":
        script = console_script(text)
        assert script.strip(), f"{block.id}: a console block needs `$ ` before each command"
        return ["bash", "-euo", "pipefail", "-c", script]
    return ["bash", "-euo", "pipefail", "-c", text]


def run_block(block: Block, text: str, walk: Walk, values: dict[str, Any]) -> str:
    """Run the block to its exit (output to files: a process it leaves behind cannot hold a
    pipe open); it must leave nothing running, exit 0 and print what the README shows."""
    tag = f"block-{block.line}"
    out_path, err_path = walk.root / f"{tag}.out", walk.root / f"{tag}.err"
    with open(out_path, "wb") as out_file, open(err_path, "wb") as err_file:
        proc = subprocess.Popen(command(block, text), cwd=walk.work, env=walk.env(tag, values),
                                stdin=subprocess.DEVNULL, stdout=out_file, stderr=err_file,
                                start_new_session=True)
    try:
        proc.wait(timeout=walk.timeout_s(block))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    out, err = (path.read_text(encoding="utf-8", errors="replace") for path in (out_path, err_path))
    shown = f"--- as run:\n{text}--- stdout:\n{tail(out)}\n--- stderr:\n{tail(err)}"
    print(f"--- {block.id}\n{shown}")  # shown with -rP, or on a failure
    if proc.returncode == -signal.SIGKILL:
        assert_nothing_left(tag, f"{block.id} (killed)")
        pytest.fail(f"{block.id} ran past its deadline (mark a long-running command "
                    f"`background`)\n{shown}")
    assert_nothing_left(tag, block.id)
    assert proc.returncode == 0, f"{block.id} exited with {proc.returncode}\n{shown}"
    missing = expected_output(block).missing(out)
    assert missing is None, f"{block.id}: the README shows {missing!r}\n{shown}"
    ids = UUID.findall(out)
    if ids:
        walk.printed_id = ids[-1]
    return out


@dataclass
class Background:
    cmd: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"`{self.cmd}` exited with {self.proc.returncode} before it was "
                                 f"ready:\n{tail(self.output())}")
        pattern = next((p for name, p in READY.items() if re.match(rf"{name}\b", self.cmd)),
                       r"(?i)\bready\b")
        return re.search(pattern, self.output(), flags=re.M) is not None

    def stop(self) -> int | None:
        """SIGINT (Ctrl-C) to its process group; SIGKILL past the deadline (then None)."""
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except ProcessLookupError:
            return self.proc.wait()
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None


def run_background(block: Block, text: str, walk: Walk, values: dict[str, Any]) -> None:
    tag = f"block-{block.line}"
    env = walk.env(tag, values)
    started: list[Background] = []
    try:
        for n, cmd in enumerate(background_commands(text)):
            log = walk.root / f"{tag}-{n}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", cmd], cwd=walk.work,
                                        env=env, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            started.append(Background(cmd, proc, log))
            wait_for(started[-1].ready, timeout_s=min(READY_TIMEOUT_S, walk.timeout_s(block)),
                     what=f"{block.id}: `{cmd}` to say it is ready")
        assert started, f"{block.id}: a background block without a command"
    finally:
        codes = [(bg, bg.stop()) for bg in reversed(started)]
        assert_nothing_left(tag, block.id)
    bad = [f"`{bg.cmd}` {'did not stop' if rc is None else f'exited with {rc}'}:\n"
           f"{tail(bg.output(), 2000)}" for bg, rc in codes if rc != 0]
    assert not bad, f"{block.id}: stopped with SIGINT, " + "\n".join(bad)


# -- the test cases ----------------------------------------------------------------------
def test_every_marker_is_on_a_block() -> None:
    assert not stray_markers(README), (f"readme-test markers not on the line right before a "
                                       f"fence: README.md lines {stray_markers(README)}")


MADE_UP = """\
<!-- readme-test: needs flow; skip (a reason; with a semicolon) -->
```bash
curl 10.0.0.5:45678 localhost:8000/flow/cdd53e16-0b6e-4a5b-9a4f-2b8e0c7a1d2e
```

- a list item:

  ```console
  $ mesh nodes --host 3.16.166.3 \\
      --port 8000
  node ... 12.34.56.78:8000
  ```

<!-- readme-test: file flow.yml -->
```yaml
!Flow
```
<!-- readme-test: bogus -->
```python
print(1)  # 1
```
<!-- readme-test: background -->

"""


def test_the_harness_reads_a_made_up_readme(tmp_path: Path) -> None:
    (tmp_path / "X.md").write_text(MADE_UP, encoding="utf-8")
    shell, console, yml, py = extract(tmp_path / "X.md")

    assert [b.id for b in (shell, console, yml, py)] == ["X.md:2", "X.md:8", "X.md:15", "X.md:19"]
    assert shell.marks == {"needs": "flow", "skip": "a reason; with a semicolon"}
    assert uses(shell.text) == {"gateway_port", "edge_port", "flow_id"}
    values = {"host": "127.0.0.1", "gateway_port": 45678 + 1, "edge_port": 4222,
              "flow_id": "F"}  # a replacement is never replaced again: 4222 stays
    assert substitute(shell.text, values) == "curl 127.0.0.1:45679 127.0.0.1:4222/flow/F\n"
    assert console.kind == "console" and not console.marks
    assert console_script(console.text) == "mesh nodes --host 3.16.166.3 \\\n    --port 8000\n"
    assert expected_output(console).missing("node n1 at 127.0.0.1:41234\n") is None
    assert expected_output(console).missing("nothing\n") == "node ... 12.34.56.78:8000"
    assert yml.kind is None and yml.marks == {"file": "flow.yml"}
    assert py.problems and "bogus" in py.problems[0]
    assert expected_output(py).lines == ("1",)
    assert stray_markers(tmp_path / "X.md") == [22]
    assert background_commands("a \\\n  b  # c\n# d\n\ne\n") == ["a    b  # c", "e"]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block: Block, walk: Walk) -> None:
    assert not block.problems, f"{block.id}: " + "; ".join(block.problems)
    if "skip" in block.marks:
        pytest.skip(f"{block.id}: {block.marks['skip']}")
    if "file" in block.marks:
        walk.files[block.marks["file"]] = block.text
        return
    setup = setup_values(block, walk)
    try:
        text = substitute(block.text, setup.values)
        walk.prepare(setup.values)
        if "background" in block.marks:
            run_background(block, text, walk, setup.values)
        else:
            run_block(block, text, walk, setup.values)
    finally:
        if setup.flow_id and walk.node is not None:
            delete_flow(walk.node, setup.flow_id)


def delete_flow(node: JinadNode, flow_id: str) -> None:
    r = requests.delete(f"{node.url}/flow", params={"flow_id": flow_id}, timeout=30)
    assert r.status_code in (200, 404), r.text
    wait_for(partial(_gone, node, flow_id), timeout_s=LEFT_TIMEOUT_S,
             what=f"flow {flow_id} to be gone")


def _gone(node: JinadNode, flow_id: str) -> bool:
    return requests.get(f"{node.url}/flow/{flow_id}", timeout=5).status_code == 404
