#!/usr/bin/env bash
# Debian's Prometheus server, which tests/integration/test_prometheus.py runs against a mesh
# (its own config, storage and port in a temp dir; the package's service is not used).
set -euo pipefail
if [ -x /usr/bin/prometheus ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
sudo_=""
if [ "$(id -u)" -ne 0 ]; then sudo_="sudo"; fi
$sudo_ apt-get update -q
$sudo_ apt-get install -y -q --no-install-recommends prometheus
