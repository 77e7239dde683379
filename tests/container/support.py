"""What the container tests share: the image, an executor that says where it ran, and
looking containers up by their ``mesh.*`` labels."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

IMAGE = os.environ.get("MESH_IMAGE", "jinad-mesh:latest")
LABEL = "mesh"
RUN_ID = secrets.token_hex(3)  # in names of this run's nodes and images: parallel runs do not mix


# Tags every Document with where it ran; optionally sleeps or fails while it is built.
TAGGER_PY = '''\
import logging
import os
import socket
import time

from mesh import Executor, requests

logger = logging.getLogger("tagger")


class Tagger(Executor):
    def __init__(self, sleep_s=0.0, sleep_replica=-1, fail=False, **kwargs):
        super().__init__(**kwargs)
        if fail:
            raise RuntimeError("Tagger refuses to start: fail=True")
        if sleep_s and sleep_replica in (-1, self.metas.get("replica_id")):
            time.sleep(sleep_s)

    @requests(on="/write")
    def write(self, docs):
        target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "written-by-tagger.txt")
        try:
            with open(target, "w") as fh:
                fh.write("should not be possible")
            outcome = "written"
        except OSError as exc:
            outcome = f"{type(exc).__name__}: {exc.strerror}"
        for doc in docs:
            doc.tags["write"] = outcome

    @requests
    def tag(self, docs):
        name = self.metas.get("name")
        logger.info("TAGGER %s tags %d docs", name, len(docs))
        for doc in docs:
            doc.tags.setdefault("hosts", []).append(socket.gethostname())
            doc.tags.setdefault("pods", []).append(name)
            doc.tags["replica"] = self.metas.get("replica_id")
            doc.tags["dockerenv"] = os.path.exists("/.dockerenv")
'''


def tagger_yaml(**with_: Any) -> str:
    text = "!Tagger\nmetas:\n  py_modules:\n    - tagger.py\n"
    if with_:
        text += "with:\n" + "".join(f"  {k}: {str(v).lower() if isinstance(v, bool) else v}\n"
                                    for k, v in with_.items())
    return text


def write_tagger(folder: Path, name: str = "tagger.yml", **with_: Any) -> Path:
    """``folder/tagger.py`` and ``folder/<name>`` (its executor YAML); the YAML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tagger.py").write_text(TAGGER_PY)
    path = folder / name
    path.write_text(tagger_yaml(**with_))
    return path


def containers(client: Any, **labels: str) -> list[Any]:
    """Containers (running or not) carrying ``mesh`` and every ``mesh.<key>=<value>`` given."""
    filters = [LABEL] + [f"{LABEL}.{k}={v}" for k, v in labels.items()]
    return list(client.containers.list(all=True, filters={"label": filters}))


def jinad_name(prefix: str) -> str:
    """A node name no other run uses: a starting jinad removes the containers of its name."""
    return f"{prefix}-{RUN_ID}-{secrets.token_hex(2)}"


def index_until_every_replica(send: Callable[[list[Any]], Any], replicas: int, *,
                              batch: int = 6, rounds: int = 10) -> list[Any]:
    """Send batches of one-Document requests until each of ``replicas`` has tagged one (the
    head reaches a replica once its connection is up: the first batch may miss one);
    return every result. The Documents of round r are "doc r.i"."""
    from mesh import Document

    results: list[Any] = []
    for r in range(rounds):
        got = send([Document(text=f"doc {r}.{i}") for i in range(batch)])
        assert got is not None and not any(req.failed for req in got)
        results += got
        if len({d.tags["replica"] for req in results for d in req.docs}) == replicas:
            break
    return results
