"""Process entry point of a Pea or gateway: ``python -m mesh.runtime.entry KIND CONFIG_JSON``."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

from mesh.errors import MeshError
from mesh.logs import StreamToLogger, setup_pea_logging
from mesh.runtime.base import Runtime
from mesh.runtime.keys import keys_from_env

logger = logging.getLogger("mesh.pea")


def main(argv: list[str] | None = None) -> int:
    kind, raw = (argv or sys.argv[1:])[:2]
    if kind == "gateway":
        from mesh.runtime.config import GatewayConfig
        from mesh.runtime.gateway import GatewayRuntime

        gw = GatewayConfig.from_json(raw)
        gw.keys = keys_from_env() or gw.keys
        setup_pea_logging(gw.name, gw.log_level)
        factory: Callable[[], Runtime] = functools.partial(GatewayRuntime, gw)
    else:
        from mesh.runtime.config import PeaConfig
        from mesh.runtime.pea import PeaRuntime

        cfg = PeaConfig.from_json(raw)
        cfg.keys = keys_from_env() or cfg.keys  # out of the environment before the executor runs
        setup_pea_logging(cfg.name, cfg.log_level)
        factory = functools.partial(PeaRuntime, cfg)
    sys.stdout = StreamToLogger(logging.getLogger("mesh.print"))  # type: ignore[assignment]
    try:
        runtime = factory()
    except MeshError as exc:
        logger.error("%s", exc.message)
        return 2
    except Exception as exc:  # the executor's own constructor, or its imports
        logger.exception("failed to start: %s: %s", type(exc).__name__, exc)
        return 1
    runtime.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
