#!/usr/bin/env bash
# Build the images the `container` tests use, without any image registry:
#   mesh-base:latest   Debian (same release and mirrors as the host's apt) with
#                      python3, pip and venv, bootstrapped with mmdebstrap and
#                      `docker import`ed.  Skipped when an image built from the
#                      same recipe exists (label mesh.base.recipe).
#   jinad-mesh:latest  the repo's Dockerfile on top of mesh-base, installing the
#                      project from a wheelhouse made on the host (docker/wheelhouse),
#                      because pip inside a container cannot verify PyPI's TLS here.
# Then smoke-tests both.  Needs a running engine: run .ci/docker-setup.sh first.
# See docker/NOTES.md.
#
# Environment (all optional):
#   MESH_BASE_IMAGE      (mesh-base:latest)     MESH_IMAGE (jinad-mesh:latest)
#   MESH_REBUILD_BASE=1  rebuild mesh-base even if it exists
#   MESH_BASE_TOOL       mmdebstrap (default) or debootstrap
#   MESH_BASE_SUITE      Debian suite (default: the host's VERSION_CODENAME)
#   MESH_BASE_EXTRA_PACKAGES  more Debian packages for mesh-base (space-separated)
#   MESH_SKIP_PROJECT=1  only build mesh-base
#   MESH_DOCKER_BUILDKIT (1) build the project image with the engine's BuildKit
#   MESH_WHEEL_CACHE     dependency wheels kept between runs (/var/cache/mesh-wheels)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=${MESH_BASE_IMAGE:-mesh-base:latest}
PROJECT_IMAGE=${MESH_IMAGE:-jinad-mesh:latest}
WHEELHOUSE_REL=docker/wheelhouse
WHEELHOUSE=$ROOT/$WHEELHOUSE_REL
WHEEL_CACHE=${MESH_WHEEL_CACHE:-/var/cache/mesh-wheels}
# Debian's client matches the engine (and does BuildKit without buildx).
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

declare -a TIMINGS=()
t0=$(date +%s)
step_start() { STEP=$1; STEP_T=$(date +%s); log "== $STEP"; }
step_end() { local d=$(( $(date +%s) - STEP_T )); TIMINGS+=("$STEP: ${d}s${1:+ ($1)}"); log "== $STEP: ${d}s${1:+ ($1)}"; }

"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answering at $DOCKER_HOST; run .ci/docker-setup.sh first"

# (no `| grep -q` here: with pipefail, grep exiting early can SIGPIPE the producer)
installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == *"install ok installed"* ]]; }
has_candidate() { [[ "$(apt-cache policy "$1" 2>/dev/null)" =~ Candidate:\ [^\(] ]]; }
apt_install() {
    local p need_update=0
    for p in "$@"; do has_candidate "$p" || need_update=1; done
    [ "$need_update" -eq 0 ] || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

# pip here warns about every configured-but-absent local index folder; keep real errors.
pip_q() { python3 -m pip "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
image_id() { "$DOCKER" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------------------
# (a) mesh-base
# ---------------------------------------------------------------------------
# shellcheck disable=SC1091
SUITE=${MESH_BASE_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
BASE_PACKAGES="python3 python3-pip python3-venv ca-certificates ${MESH_BASE_EXTRA_PACKAGES:-}"
BASE_PACKAGES=$(tr -s ' \t' '\n' <<<"$BASE_PACKAGES" | sed '/^$/d' | sort -u | paste -sd ' ')
# Bump the "v" when the recipe below changes in a way that should force a rebuild.
RECIPE_ID=$(printf 'v1|%s|%s' "$SUITE" "$BASE_PACKAGES" | sha256sum | cut -c1-16)

# The Debian sources apt uses on this host, for $SUITE and its -updates/-security
# suites, as one-line "deb URI SUITE COMPONENTS" entries (deb822 .sources and
# classic .list files; other repositories are ignored).
host_debian_sources() {
    local f files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || return 0
    awk -v want="$SUITE" '
        function ok(s) { return s == want || s == want "-updates" || s == want "-security" }
        function flush(   n, m, i, j, s, u) {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && uris != "") {
                n = split(suites, s, /[ \t]+/); m = split(uris, u, /[ \t]+/)
                for (i = 1; i <= n; i++) if (ok(s[i])) for (j = 1; j <= m; j++)
                    if (u[j] != "") print "deb " u[j] " " s[i] " " comps
            }
            types = uris = suites = comps = enabled = ""
        }
        FNR == 1 { flush() }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[ \t]*#/) next
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if (match($0, /^[A-Za-z-]+:/)) {
                key = tolower(substr($0, 1, RLENGTH - 1)); val = substr($0, RLENGTH + 1)
                gsub(/^[ \t]+|[ \t]+$/, "", val)
                if (key == "types") types = val; else if (key == "uris") uris = val
                else if (key == "suites") suites = val; else if (key == "components") comps = val
                else if (key == "enabled") enabled = tolower(val)
            }
            next
        }
        {   # one-line format: deb [options] uri suite component...
            sub(/#.*/, ""); if ($1 != "deb") next
            line = $0; sub(/^[ \t]*deb[ \t]+/, "", line)
            if (line ~ /^\[/) sub(/^\[[^]]*\][ \t]*/, "", line)
            n = split(line, w, /[ \t]+/); if (n < 3 || !ok(w[2])) next
            c = w[3]; for (i = 4; i <= n; i++) c = c " " w[i]
            print "deb " w[1] " " w[2] " " c
        }
        END { flush() }' "${files[@]}" | awk '!seen[$0]++'
}

build_base_mmdebstrap() {  # build_base_mmdebstrap TARBALL SOURCES...
    local tarball=$1; shift
    installed mmdebstrap || apt_install mmdebstrap
    # --variant=minbase: Essential + apt; merged-usr via hook (no usrmerge/perl);
    # no docs/man/locales; device nodes left to the engine; PEP 668 marker
    # removed so `pip install` works in the image as it does in python:*-slim.
    # shellcheck disable=SC2016  # "$1" in the hook is expanded by mmdebstrap's shell
    mmdebstrap --quiet --variant=minbase --include="${BASE_PACKAGES// /,}" \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --skip=output/dev \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
        "$SUITE" "$tarball" "$@" >"$work/bootstrap.log" 2>&1 \
        || { tail -n 40 "$work/bootstrap.log" >&2; die "mmdebstrap failed"; }
}

build_base_debootstrap() {  # build_base_debootstrap TARBALL SOURCES...
    local tarball=$1; shift
    installed debootstrap || apt_install debootstrap
    local mirror root
    mirror=$(printf '%s\n' "$@" | awk -v s="$SUITE" '$3 == s { print $2; exit }')
    mirror=${mirror:-http://deb.debian.org/debian}
    root=$(dirname "$tarball")/rootfs
    debootstrap --variant=minbase --include="${BASE_PACKAGES// /,}" "$SUITE" "$root" "$mirror" \
        >"$work/bootstrap.log" 2>&1 || { tail -n 40 "$work/bootstrap.log" >&2; die "debootstrap failed"; }
    printf '%s\n' "$@" >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/man "$root"/usr/share/info "$root"/usr/share/locale \
        "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
    tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$tarball" .
    rm -rf "$root"
}

build_base() {
    local tool=${MESH_BASE_TOOL:-mmdebstrap} have
    have=$("$DOCKER" image inspect --format '{{index .Config.Labels "mesh.base.recipe"}}' "$BASE_IMAGE" 2>/dev/null || true)
    if [ "${MESH_REBUILD_BASE:-0}" != 1 ] && [ "$have" = "$RECIPE_ID" ]; then
        log "$BASE_IMAGE exists (recipe $RECIPE_ID); not rebuilding (MESH_REBUILD_BASE=1 forces it)"
        return 0
    fi
    local -a sources=()
    mapfile -t sources < <(host_debian_sources)
    [ "${#sources[@]}" -gt 0 ] || sources=("deb http://deb.debian.org/debian $SUITE main")
    log "bootstrapping Debian $SUITE with $tool from the host's apt sources:"
    printf '    %s\n' "${sources[@]}" >&2

    work=$(mktemp -d /var/tmp/mesh-base.XXXXXX)   # global: the EXIT trap needs it
    trap 'rm -rf "$work"' EXIT
    case "$tool" in
        mmdebstrap) build_base_mmdebstrap "$work/rootfs.tar" "${sources[@]}" ;;
        debootstrap) build_base_debootstrap "$work/rootfs.tar" "${sources[@]}" ;;
        *) die "MESH_BASE_TOOL must be mmdebstrap or debootstrap, not '$tool'" ;;
    esac
    local old
    old=$(image_id "$BASE_IMAGE")
    "$DOCKER" import \
        -c "LABEL mesh.base.recipe=$RECIPE_ID" \
        -c "LABEL mesh.base.suite=$SUITE" \
        -c 'ENV LANG=C.UTF-8' \
        -c 'CMD ["python3"]' \
        "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
    rm -rf "$work"
    trap - EXIT
    if ! "$DOCKER" run --rm "$BASE_IMAGE" python3 -c 'import ssl, venv, ensurepip, pip' >/dev/null; then
        "$DOCKER" rmi "$BASE_IMAGE" >/dev/null 2>&1 || true
        die "$BASE_IMAGE was built but python3 does not work in it; removed"
    fi
    if [ -n "$old" ] && [ "$old" != "$(image_id "$BASE_IMAGE")" ]; then
        "$DOCKER" rmi "$old" >/dev/null 2>&1 || true
    fi
}

step_start "base image $BASE_IMAGE"
build_base
step_end "$("$DOCKER" image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

if [ "${MESH_SKIP_PROJECT:-0}" = 1 ]; then
    log "MESH_SKIP_PROJECT=1: not building $PROJECT_IMAGE"
else
# ---------------------------------------------------------------------------
# (b) wheelhouse + jinad-mesh
# ---------------------------------------------------------------------------
step_start "wheelhouse $WHEELHOUSE_REL"
# Target the base image's interpreter, libc and architecture, not the host's.
target=$("$DOCKER" run --rm "$BASE_IMAGE" python3 -c \
    'import sys, platform; v = platform.libc_ver()[1]; print(f"{sys.version_info[0]}{sys.version_info[1]}", v or "2.17", platform.machine())') \
    || die "cannot run python3 in $BASE_IMAGE"
read -r py_tag glibc arch <<<"$target"
glibc_minor=${glibc#*.}
platforms=()
for ((m = glibc_minor; m >= 17; m--)); do platforms+=(--platform "manylinux_2_${m}_${arch}"); done
platforms+=(--platform "manylinux2014_${arch}")   # pip adds manylinux2010/1 for this one
host_py_tag=$(python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')

stage=$(mktemp -d /var/tmp/mesh-wheelhouse.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/src" "$stage/wh"
# Build the project wheel from a clean copy of the working tree (an in-tree
# build would leave build/ behind, and a stale build/lib leaks into wheels).
tar -C "$ROOT" --exclude=./.git --exclude=./build --exclude=./dist --exclude='*.egg-info' \
    --exclude='__pycache__' --exclude="./$WHEELHOUSE_REL" --exclude=./tests -cf - . | tar -C "$stage/src" -xf -
# Fixed timestamps: same sources -> byte-identical wheel -> docker layer cache hit.
# The isolated build env needs setuptools: from the wheel cache if it has one.
mkdir -p "$WHEEL_CACHE"
SOURCE_DATE_EPOCH=315532800 pip_q wheel -q --no-deps --no-index --find-links "$WHEEL_CACHE" \
        -w "$stage/wh" "$stage/src" >/dev/null 2>&1 \
    || SOURCE_DATE_EPOCH=315532800 pip_q wheel -q --no-deps -w "$stage/wh" "$stage/src" >&2
proj_whl=$(ls "$stage"/wh/jinad_mesh-*.whl)
# Dependency wheels are kept in $WHEEL_CACHE across runs (and fresh clones): an
# offline resolve against it comes first; pip goes to the index only when the
# cache cannot satisfy the project's requirements.  With the host's python of
# the image's version, `pip wheel` fills the cache (it can also turn sdist-only
# dependencies, e.g. nkeys, into wheels); otherwise `pip download` fetches
# binary wheels for the image's interpreter/platform.
target_args=(--only-binary=:all: --python-version "$py_tag" --implementation cp --abi "cp$py_tag" "${platforms[@]}")
collect_offline() {  # copy the wheels the project needs from the cache into the stage
    pip_q download -q --no-index --find-links "$WHEEL_CACHE" "${target_args[@]}" "$@" \
        -d "$stage/wh" "$proj_whl" >&2 2>/dev/null
}
if collect_offline; then
    wh_note="all from $WHEEL_CACHE"
elif [ "$py_tag" = "$host_py_tag" ]; then
    pip_q wheel -q --prefer-binary -w "$WHEEL_CACHE" "$proj_whl" >&2 \
        || die "pip wheel of the project's dependencies failed"
    # also accept wheels the host compiled from sdists (same python and glibc as the image)
    collect_offline --platform "linux_$arch" \
        || die "wheels in $WHEEL_CACHE do not fit the image (cp$py_tag, glibc $glibc, $arch)"
    wh_note="cache filled by pip wheel (host python cp$host_py_tag)"
else
    pip_q download -q "${target_args[@]}" -d "$WHEEL_CACHE" "$proj_whl" >&2 \
        || die "some dependency has no cp$py_tag manylinux wheel, and the host python (cp$host_py_tag) cannot build one for the image"
    collect_offline || die "wheels in $WHEEL_CACHE do not fit the image"
    wh_note="cache filled by pip download (cp$py_tag manylinux)"
fi
rm -f "$WHEEL_CACHE"/jinad_mesh-*.whl
rm -rf "$WHEELHOUSE"
mkdir -p "$(dirname "$WHEELHOUSE")"
mv "$stage/wh" "$WHEELHOUSE"
rm -rf "$stage"
trap - EXIT
step_end "$(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels, $(du -sm "$WHEELHOUSE" | cut -f1) MB, cp$py_tag glibc $glibc $arch, $wh_note"

step_start "project image $PROJECT_IMAGE"
old=$(image_id "$PROJECT_IMAGE")
DOCKER_BUILDKIT=${MESH_DOCKER_BUILDKIT:-1} "$DOCKER" build -q -f "$ROOT/Dockerfile" -t "$PROJECT_IMAGE" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg WHEELHOUSE="$WHEELHOUSE_REL" "$ROOT" >/dev/null \
    || die "docker build of $PROJECT_IMAGE failed (rerun without -q for the log: DOCKER_BUILDKIT=1 $DOCKER build --build-arg BASE_IMAGE=$BASE_IMAGE --build-arg WHEELHOUSE=$WHEELHOUSE_REL $ROOT)"
new=$(image_id "$PROJECT_IMAGE")
if [ -n "$old" ] && [ "$old" != "$new" ]; then
    "$DOCKER" rmi "$old" >/dev/null 2>&1 || true   # the previous build, now untagged
fi
step_end "$("$DOCKER" image inspect --format '{{.Size}}' "$PROJECT_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
fi

# ---------------------------------------------------------------------------
# (c) smoke tests
# ---------------------------------------------------------------------------
step_start "smoke tests"
out=$("$DOCKER" run --rm "$BASE_IMAGE" python3 -c 'print(42)')
[ "$out" = 42 ] || die "docker run $BASE_IMAGE python3 -c 'print(42)' printed '$out'"
if [ "${MESH_SKIP_PROJECT:-0}" != 1 ]; then
    "$DOCKER" run --rm --entrypoint python3 "$PROJECT_IMAGE" -c \
        'import shutil, mesh; assert shutil.which("nats-server"), "nats-server not on PATH"; assert shutil.which("jinad")' \
        || die "$PROJECT_IMAGE: python3 -c 'import mesh' / nats-server / jinad check failed"
fi
step_end

log "summary (total $(( $(date +%s) - t0 ))s):"
printf '    %s\n' "${TIMINGS[@]}" >&2
"$DOCKER" image ls --format '    {{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}' \
    | grep -E "^    (${BASE_IMAGE%%:*}|${PROJECT_IMAGE%%:*}):" >&2 || true
