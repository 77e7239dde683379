"""Files uploaded with a Flow: relative paths kept, nothing may leave its folder."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from sanic.headers import parse_content_header
from sanic.request.form import File, parse_multipart_form

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


def _files(request: EdgeRequest) -> Any:
    """The request's files, parsed once; a body that is not multipart/form-data with a
    boundary, or that does not parse as one, is a 400 (Sanic would log a traceback and
    find no files)."""
    parsed = getattr(request.ctx, "files", None)
    if parsed is not None:
        return parsed
    kind, params = parse_content_header(request.headers.get("content-type", ""))
    boundary = params.get("boundary")
    if kind != "multipart/form-data" or not isinstance(boundary, str) or not boundary:
        raise BadRequestError("send the Flow as multipart/form-data: "
                              "files=[('yamlspec', open('flow.yml', 'rb'))]",
                              detail={"content_type": kind})
    try:
        _, request.ctx.files = parse_multipart_form(  # type: ignore[no-untyped-call]
            request.body or b"", boundary.encode())
    except (ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the multipart body does not parse: {exc}") from exc
    return request.ctx.files


def _items(request: EdgeRequest, field: str) -> list[File]:
    return list(_files(request).getlist(field, []))


def collect_files(request: EdgeRequest, *, max_bytes: int) -> dict[str, bytes]:
    """Every uploaded file by its relative path; all of them, the Flow YAML included, may
    not be more than ``max_bytes`` together."""
    files: dict[str, bytes] = {}
    total = sum(len(item.body) for item in _items(request, "yamlspec"))
    for field in FILE_FIELDS:
        for item in _items(request, field):
            total += len(item.body)
            files[safe_relpath(item.name)] = item.body
    if total > max_bytes:
        raise UploadTooLargeError(f"the upload is {total} bytes, over this node's limit of "
                                  f"{max_bytes} bytes (jinad --max-upload-bytes, JINAD_MAX_UPLOAD_BYTES)",
                                  detail={"bytes": total, "max_upload_bytes": max_bytes})
    return files


def single_file(request: EdgeRequest, field: str) -> bytes:
    items = _items(request, field)
    if not items:
        raise BadRequestError(f"no file in the multipart field {field!r}; send the Flow YAML as "
                              f"files=[('{field}', open('flow.yml', 'rb'))]")
    body = items[0].body
    if not body.strip():
        raise BadRequestError(f"the uploaded {field!r} is empty")
    return bytes(body)
