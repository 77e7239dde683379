"""What one Pea needs to know to run: its sockets, its executor, its place.

Plain dataclasses rather than pydantic models: a Pea process parses one of
these at start, and importing pydantic would double its start time. They are
built only by the Flow planner, which validates the user's input before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson

from mesh.runtime.keys import KEYS_ENV, MeshKeys

__all__ = ["GatewayConfig", "PeaConfig", "SocketSpec", "config_from_dict", "config_to_dict"]


@dataclass
class SocketSpec:
    """One ZeroMQ data socket: bound on ``port``, or connected to ``addresses``."""

    mode: str  # "bind" | "connect"
    port: int | None = None
    addresses: list[str] = field(default_factory=list)  # "host:port" when connecting

    def describe(self, kind: str) -> str:
        if self.mode == "bind":
            return f"tcp://0.0.0.0:{self.port} ({kind}_BIND)"
        return " ".join(f"tcp://{a} ({kind}_CONNECT)" for a in self.addresses)


class _Json:
    """The two forms of a config: its command line (no keys) and its transport (with keys)."""

    keys: MeshKeys | None
    env: dict[str, str]

    def __post_init__(self) -> None:
        """The keys go into the Pea's environment (the launchers pass ``env`` on)."""
        self.keys = MeshKeys.from_data(self.keys)
        self.env = {k: v for k, v in self.env.items() if k != KEYS_ENV}
        if self.keys is not None:
            self.env[KEYS_ENV] = self.keys.to_env()

    def to_json(self) -> str:
        """The config as the Pea's command line carries it: without its keys."""
        data = _data(self)
        del data["keys"]
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Any:
        return _build(cls, orjson.loads(raw))


@dataclass
class PeaConfig(_Json):
    """Everything a Pea process is started with; it travels as JSON."""

    name: str
    pod: str
    port_ctrl: int
    flow_id: str = ""
    role: str = "pea"  # "pea" | "head" | "tail"
    uses: str = "_pass"
    uses_with: dict[str, Any] = field(default_factory=dict)
    base_dir: str | None = None  # where relative executor files are looked up
    inputs: list[SocketSpec] = field(default_factory=list)
    outputs: list[SocketSpec] = field(default_factory=list)
    num_parts: int = 1
    replica_id: int = -1
    log_level: str = "INFO"
    env: dict[str, str] = field(default_factory=dict, repr=False)  # holds the keys, too
    image: str | None = None
    network: str = "bridge"  # for a container: "bridge" (ports published) or "host"
    metrics: bool = True  # count requests by endpoint (the Flow's ``metrics``)
    keys: MeshKeys | None = field(default=None, repr=False)  # the Flow's, from its planner

    @property
    def in_container(self) -> bool:
        """True for a Pea in a container of its own network, which reaches its host's ports
        as host.docker.internal rather than the loopback."""
        return self.image is not None and self.network != "host"

    def bound_ports(self) -> list[int]:
        ports = [s.port for s in (*self.inputs, *self.outputs) if s.mode == "bind" and s.port]
        return [*ports, self.port_ctrl]


@dataclass
class GatewayConfig(_Json):
    """The gateway: clients in on ``port_expose`` (ZeroMQ) and ``port_http``."""

    port_expose: int
    port_ctrl: int
    name: str = "gateway"
    flow_id: str = ""
    port_http: int | None = None
    metrics: bool = True  # count requests by endpoint (the Flow's ``metrics``)
    inputs: list[SocketSpec] = field(default_factory=list)
    outputs: list[SocketSpec] = field(default_factory=list)
    num_parts: int = 1
    log_level: str = "INFO"
    env: dict[str, str] = field(default_factory=dict, repr=False)
    keys: MeshKeys | None = field(default=None, repr=False)
    # every Pea of the Flow, as the gateway reaches its control socket ("host:port"), by pod:
    # its HTTP GET /health asks each one for its status
    pod_controls: dict[str, list[str]] = field(default_factory=dict)


def _data(cfg: Any) -> dict[str, Any]:
    """Its fields as JSON-able data; the keys once, not also in ``env``."""
    data = dataclasses.asdict(cfg)
    data["env"] = {k: v for k, v in data["env"].items() if k != KEYS_ENV}
    return data


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    for key in ("inputs", "outputs"):
        data[key] = [SocketSpec(**s) for s in data.get(key, [])]
    return cls(**data)


def config_to_dict(cfg: PeaConfig | GatewayConfig) -> dict[str, Any]:
    """A config as JSON-able data, tagged with its kind, for spawn requests: with its keys,
    which the node passes on to the Pea."""
    kind = "gateway" if isinstance(cfg, GatewayConfig) else "pea"
    return {"kind": kind, **_data(cfg)}


def config_from_dict(data: dict[str, Any]) -> PeaConfig | GatewayConfig:
    data = dict(data)
    cls = GatewayConfig if data.pop("kind", "pea") == "gateway" else PeaConfig
    try:
        return _build(cls, data)  # type: ignore[no-any-return]
    except TypeError as exc:  # a socket entry or a field that is not the config's
        from mesh.errors import BadRequestError

        raise BadRequestError(f"invalid Pea configuration: {exc}") from exc
