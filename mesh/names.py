"""The one rule for names and ids: what may become a subject token, a file name under the
state dir, a container name or a label value.

A name is letters, digits, ``-`` and ``_``, starting with a letter or digit: pod names have
at most 63 characters (a DNS label), ids (flows, single pods) at most 128 (a uuid in either
spelling, or ``<flow id>-<pod name>``). Anything else is an :class:`InvalidNameError`: a 400
on HTTP, an error reply on the bus, and a ``ValueError`` inside pydantic models.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from mesh.errors import InvalidNameError

__all__ = ["ID_MAX", "NAME_MAX", "Id", "check_id", "check_name"]

NAME_MAX = 63
ID_MAX = 128
_RULE = "letters, digits, '-' or '_', starting with a letter or digit"


def _check(value: object, *, what: str, max_len: int) -> str:
    if not isinstance(value, str) or not re.fullmatch(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{max_len - 1}}}",
                                                      value):
        raise InvalidNameError(f"{what} {value!r} must be {_RULE} (at most {max_len})",
                               detail={"name": repr(value) if not isinstance(value, str) else value})
    return value


def check_name(name: object, what: str = "pod name") -> str:
    return _check(name, what=what, max_len=NAME_MAX)


def check_id(value: object, what: str = "id") -> str:
    return _check(value, what=what, max_len=ID_MAX)


Id = Annotated[str, AfterValidator(check_id)]
