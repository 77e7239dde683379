#!/usr/bin/env bash
# Check that the local engine does what the container tests rely on:
#   1. a container runs (mesh-base: python3 -c 'print(42)')
#   2. --add-host host.docker.internal:host-gateway resolves (to docker0's address)
#   3. a container reaches a TCP server on the host through host.docker.internal
#      (server bound to 0.0.0.0: one bound to 127.0.0.1 is NOT reachable this way)
#   4. --network host shares the host's loopback
# Uses a throw-away http.server on a free port; every wait is bounded; cleans up.
# Run after .ci/docker-setup.sh and .ci/build-images.sh.
# shellcheck disable=SC2015  # ok/bad always return 0
set -euo pipefail

IMAGE=${MESH_BASE_IMAGE:-mesh-base:latest}
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fail=0
ok() { printf 'ok    %s\n' "$*"; }
bad() { printf 'FAIL  %s\n' "$*"; fail=1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
echo "hello-from-host" >"$dir/probe.txt"
python3 -m http.server "$port" --bind 0.0.0.0 --directory "$dir" >/dev/null 2>&1 &
srv=$!
trap 'kill "$srv" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
done

t=$(date +%s%N)
out=$(timeout 60 "$DOCKER" run --rm "$IMAGE" python3 -c 'print(42)' 2>&1) || true
ms=$(( ($(date +%s%N) - t) / 1000000 ))
[ "$out" = 42 ] && ok "docker run $IMAGE python3 -> 42 (${ms} ms)" || bad "docker run: $out"

gw=$(timeout 60 "$DOCKER" run --rm --add-host host.docker.internal:host-gateway "$IMAGE" \
    python3 -c "import socket; print(socket.gethostbyname('host.docker.internal'))" 2>&1) || true
br=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
[ -n "$gw" ] && [ "$gw" = "$br" ] && ok "host.docker.internal -> $gw (docker0)" || bad "host.docker.internal -> '$gw' (docker0 is '$br')"

fetch="import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())"
out=$(timeout 60 "$DOCKER" run --rm --add-host host.docker.internal:host-gateway "$IMAGE" \
    python3 -c "$fetch" "http://host.docker.internal:$port/probe.txt" 2>&1) || true
[ "$out" = hello-from-host ] && ok "bridge container -> host TCP via host.docker.internal:$port" || bad "bridge -> host: $out"

out=$(timeout 60 "$DOCKER" run --rm --network host "$IMAGE" \
    python3 -c "$fetch" "http://127.0.0.1:$port/probe.txt" 2>&1) || true
[ "$out" = hello-from-host ] && ok "--network host container -> 127.0.0.1:$port" || bad "--network host: $out"

exit "$fail"
