"""What happens to each response: on_done, on_error, on_always, or collect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mesh.types.request import Request

__all__ = ["Callbacks"]

logger = logging.getLogger("mesh.client")
Callback = Callable[[Request], Any]


class Callbacks:
    def __init__(self, on_done: Callback | None, on_error: Callback | None,
                 on_always: Callback | None) -> None:
        self.on_done, self.on_error, self.on_always = on_done, on_error, on_always
        self.collect = on_done is None and on_error is None and on_always is None
        self.results: list[Request] = []

    def __call__(self, resp: Request) -> None:
        if self.collect:
            self.results.append(resp)
            return
        if resp.failed:
            if self.on_error is not None:
                self.on_error(resp)
            else:
                st = resp.status
                logger.error("request %s failed in pod %s: %s: %s", resp.id, st.get("pod"),
                             st.get("error"), st.get("message"))
        elif self.on_done is not None:
            self.on_done(resp)
        if self.on_always is not None:
            self.on_always(resp)
