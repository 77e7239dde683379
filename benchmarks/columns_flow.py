"""The batch data path: 10,000 Documents in requests of 100 through two stages, four ways,
all running at once and driven in turn, round by round (the order flips every round), from
this process with ``mesh.Client`` (which encodes the Documents here, as a user's would):

- ``text``: stages that read every Document's text and write a tag (``TextStage``);
- ``embed_doc``: Documents with a 768-d float32 embedding that each stage reads one
  Document at a time, writing a tag (``EmbeddingPerDoc``);
- ``embed_matrix``: the same Documents; each stage reads ``docs.embeddings`` as one matrix
  and sends a new one (``EmbeddingMatrix``);
- ``raw``: the pyzmq chain of :mod:`benchmarks.zmq_chain` moving the frames of
  ``embed_matrix``'s requests, byte for byte, pre-built.

Figures: docs/s and bytes/s of each, ``matrix_to_raw_bytes_ratio`` (target >= 0.25), and
the single-Document p50 of ``embed_matrix`` beside the raw chain's with the same frames
(``single_p50_ratio``, target <= 1.5), samples interleaved. When Ray is installed, two Ray
actors in a pipeline then run the same three workloads, their rounds interleaved with the
raw chain's (``ray_raw``), after the Flows are closed so Ray's daemons load none of theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq

from benchmarks import zmq_chain
from benchmarks.context import Context
from benchmarks.report import median, summary_ms
from benchmarks.workload import ENDPOINT, frame_bytes
from mesh import Client, Document, Flow, Request

__all__ = ["run"]

DOCS, REQUEST_SIZE, DIM, WINDOW = 10_000, 100, 768, 64
STAGES = {"text": "TextStage", "embed_doc": "EmbeddingPerDoc", "embed_matrix": "EmbeddingMatrix"}
TIMEOUT_MS = 30_000


def _docs(embedded: bool) -> list[Document]:
    rng = np.random.default_rng(0)
    return [Document(text=f"short text document number {i}",
                     embedding=rng.random(DIM, dtype=np.float32) if embedded else None)
            for i in range(DOCS)]


def _flow(stage: str) -> Flow:
    uses = f"benchmarks.executors:{stage}"
    return Flow(name=f"bench-{stage.lower()}").add(uses=uses).add(uses=uses)


def _mesh_pass(client: Client, docs: list[Document]) -> Callable[[], None]:
    def send() -> None:
        failed: list[Any] = []
        client.index(docs, on_done=lambda r: None, on_error=failed.append)
        if failed:
            raise RuntimeError(f"{len(failed)} requests failed: {failed[0].status}")
    return send


def _raw_pass(sock: zmq.Socket, messages: list[list[Any]]) -> Callable[[], None]:
    def send() -> None:
        sent = received = 0
        while received < len(messages):
            while sent < len(messages) and sent - received < WINDOW:
                sock.send_multipart(messages[sent], copy=False)
                sent += 1
            if not sock.poll(TIMEOUT_MS):
                raise TimeoutError("the raw chain did not answer")
            sock.recv_multipart()
            received += 1
    return send


def _raw_socket(ctx: Context) -> zmq.Socket:
    port, _ = zmq_chain.start(ctx)
    sock: zmq.Socket = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    ctx.stack.callback(sock.close, 0)
    return sock


def _interleaved(passes: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each pass per round; one warm-up round first; the order flips every round."""
    names = list(passes)
    for name in names:
        passes[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            t0 = time.perf_counter()
            passes[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def _interleaved_singles(send: Callable[[], None], sock: zmq.Socket,
                         samples: int) -> tuple[list[float], list[float]]:
    """Seconds of ``send()`` (one Document through two stages and back) and of the raw
    chain moving the same frames, sample by sample, the order flipped every sample."""
    frames = Request.new(ENDPOINT, [_single()]).to_frames()

    def raw() -> None:
        sock.send_multipart(frames)
        if not sock.poll(TIMEOUT_MS):
            raise TimeoutError("the raw chain did not answer")
        sock.recv_multipart()

    times: dict[str, list[float]] = {"side": [], "raw": []}
    sides = {"side": send, "raw": raw}
    for i in range(samples):
        for which in ("side", "raw") if i % 2 == 0 else ("raw", "side"):
            t0 = time.perf_counter()
            sides[which]()
            times[which].append(time.perf_counter() - t0)
    return times["side"], times["raw"]


def _single() -> Document:
    return Document(text="single", embedding=np.ones(DIM, dtype=np.float32))


def run(ctx: Context, name: str) -> None:
    rounds, samples = ctx.pick(10, 3), ctx.pick(500, 100)
    texts, embedded = _docs(False), _docs(True)
    messages = [Request.new(ENDPOINT, embedded[i:i + REQUEST_SIZE]).to_frames()
                for i in range(0, DOCS, REQUEST_SIZE)]
    pass_bytes = {"text": sum(frame_bytes(Request.new(ENDPOINT, texts[i:i + REQUEST_SIZE]).to_frames())
                              for i in range(0, DOCS, REQUEST_SIZE)),
                  **dict.fromkeys(("embed_doc", "embed_matrix", "raw"), sum(frame_bytes(m) for m in messages))}
    flows = {w: _flow(stage) for w, stage in STAGES.items()}
    clients: dict[str, Client] = {}
    for workload, flow in flows.items():
        ctx.stack.callback(flow.close)
        flow.start()
        clients[workload] = Client(port_expose=flow.port_expose, request_size=REQUEST_SIZE,
                                   prefetch=WINDOW, timeout_s=TIMEOUT_MS / 1000)
        ctx.stack.callback(clients[workload].close)
    sock = _raw_socket(ctx)
    passes = {"text": _mesh_pass(clients["text"], texts),
              "embed_doc": _mesh_pass(clients["embed_doc"], embedded),
              "embed_matrix": _mesh_pass(clients["embed_matrix"], embedded),
              "raw": _raw_pass(sock, messages)}
    matrix = clients["embed_matrix"]
    mesh_single, raw_single = _interleaved_singles(
        lambda: matrix.index([_single()], on_done=lambda r: None), sock, samples)
    times = _interleaved(passes, rounds)
    for flow in flows.values():
        flow.close()
    ray, skipped = _ray_passes(ctx, texts, embedded)  # after: Ray's daemons would load the mesh's rounds
    if ray:
        times.update(_interleaved({**ray, "ray_raw": passes["raw"]}, rounds))
    _emit(ctx, name, times, pass_bytes, rounds, skipped)
    _emit_singles(ctx, name, mesh_single, raw_single)
    if ray:
        from benchmarks import ray_pipeline

        ray_single, raw_again = _interleaved_singles(ray_pipeline.single(DIM), sock, samples)
        _emit_ray_singles(ctx, name, ray_single, raw_again, mesh_single, raw_single)


def _emit(ctx: Context, name: str, times: dict[str, list[float]], pass_bytes: dict[str, int],
          rounds: int, ray_skipped: str | None) -> None:
    base = {"docs": DOCS, "request_size": REQUEST_SIZE, "dim": DIM, "rounds": rounds, "pods": 2,
            "interleaved": "round by round, order flipped every round"}
    for workload, secs in times.items():
        size = pass_bytes[workload.removeprefix("ray_")]  # ray_raw: the chain in Ray's rounds
        ctx.report.emit(name, f"{workload}_docs_per_s", median([DOCS / s for s in secs]), "docs/s",
                        params={**base, "rounds_docs_per_s": [round(DOCS / s) for s in secs]})
        ctx.report.emit(name, f"{workload}_bytes_per_s", median([size / s for s in secs]), "B/s",
                        params={**base, "bytes_per_pass": size})
    ratios = [r / m for m, r in zip(times["embed_matrix"], times["raw"], strict=True)]
    ctx.report.emit(name, "matrix_to_raw_bytes_ratio", median(ratios), None, params={
        **base, "what": "embed_matrix / raw bytes per second, round by round (same bytes)",
        "rounds_ratio": [round(r, 3) for r in ratios], "target": ">= 0.25"})
    if ray_skipped:
        ctx.report.emit(name, "ray_skipped", None, None, params={"reason": ray_skipped})


def _emit_ray_singles(ctx: Context, name: str, ray_s: list[float], raw_again: list[float],
                      mesh_s: list[float], raw_s: list[float]) -> None:
    """Ray's p50 beside the chain's in its own phase; ours to Ray's through the chain, the
    one side both phases share (mesh/raw over ray/raw), as the phases run minutes apart."""
    ray, raw2 = summary_ms(ray_s), summary_ms(raw_again)
    mesh, raw = summary_ms(mesh_s), summary_ms(raw_s)
    params = {"dim": DIM, "samples": len(ray_s), "interleaved": "sample by sample with the chain"}
    ctx.report.emit(name, "ray_single_latency_p50_ms", ray["p50"], "ms", limit=raw2["p50"],
                    params={**params, "p99_ms": round(ray["p99"], 3),
                            "raw_p50_ms_same_phase": round(raw2["p50"], 3)})
    ctx.report.emit(name, "single_p50_to_ray", (mesh["p50"] / raw["p50"]) / (ray["p50"] / raw2["p50"]),
                    None, params={**params, "what": "(mesh / raw) / (ray / raw), p50s",
                                  "raw_to_ray": round(raw2["p50"] / ray["p50"], 3),
                                  "target": "<= 1/3"})


def _emit_singles(ctx: Context, name: str, mesh_s: list[float], raw_s: list[float]) -> None:
    mesh, raw = summary_ms(mesh_s), summary_ms(raw_s)
    params = {"dim": DIM, "samples": len(mesh_s), "interleaved": "sample by sample"}
    ctx.report.emit(name, "single_latency_p50_ms", mesh["p50"], "ms", limit=raw["p50"],
                    params={**params, "p99_ms": round(mesh["p99"], 3)})
    ctx.report.emit(name, "raw_single_latency_p50_ms", raw["p50"], "ms",
                    params={**params, "p99_ms": round(raw["p99"], 3)})
    ctx.report.emit(name, "single_p50_ratio", mesh["p50"] / raw["p50"], None,
                    params={**params, "target": "<= 1.5"})


def _ray_passes(ctx: Context, texts: list[Document],
                embedded: list[Document]) -> tuple[dict[str, Callable[[], None]], str | None]:
    try:
        from benchmarks import ray_pipeline
    except ImportError as exc:
        return {}, f"ray is not installed here ({exc})"
    return ray_pipeline.passes(ctx, texts, embedded, request_size=REQUEST_SIZE), None
