"""``jinad`` settings: one field, one flag (``--field-name``), one ``JINAD_FIELD_NAME``.

The flags are generated from these fields (:mod:`mesh.daemon.flags`), so a field's
description is its ``jinad --help`` line and the README's flag table.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LogLevel", "Settings"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    """Everything ``jinad`` can be told; each field also reads ``JINAD_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JINAD_", extra="forbid")

    host: str = Field("127.0.0.1", description="address the HTTP edge binds; beyond "
                      "loopback (0.0.0.0, an address) it needs --token, a generated "
                      "token, or --insecure")
    port: int = Field(8000, ge=0, lt=65536, description="HTTP edge port; 0 takes a free one")
    name: str = Field(default_factory=socket.gethostname,
                      description="node name, unique in the mesh; the host name when unset")
    advertise_host: str | None = Field(None, description="address other nodes and clients dial; "
                                       "the first private address when unset")
    labels: dict[str, str] = Field(default_factory=dict, description="labels pods are placed by "
                                   "(--labels zone=a gpu=1; JSON in the environment variable)")
    state_dir: Path = Field(Path.home() / ".jinad", description="where the node keeps its state")
    token: str | None = Field(None, description="bearer token required on every call but "
                              "/alive, /health and /ready; bound beyond loopback without one, "
                              "jinad generates one, prints it once and keeps it in the state dir "
                              "(edge-token, 0600)")
    insecure: bool = Field(False, description="serve the edge beyond loopback without a token, "
                           "for a trusted network only (a warning at start)")
    tls_cert: Path | None = Field(None, description="certificate file (PEM): the edge serves "
                                  "HTTPS; needs --tls-key")
    tls_key: Path | None = Field(None, description="key file (PEM) of --tls-cert")
    allow_uses: list[str] = Field(default_factory=list, description="fnmatch patterns (--allow-uses "
                                  "'myorg.*' 'executors/*.yml'); a pod whose uses, uses_before or "
                                  "uses_after matches none is refused (403); built-ins (_pass...) "
                                  "always pass; unset: any")
    allow_images: list[str] = Field(default_factory=list, description="fnmatch patterns; a pod "
                                    "whose image matches none is refused (403); unset: any")
    no_uploads: bool = Field(False, description="refuse Flows that upload files (403): for nodes "
                             "that must not run uploaded code")
    nats: str | None = Field(None, description="NATS URL(s), comma-separated; an embedded "
                             "nats-server when unset")
    nats_port: int = Field(4222, ge=0, lt=65536, description="embedded nats-server port; "
                           "0, or a port in use, takes a free one")
    nats_listen: str = Field("127.0.0.1", description="address the embedded nats-server "
                             "listens on; beyond loopback (0.0.0.0, an address) other machines "
                             "join it (jinad credentials add-node NAME prints how)")
    nats_user: str | None = Field(None, description="NATS user of the node's connection (serves "
                                  "its commands); the embedded broker's own users when unset")
    nats_password: str | None = Field(None, description="NATS password of --nats-user")
    nats_token: str | None = Field(None, description="NATS token")
    nats_creds: str | None = Field(None, description="NATS credentials file")
    nats_edge_user: str | None = Field(None, description="NATS user of the edge's connection "
                                       "(sends commands, writes Flow records); --nats-user's "
                                       "when unset")
    nats_edge_password: str | None = Field(None, description="NATS password of --nats-edge-user")
    nats_edge_creds: str | None = Field(None, description="NATS credentials file of the edge's "
                                        "connection; --nats-creds when unset")
    nats_tls_ca: str | None = Field(None, description="CA file that signs the NATS server's certificate")
    nats_tls_cert: str | None = Field(None, description="client certificate for NATS")
    nats_tls_key: str | None = Field(None, description="key of the client certificate for NATS")
    nats_replicas: int | None = Field(None, ge=1, le=5, description="copies JetStream keeps of "
                                      "the mesh's buckets and streams; when unset, 3 in a "
                                      "NATS cluster, else 1")
    heartbeat_interval_s: float = Field(2.0, gt=0, description="seconds between the node's heartbeats")
    node_ttl_s: float = Field(6.0, gt=0, description="a node silent this long leaves the mesh")
    ready_timeout_s: float = Field(60.0, gt=0, description="Pea ready deadline of pods that "
                                   "set no timeout_ready_s")
    spawn_timeout_s: float = Field(90.0, gt=0, description="how long the edge waits for a node "
                                   "to start a pod")
    stop_grace_s: float = Field(3.0, gt=0, description="seconds a Pea has to stop before SIGKILL")
    lease_s: float = Field(15.0, gt=0, description="lease of remote pods whose request "
                           "names no length (PUT /pod/{id}/lease, PUT /pod with lease: true)")
    log_max_age_s: float = Field(24 * 3600, gt=0, description="how long the mesh keeps log lines")
    log_max_bytes: int = Field(256 * 1024 * 1024, gt=0, description="how many bytes of log "
                               "lines the mesh keeps")
    max_upload_bytes: int = Field(32 * 1024 * 1024, gt=0, description="largest Flow upload "
                                  "(YAML and files together) the edge takes; a larger one is a 413")
    log_level: LogLevel = Field("INFO", description="how much jinad logs")
    no_metrics: bool = Field(False, description="serve no GET /metrics (a 404); a Flow's "
                             "metrics: false stops its Peas counting")
    trusted_keys: Path | None = Field(None, description="file of edge public keys (one nkey a "
                                      "line) whose signed commands this node obeys; unset: the "
                                      "keys the mesh's nodes registered")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        from mesh.events.subjects import validate_token

        validate_token(value)
        if value == "any":
            raise ValueError("'any' is reserved")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together (JINAD_TLS_CERT, JINAD_TLS_KEY)")
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
