"""Files uploaded with a Flow: relative paths kept, nothing may leave its folder."""

from __future__ import annotations

from pathlib import PurePosixPath

from mesh.errors import BadRequestError
from mesh.http.context import EdgeRequest

__all__ = ["UploadTooLargeError", "collect_files", "safe_relpath", "single_file"]

FILE_FIELDS = ("uses_files", "uses_files[]", "pymodules_files", "pymodules_files[]")


def safe_relpath(name: str) -> str:
    """The upload's relative path, or a 400 for absolute paths and ``..``."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or not path.parts:
        raise BadRequestError(f"upload path {name!r} must be relative and stay inside its folder")
    return str(path)


class UploadTooLargeError(BadRequestError):
    status = 413


def collect_files(request: EdgeRequest, *, max_bytes: int) -> dict[str, bytes]:
    """Every uploaded file by its relative path; all of them, the Flow YAML included, may
    not be more than ``max_bytes`` together."""
    files: dict[str, bytes] = {}
    flow_yaml = request.files.getlist("yamlspec", []) if request.files else []
    total = sum(len(item.body) for item in flow_yaml)
    for field in FILE_FIELDS:
        for item in request.files.getlist(field, []) if request.files else []:
            total += len(item.body)
            files[safe_relpath(item.name)] = item.body
    if total > max_bytes:
        raise UploadTooLargeError(f"the upload is {total} bytes, over this node's limit of "
                                  f"{max_bytes} bytes (jinad --max-upload-bytes, JINAD_MAX_UPLOAD_BYTES)",
                                  detail={"bytes": total, "max_upload_bytes": max_bytes})
    return files


def single_file(request: EdgeRequest, field: str) -> bytes:
    items = request.files.getlist(field, []) if request.files else []
    if not items:
        raise BadRequestError(f"no file in the multipart field {field!r}; send the Flow YAML as "
                              f"files=[('{field}', open('flow.yml', 'rb'))]")
    body = items[0].body
    if not body.strip():
        raise BadRequestError(f"the uploaded {field!r} is empty")
    return bytes(body)
