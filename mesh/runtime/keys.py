"""A Flow's secrets: the key that signs control commands, and the CURVE keys of its data sockets.

Chosen by whoever plans the Flow (:func:`new_keys`, called by ``mesh/flow/topology.py``)
and carried in every Pea config of it. They reach a Pea process through its environment
(``MESH_PEA_KEYS``), never its command line, which every local user can read in
``/proc/<pid>/cmdline``; the Pea takes them out of its environment before the executor runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["KEYS_ENV", "MeshKeys", "keys_from_env", "new_keys"]

KEYS_ENV = "MESH_PEA_KEYS"


@dataclass(repr=False)
class MeshKeys:
    """``ctrl``: hex HMAC-SHA256 key of control commands. With ``encrypt_data``, the Flow's
    CURVE key pairs (Z85): the server pair of every binding data socket, the client pair of
    every connecting one. Empty strings: no encryption."""

    ctrl: str
    curve_server_public: str = ""
    curve_server_secret: str = ""
    curve_client_public: str = ""
    curve_client_secret: str = ""

    @property
    def encrypt(self) -> bool:
        return bool(self.curve_server_secret and self.curve_client_secret)

    def __repr__(self) -> str:  # never the secrets, in a log line or an error message
        return f"<MeshKeys encrypt={self.encrypt}>"

    def to_env(self) -> str:
        return orjson.dumps(self.__dict__).decode()

    @classmethod
    def from_data(cls, data: Any) -> MeshKeys | None:
        if data is None or isinstance(data, MeshKeys):
            return data
        return cls(**data)


def new_keys(*, encrypt_data: bool = False) -> MeshKeys:
    """Fresh keys for one Flow (the CURVE pairs only when its data sockets are encrypted)."""
    import secrets

    keys = MeshKeys(ctrl=secrets.token_hex(32))
    if encrypt_data:
        import zmq

        server = [k.decode() for k in zmq.curve_keypair()]
        client = [k.decode() for k in zmq.curve_keypair()]
        keys.curve_server_public, keys.curve_server_secret = server
        keys.curve_client_public, keys.curve_client_secret = client
    return keys


def keys_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> MeshKeys | None:
    """The keys a launcher put in this process's environment, removed from it."""
    raw = environ.pop(KEYS_ENV, None)
    return MeshKeys(**orjson.loads(raw)) if raw else None
