"""``jinad`` settings: flags and ``JINAD_*`` environment variables fill one object."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything ``jinad`` can be told; each field also reads ``JINAD_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JINAD_", extra="forbid")

    host: str = Field("0.0.0.0", description="address the HTTP edge binds")
    port: int = Field(8000, ge=0, lt=65536, description="HTTP edge port (0: a free one)")
    name: str = Field(default_factory=socket.gethostname, description="node name, unique in the mesh")
    advertise_host: str | None = Field(None, description="address other nodes and clients dial; "
                                       "the first private address when unset")
    labels: dict[str, str] = Field(default_factory=dict, description="k=v labels for placement")
    state_dir: Path = Field(Path.home() / ".jinad", description="where the node keeps its state")
    token: str | None = Field(None, description="bearer token required on every call but /alive")
    nats: str | None = Field(None, description="NATS URL(s); an embedded nats-server when unset")
    nats_port: int = Field(4222, ge=0, lt=65536, description="embedded nats-server port (0: free)")
    nats_user: str | None = None
    nats_password: str | None = None
    nats_token: str | None = None
    nats_creds: str | None = None
    nats_tls_ca: str | None = None
    nats_tls_cert: str | None = None
    nats_tls_key: str | None = None
    nats_replicas: int | None = Field(None, ge=1, le=5, description="copies JetStream keeps of "
                                      "the mesh's buckets and streams; unset: 3 in a NATS cluster, "
                                      "else 1")
    heartbeat_interval_s: float = Field(2.0, gt=0)
    node_ttl_s: float = Field(6.0, gt=0, description="a node silent this long leaves the mesh")
    ready_timeout_s: float = Field(60.0, gt=0, description="default Pea ready deadline")
    spawn_timeout_s: float = Field(90.0, gt=0, description="how long the edge waits for a node")
    stop_grace_s: float = Field(3.0, gt=0)
    lease_s: float = Field(15.0, gt=0, description="a pod whose owner stops renewing is removed")
    log_max_age_s: float = Field(24 * 3600, gt=0)
    log_max_bytes: int = Field(256 * 1024 * 1024, gt=0)
    max_upload_bytes: int = Field(32 * 1024 * 1024, gt=0)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        from mesh.events.subjects import validate_token

        validate_token(value)
        if value == "any":
            raise ValueError("'any' is reserved")
        return value
