"""jinad mesh: neural-search Flows of Pods over ZeroMQ, across a mesh of jinad daemons.

Names are imported on first use, so that a Pea process starts without loading
the Flow and Client machinery it does not need.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from mesh import compat as _compat

__version__ = "0.1.0"

_EXPORTS = {
    "Flow": "mesh.flow.flow",
    "Document": "mesh.types.document",
    "DocumentArray": "mesh.types.document",
    "Client": "mesh.client.client",
    "AsyncClient": "mesh.client.client",
    "Executor": "mesh.executors.base",
    "requests": "mesh.executors.base",
    "Request": "mesh.types.request",
}

__all__ = ["AsyncClient", "Client", "Document", "DocumentArray", "Executor", "Flow", "Request",
           "__version__", "requests"]

for _alias in _compat.ALIASES:  # the seed's `from mesh.clients import Client`
    sys.modules.setdefault(_alias, _compat)

if TYPE_CHECKING:
    from mesh.client.client import AsyncClient, Client
    from mesh.executors.base import Executor, requests
    from mesh.flow.flow import Flow
    from mesh.types.document import Document, DocumentArray
    from mesh.types.request import Request


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mesh' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
