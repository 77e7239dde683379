"""What one Pea needs to know to run: its sockets, its executor, its place."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SocketSpec", "PeaConfig", "GatewayConfig"]


class SocketSpec(BaseModel):
    """One ZeroMQ data socket: bound on ``port``, or connected to ``addresses``."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["bind", "connect"]
    port: int | None = None
    addresses: list[str] = Field(default_factory=list)  # "host:port" when connecting

    def describe(self, kind: str) -> str:
        if self.mode == "bind":
            return f"tcp://0.0.0.0:{self.port} ({kind}_BIND)"
        return " ".join(f"tcp://{a} ({kind}_CONNECT)" for a in self.addresses)


class PeaConfig(BaseModel):
    """Everything a Pea process is started with; it travels as JSON."""

    model_config = ConfigDict(extra="forbid")

    name: str
    pod: str
    flow_id: str = ""
    role: Literal["pea", "head", "tail"] = "pea"
    uses: str = "_pass"
    uses_with: dict[str, Any] = Field(default_factory=dict)
    base_dir: str | None = None  # where relative executor files are looked up
    inputs: list[SocketSpec] = Field(default_factory=list)
    outputs: list[SocketSpec] = Field(default_factory=list)
    port_ctrl: int
    num_parts: int = 1
    replica_id: int = -1
    log_level: str = "INFO"
    env: dict[str, str] = Field(default_factory=dict)
    image: str | None = None


class GatewayConfig(BaseModel):
    """The gateway: clients in on ``port_expose`` (ZeroMQ) and ``port_http``."""

    model_config = ConfigDict(extra="forbid")

    name: str = "gateway"
    flow_id: str = ""
    port_expose: int
    port_http: int | None = None
    port_ctrl: int
    inputs: list[SocketSpec] = Field(default_factory=list)
    outputs: list[SocketSpec] = Field(default_factory=list)
    num_parts: int = 1
    log_level: str = "INFO"
    timeout_request_s: float | None = None
