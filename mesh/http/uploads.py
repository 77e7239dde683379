"""Files uploaded with a Flow: relative paths kept, nothing may leave its folder."""

from __future__ import annotations

from pathlib import PurePosixPath

from sanic import Request

from mesh.errors import BadRequestError

__all__ = ["collect_files", "safe_relpath", "single_file"]

FILE_FIELDS = ("uses_files", "uses_files[]", "pymodules_files", "pymodules_files[]")


def safe_relpath(name: str) -> str:
    """The upload's relative path, or a 400 for absolute paths and ``..``."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or not path.parts:
        raise BadRequestError(f"upload path {name!r} must be relative and stay inside its folder")
    return str(path)


def collect_files(request: Request, *, max_bytes: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for field in FILE_FIELDS:
        for item in (request.files or {}).getlist(field, []) if request.files else []:
            total += len(item.body)
            if total > max_bytes:
                raise BadRequestError(f"uploads are over the {max_bytes} byte limit")
            files[safe_relpath(item.name)] = item.body
    return files


def single_file(request: Request, field: str) -> bytes:
    items = request.files.getlist(field, []) if request.files else []
    if not items:
        raise BadRequestError(f"no file in the multipart field {field!r}; send the Flow YAML as "
                              f"files=[('{field}', open('flow.yml', 'rb'))]")
    body = items[0].body
    if not body.strip():
        raise BadRequestError(f"the uploaded {field!r} is empty")
    return bytes(body)
