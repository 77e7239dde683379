"""``from mesh.clients import Client``: the import path user scripts of the original use."""

from __future__ import annotations

from mesh.client.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client"]
