#!/usr/bin/env bash
# Builds chaoskit's local container image and makes a Docker-compatible API available,
# on a machine with no Docker engine and no image registry (only Debian and PyPI).
#
#   images/build.sh            install podman/runc/debootstrap if missing, install
#                              images/containers.conf, start the API service, build
#                              chaoskit/base if missing or its inputs changed
#   images/build.sh --no-install   the same, but refuse (exit 1, naming scripts/setup.sh)
#                              rather than install missing system packages: what tests use
#   images/build.sh --check    exit 0 if the image is current and the API answers, else 1
#
# The image, chaoskit/base:<inputs hash> (also tagged chaoskit/base:local, what the
# docker runtime uses by default), is a Debian bookworm minbase root filesystem with
# Java 17, redis-server, python3 plus the services' Python packages in /opt/venv, the
# pinned Kafka jars in /opt/kafka/libs and the pinned toxiproxy-server in
# /usr/local/bin. The jars and the binary are copied in rather than bind-mounted from
# the install cache: the image is then self-contained and immutable, so a running
# environment never depends on (or is changed by) the host's cache, and the same image
# runs wherever the API is.
#
# Environment: CHAOSKIT_PODMAN_SOCKET (default /run/chaoskit-podman.sock),
# CHAOSKIT_CACHE (where `chaoskit install` put Kafka and Toxiproxy), DEBIAN_MIRROR
# (default: the first deb.debian.org-style URI in /etc/apt/sources.list*).
#
# Exit codes: 0 ok, 1 failure, 3 no container engine can be installed or started here
# (the docker tests skip on 3 and fail on anything else).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGES="$ROOT/images"
REPO=chaoskit/base
PACKAGES="openjdk-17-jre-headless,redis-server,python3"
SOCKET="${CHAOSKIT_PODMAN_SOCKET:-/run/chaoskit-podman.sock}"
CONF_TARGET=/etc/containers/containers.conf.d/50-chaoskit.conf
DEBOOTSTRAP_CACHE=/var/cache/chaoskit/debootstrap
NO_ENGINE=3
NO_INSTALL=0

say() { printf '[chaoskit images] %s\n' "$*" >&2; }
die() { say "error: $*"; exit "${2:-1}"; }

PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || true)"
[ -n "$PY" ] || die "python3 is not on PATH and $ROOT/.venv does not exist; run scripts/setup.sh first"

cache_dir() {
  if [ -n "${CHAOSKIT_CACHE:-}" ]; then echo "$CHAOSKIT_CACHE"
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/chaoskit"; fi
}
KAFKA_LIBS="$(cache_dir)/kafka-4.3.1/libs"
TOXIPROXY_BIN="$(cache_dir)/toxiproxy-2.12.0/toxiproxy-server"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1; fi
}

ensure_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  # the init the API's `Init: true` runs as PID 1 (Debian's podman only recommends it)
  [ -x /usr/libexec/podman/catatonit ] || command -v catatonit >/dev/null || missing+=(catatonit)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$NO_INSTALL" = 1 ] \
    && die "${missing[*]} not installed: run scripts/setup.sh --tests (it installs them once)"
  command -v apt-get >/dev/null \
    || die "${missing[*]} not installed and apt-get is not available to install them; install podman, runc, debootstrap and catatonit with your package manager" $NO_ENGINE
  say "installing ${missing[*]} with apt-get ..."
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q >/dev/null \
    || die "apt-get update failed (needs root or passwordless sudo); install podman, runc, debootstrap and catatonit by hand" $NO_ENGINE
  as_root apt-get install -y -q --no-install-recommends podman runc debootstrap uidmap catatonit >/dev/null \
    || die "apt-get install podman runc debootstrap catatonit failed" $NO_ENGINE
}

ensure_conf() {
  if ! cmp -s "$IMAGES/containers.conf" "$CONF_TARGET" 2>/dev/null; then
    say "installing $CONF_TARGET (runc, cgroupfs, ulimits nofile/nproc 1024, k8s-file logs)"
    as_root mkdir -p "$(dirname "$CONF_TARGET")" && as_root cp "$IMAGES/containers.conf" "$CONF_TARGET" \
      || die "cannot write $CONF_TARGET (needs root)" $NO_ENGINE
  fi
}

ensure_api() {
  # A machine service: it stays up after this script, like dockerd would.
  "$PY" -m chaoskit.runtime.podman start --socket "$SOCKET" \
    || die "the podman API service did not start on $SOCKET (see $SOCKET.log)" $NO_ENGINE
}

ensure_components() {
  if [ ! -f "$(cache_dir)/kafka-4.3.1/.complete" ] || [ ! -x "$TOXIPROXY_BIN" ]; then
    say "Kafka or Toxiproxy not in $(cache_dir); running chaoskit install ..."
    "$PY" -m chaoskit.cli install
  fi
}

inputs_hash() {
  # Everything that ends up in the image (the recipe is build_image's own text, so editing
  # the rest of this script does not rebuild); a change in any of them means a rebuild.
  {
    declare -f build_image
    cat "$IMAGES/service-requirements.txt"
    echo "$PACKAGES"
    (cd "$KAFKA_LIBS" && find . -name '*.jar' -printf '%f %s\n' | sort)
    sha256sum < "$TOXIPROXY_BIN"
  } | sha256sum | cut -c1-12
}

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri="$(grep -rhoE '(URIs:|^deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | head -1 | awk '{print $2}')"
  echo "${uri:-http://deb.debian.org/debian}"
}

build_image() {
  local tag="$1" work rootfs started
  started=$(date +%s)
  work="$(mktemp -d /var/tmp/chaoskit-image.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
  rootfs="$work/rootfs"
  mkdir -p "$DEBOOTSTRAP_CACHE"
  say "debootstrap bookworm minbase + $PACKAGES from $(mirror) (a minute or two) ..."
  as_root debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$DEBOOTSTRAP_CACHE" \
    bookworm "$rootfs" "$(mirror)" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  say "python packages for the services (images/service-requirements.txt) into /opt/venv ..."
  # pip runs inside the image with the image's own interpreter, so environment markers
  # (e.g. redis needs async-timeout below Python 3.11.3) are judged for that interpreter.
  # It gets the host's resolver and CA bundle for the duration, then they are removed.
  chroot "$rootfs" /usr/bin/python3 -m venv --without-pip /opt/venv
  "$PY" -m pip download -q --no-deps -d "$work/pip" pip
  mkdir -p "$rootfs/tmp/chaoskit"
  cp "$work"/pip/pip-*.whl "$IMAGES/service-requirements.txt" "$rootfs/tmp/chaoskit/"
  cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$rootfs/tmp/chaoskit/ca.crt"
  cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root SSL_CERT_FILE=/tmp/chaoskit/ca.crt \
    chroot "$rootfs" /bin/sh -c \
    'cd /tmp/chaoskit && set -- pip-*.whl && /opt/venv/bin/python "$1/pip" install -q --no-cache-dir --disable-pip-version-check \
       --cert ca.crt --only-binary=:all: -r service-requirements.txt' \
    || die "pip install of images/service-requirements.txt inside the image failed"
  rm -rf "$rootfs/tmp/chaoskit" "$rootfs/etc/resolv.conf"
  chroot "$rootfs" /opt/venv/bin/python -c 'import aiohttp, confluent_kafka, redis' \
    || die "the services' packages do not import in the image"
  say "Kafka jars and toxiproxy-server from $(cache_dir) ..."
  mkdir -p "$rootfs/opt/kafka/libs"
  cp "$KAFKA_LIBS"/*.jar "$rootfs/opt/kafka/libs/"
  install -m 0755 "$TOXIPROXY_BIN" "$rootfs/usr/local/bin/toxiproxy-server"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/info "$rootfs"/usr/share/locale
  say "importing $(du -sh "$rootfs" | cut -f1) as $REPO:$tag ..."
  tar -C "$rootfs" -c . | podman import \
    --change "ENV=PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "LABEL=io.chaoskit.inputs=$tag" \
    --message "chaoskit base image, inputs $tag" - "$REPO:$tag" >/dev/null
  podman tag "$REPO:$tag" "$REPO:local"
  rm -rf "$work"
  trap - EXIT
  say "built $REPO:$tag (= $REPO:local) in $(( $(date +%s) - started )) s"
}

remove_old_images() {
  local current="$1" ref
  for ref in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$REPO" 2>/dev/null); do
    case "$ref" in
      *":$current"|*":local") ;;
      *) podman rmi "$ref" >/dev/null 2>&1 && say "removed old image $ref" || true ;;
    esac
  done
}

main() {
  if [ "${1:-}" = "--check" ]; then
    command -v podman >/dev/null || exit 1
    ensure_components >/dev/null 2>&1 || exit 1
    podman image exists "$REPO:$(inputs_hash)" || exit 1
    "$PY" -m chaoskit.runtime.podman status --socket "$SOCKET" >/dev/null
    exit $?
  fi
  [ "${1:-}" = "--no-install" ] && NO_INSTALL=1
  ensure_tools
  ensure_conf
  ensure_api
  ensure_components
  local tag
  tag="$(inputs_hash)"
  if podman image exists "$REPO:$tag"; then
    podman tag "$REPO:$tag" "$REPO:local"
    say "$REPO:$tag is current (= $REPO:local); nothing to build"
  else
    build_image "$tag"
  fi
  remove_old_images "$tag"
  say "Docker API: DOCKER_HOST=unix://$SOCKET (chaoskit uses it by default when DOCKER_HOST is unset)"
}

main "$@"
