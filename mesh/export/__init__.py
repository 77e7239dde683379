"""``mesh export``: a Flow as a Compose file or as Kubernetes manifests, to run without the mesh."""

from mesh.export.common import FORMATS, ExportPlan, Unit, plan_export
from mesh.export.render import render

__all__ = ["FORMATS", "ExportPlan", "Unit", "plan_export", "render"]
