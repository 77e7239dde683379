from mesh.client.client import AsyncClient, Client

__all__ = ["Client", "AsyncClient"]
