"""``deploy/nats/auth.conf``, written from the roles of :mod:`mesh.daemon.roles` for an
operator's own nats-server (and docker-compose.yml): one node user per node name, one
edge user, one log reader; passwords from the server's environment.

    python -m mesh.daemon.authconf n1 n2 n3 > deploy/nats/auth.conf

A unit test checks that the shipped file is what this prints.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from typing import Any

from mesh.daemon.roles import Role, permissions

__all__ = ["password_variable", "render"]

HEADER = """\
# NATS with the mesh's three roles (written by `python -m mesh.daemon.authconf {nodes}`
# from mesh/daemon/roles.py; a test checks the two agree):
#   node-<name>  one per jinad: serves its own jinad.spawn/ports/cordon.<name>, jinad.spawn.any
#                and jinad.kill.>; publishes logs, events, its audit records and its own key
#                of the nodes bucket; reads flows, nodes and uploaded files
#   edge         the jinads' edges (admin): commands to any node, Flow records, files
#   logs         reads jinad.logs.> and jinad.events.>, live or replayed; nothing else
# Each user receives replies under its own inbox prefix, _INBOX.<user> (jinad does it; the
# nats CLI: --inbox-prefix _INBOX.logs).
#
#   nats-server -c deploy/nats/auth.conf
#   jinad --nats nats://10.0.0.1:4222 --name n1 --nats-user node-n1 \\
#         --nats-password "$NODE_N1_PASSWORD" --nats-edge-user edge --nats-edge-password "$EDGE_PASSWORD"
#   nats sub --user logs --password "$LOGS_PASSWORD" 'jinad.logs.>'
#
# Passwords come from the environment of nats-server, which refuses to start when one is
# unset: {variables}.
# Another node name: add its user with `python -m mesh.daemon.authconf n1 n2 n3 n4 > auth.conf`.
# Another port: nats-server's flags override this file (nats-server -c auth.conf -p 14222).
# store_dir is relative to where nats-server starts. A wrong password makes jinad exit at once
# with one line naming the server and the user.
listen: 0.0.0.0:4222
http: 127.0.0.1:8222          # monitoring, local only
server_name: mesh-nats-auth

jetstream {{
  store_dir: "./nats-data-auth"
}}

max_payload: 8MB

"""


def password_variable(user: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", user.upper()) + "_PASSWORD"


def render(nodes: list[str]) -> str:
    users: list[tuple[str, Role, str | None]] = [(f"node-{n}", "node", n) for n in nodes]
    users += [("edge", "edge", None), ("logs", "logs", None)]
    body = ",\n".join(_user(user, role, node) for user, role, node in users)
    variables = ", ".join(password_variable(u) for u, _, _ in users)
    return HEADER.format(nodes=" ".join(nodes), variables=variables) + \
        f"authorization {{\n  users = [\n{body}\n  ]\n}}\n"


def _user(user: str, role: Role, node: str | None) -> str:
    """One user: its password a variable of the environment, its lists wrapped."""
    perms: dict[str, Any] = permissions(role, user=user, node=node)
    lines = [f'    {{"user": "{user}", "password": ${password_variable(user)}, "permissions": {{']
    for kind in ("publish", "subscribe"):
        lines.append(f'      "{kind}": {{"allow": [')
        lines += textwrap.wrap(", ".join(json.dumps(s) for s in perms[kind]["allow"]), width=94,
                               initial_indent=" " * 8, subsequent_indent=" " * 8,
                               break_long_words=False, break_on_hyphens=False)
        lines.append("      ]},")
    if perms.get("allow_responses"):
        lines.append('      "allow_responses": true')
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join([*lines, "    }}"])


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1:] or ["n1", "n2", "n3"]))
