#!/usr/bin/env bash
# Install Debian's headless browser for the dashboard test (tests/integration/test_dashboard.py):
# chromium and chromium-driver (Selenium drives it; no browser is downloaded from elsewhere).
# Idempotent: nothing is installed when both are there; `apt-get update` runs only when apt
# has no candidate for them.
set -euo pipefail

log() { printf '[browser-setup] %s\n' "$*" >&2; }

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache policy chromium-driver 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    log "apt-get update"
    $SUDO apt-get update -q
fi
log "apt-get install chromium chromium-driver"
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
