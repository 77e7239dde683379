"""``jinad`` flags: each one fills the Settings field of the same name."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["parse_flags"]


def _labels(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"label {item!r} must look like key=value")
        out[key] = value
    return out


def parse_flags(argv: list[str] | None) -> dict[str, Any]:
    """Only the flags given: unset ones leave the field to ``JINAD_*`` or its default."""
    p = argparse.ArgumentParser(prog="jinad", description="The jinad mesh daemon: runs Pods for "
                                "Flows, joins the mesh over NATS, serves the HTTP edge.",
                                argument_default=argparse.SUPPRESS)
    p.add_argument("--host", help="address the HTTP edge binds (default 0.0.0.0)")
    p.add_argument("--port", type=int, help="HTTP edge port (default 8000)")
    p.add_argument("--name", help="node name, unique in the mesh (default: hostname)")
    p.add_argument("--advertise-host", dest="advertise_host",
                   help="address other nodes and clients dial (default: first private address)")
    p.add_argument("--labels", nargs="*", metavar="K=V", help="labels used to place pods")
    p.add_argument("--state-dir", dest="state_dir", help="state directory (default ~/.jinad)")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on the edge")
    p.add_argument("--nats", help="NATS URL(s), comma-separated; an embedded nats-server when unset")
    p.add_argument("--nats-port", dest="nats_port", type=int, help="embedded nats-server port (default 4222)")
    p.add_argument("--nats-user", dest="nats_user")
    p.add_argument("--nats-password", dest="nats_password")
    p.add_argument("--nats-token", dest="nats_token")
    p.add_argument("--nats-creds", dest="nats_creds", help="NATS credentials file")
    p.add_argument("--nats-tls-ca", dest="nats_tls_ca")
    p.add_argument("--nats-tls-cert", dest="nats_tls_cert")
    p.add_argument("--nats-tls-key", dest="nats_tls_key")
    p.add_argument("--nats-replicas", dest="nats_replicas", type=int,
                   help="copies JetStream keeps of the mesh's KV buckets, files and log streams "
                        "(default: 3 when the NATS server is in a cluster, else 1)")
    p.add_argument("--heartbeat-interval-s", dest="heartbeat_interval_s", type=float)
    p.add_argument("--node-ttl-s", dest="node_ttl_s", type=float)
    p.add_argument("--ready-timeout-s", dest="ready_timeout_s", type=float)
    p.add_argument("--max-upload-bytes", dest="max_upload_bytes", type=int,
                   help="largest Flow upload (YAML and files together) the edge takes")
    p.add_argument("--log-level", dest="log_level", default="INFO")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    values = vars(p.parse_args(argv))
    if "labels" in values:
        try:
            values["labels"] = _labels(values["labels"])
        except argparse.ArgumentTypeError as exc:
            p.error(str(exc))
    return values
