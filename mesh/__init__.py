"""jinad mesh: neural-search Flows of Pods over ZeroMQ, across a mesh of jinad daemons."""

from mesh.client.client import AsyncClient, Client
from mesh.executors.base import Executor, requests
from mesh.flow.flow import Flow
from mesh.types.document import Document, DocumentArray
from mesh.types.request import Request

__version__ = "0.1.0"

__all__ = ["Flow", "Document", "DocumentArray", "Client", "AsyncClient", "Executor", "requests",
           "Request", "__version__"]
