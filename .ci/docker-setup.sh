#!/usr/bin/env bash
# Install Debian's Docker engine (docker.io, plus docker-compose v1) and make sure
# a dockerd is answering on /var/run/docker.sock, for the `container` tests.
#
# Idempotent: packages already installed are not reinstalled, `apt-get update`
# only runs when apt has no candidate for a package (or an install fails on
# stale lists), and a dockerd that already answers is left alone.  The machines
# this runs on have no systemd, so dockerd is started here in the background,
# detached (setsid), logging to $MESH_DOCKERD_LOG.  See docker/NOTES.md.
#
# Environment (all optional):
#   MESH_DOCKERD_LOG             dockerd log file       (/tmp/mesh-dockerd.log)
#   MESH_DOCKERD_WAIT_S          seconds to wait for the engine (90)
#   MESH_DOCKER_STORAGE_DRIVER   force a storage driver (default: overlay2 if an
#                                overlay mount works under /var/lib/docker, else vfs)
#   MESH_DOCKERD_EXTRA_ARGS      extra dockerd arguments (word-split)
#   MESH_DOCKER_COMPOSE=0        do not install docker-compose
set -euo pipefail

LOG=${MESH_DOCKERD_LOG:-/tmp/mesh-dockerd.log}
WAIT_S=${MESH_DOCKERD_WAIT_S:-90}
SOCK=unix:///var/run/docker.sock
DATA_ROOT=/var/lib/docker
# Debian's client: same version/API as the engine.  /usr/local/bin/docker (if any)
# also works through API negotiation, but its `docker build` needs buildx for BuildKit.
DOCKER=/usr/bin/docker

log() { printf '[docker-setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, starts dockerd)"

t_start=$(date +%s)

# (no `| grep -q` here: with pipefail, grep exiting early can SIGPIPE the producer)
installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == *"install ok installed"* ]]; }
has_candidate() { [[ "$(apt-cache policy "$1" 2>/dev/null)" =~ Candidate:\ [^\(] ]]; }

apt_install() {
    local p need_update=0
    for p in "$@"; do has_candidate "$p" || need_update=1; done
    if [ "$need_update" -eq 1 ]; then
        log "apt-get update (no candidate yet for: $*)"
        apt-get update -qq
    fi
    log "apt-get install $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
            >/tmp/mesh-docker-apt.log 2>&1; then
        log "install failed (stale package lists?); apt-get update and retry"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
            >/tmp/mesh-docker-apt.log 2>&1 || { tail -n 30 /tmp/mesh-docker-apt.log >&2; die "apt-get install $* failed"; }
    fi
}

# --- 1. packages -------------------------------------------------------------
# docker.io pulls containerd, runc, tini and iptables (nft backend by default).
# Bookworm has no compose v2 plugin (docker-compose-plugin is Docker Inc.'s repo
# only); it ships compose v1 as the `docker-compose` package (1.29.2).
pkgs=()
installed docker.io || pkgs+=(docker.io)
if [ "${MESH_DOCKER_COMPOSE:-1}" != 0 ] && ! installed docker-compose; then
    pkgs+=(docker-compose)
fi
if [ "${#pkgs[@]}" -gt 0 ]; then
    apt_install "${pkgs[@]}"
else
    log "packages already installed"
fi
if [ ! -x /usr/sbin/dockerd ] || [ ! -x "$DOCKER" ]; then die "dockerd/docker missing after install"; fi
t_pkgs=$(date +%s)

engine_up() { "$DOCKER" -H "$SOCK" info >/dev/null 2>&1; }

report() {
    "$DOCKER" -H "$SOCK" version --format \
        'engine {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}' >&2 || true
    "$DOCKER" -H "$SOCK" info --format \
        'storage driver {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}, root {{.DockerRootDir}}' >&2 || true
    log "iptables FORWARD policy: $(iptables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p')" \
        "(DROP while dockerd runs: see docker/NOTES.md for bridges of your own)"
    log "done in $(( $(date +%s) - t_start ))s (packages $(( t_pkgs - t_start ))s)"
}

wait_engine() {  # wait_engine PID-or-empty
    local pid=$1 deadline=$(( $(date +%s) + WAIT_S ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if engine_up; then return 0; fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            log "dockerd (pid $pid) exited; last lines of $LOG:"
            tail -n 40 "$LOG" >&2 || true
            die "dockerd failed to start"
        fi
        sleep 0.5
    done
    log "no answer from dockerd within ${WAIT_S}s; last lines of $LOG:"
    tail -n 40 "$LOG" >&2 || true
    die "dockerd did not come up"
}

# --- 2. engine ---------------------------------------------------------------
if engine_up; then
    log "dockerd already answering on $SOCK"
    report
    exit 0
fi

# A dockerd that is still starting (e.g. another run of this script): wait for it.
if [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    pid=$(cat /var/run/docker.pid)
    log "dockerd (pid $pid) running but not answering yet; waiting"
    wait_engine "$pid"
    report
    exit 0
fi

# cgroups: dockerd needs a cgroup v1 or v2 hierarchy under /sys/fs/cgroup.
if ! grep -qE ' /sys/fs/cgroup(/[^ ]*)? cgroup2? ' /proc/self/mounts; then
    log "WARNING: no cgroup hierarchy mounted under /sys/fs/cgroup; dockerd will likely fail"
fi

# Storage driver: overlay2 when the kernel lets us mount overlayfs on the data
# root's filesystem (true on ext4 here), else vfs (always works, copies layers).
pick_storage_driver() {
    if [ -n "${MESH_DOCKER_STORAGE_DRIVER:-}" ]; then
        echo "$MESH_DOCKER_STORAGE_DRIVER"; return
    fi
    mkdir -p "$DATA_ROOT"
    local t
    t=$(mktemp -d "$DATA_ROOT/.mesh-overlay-probe.XXXXXX")
    mkdir -p "$t/l" "$t/u" "$t/w" "$t/m"
    if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
        umount "$t/m"
        rm -rf "$t"
        echo overlay2
    else
        rm -rf "$t"
        echo vfs
    fi
}
driver=$(pick_storage_driver)

# Networking: dockerd programs NAT/filter rules through `iptables` (nft backend
# on bookworm).  If that backend is unusable, try legacy; as a last resort run
# without iptables (containers still reach the host via docker0, no masquerade).
net_args=()
if iptables -t nat -S >/dev/null 2>&1 && iptables -t filter -S >/dev/null 2>&1; then
    :
elif command -v iptables-legacy >/dev/null && iptables-legacy -t nat -S >/dev/null 2>&1; then
    log "iptables (nft) unusable; switching alternatives to iptables-legacy"
    update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
    update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
else
    log "WARNING: no working iptables; starting dockerd with --iptables=false --ip-masq=false"
    net_args=(--iptables=false --ip-masq=false)
fi

extra=()
if [ -n "${MESH_DOCKERD_EXTRA_ARGS:-}" ]; then
    read -r -a extra <<<"$MESH_DOCKERD_EXTRA_ARGS"
fi

log "starting dockerd (storage driver $driver${net_args[*]:+, ${net_args[*]}}); log: $LOG"
{ printf '\n==== %s: .ci/docker-setup.sh starting dockerd ====\n' "$(date -u +%FT%TZ)"; } >>"$LOG"
setsid /usr/sbin/dockerd --host="$SOCK" --data-root="$DATA_ROOT" --storage-driver="$driver" \
    "${net_args[@]}" "${extra[@]}" >>"$LOG" 2>&1 </dev/null &
dockerd_pid=$!
wait_engine "$dockerd_pid"
log "dockerd up (pid $dockerd_pid)"
report
