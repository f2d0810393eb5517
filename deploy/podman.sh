#!/usr/bin/env bash
# Podman on a Debian host, for the containerised stack where no Docker engine answers (and for
# `make test-containers`). Podman reads the project's own deploy/podman/containers.conf; the
# machine's /etc/containers is never changed.
#
#   deploy/podman.sh install         Debian's podman and what it needs (as root; else the command)
#   deploy/podman.sh usable          can a container start here? Prints why not and exits 3
#   deploy/podman.sh base-image      prints a Debian bookworm base image's name, made if needed
#   deploy/podman.sh wait PROJECT S  run each container's healthcheck until all are healthy (S s)
#   deploy/podman.sh api start|stop  the Docker-compatible API on a socket (for testcontainers)
#
# STATE_DIR (default .run/podman) holds the API socket and pid. The base image is kept in
# podman's store, so it is made once per machine.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}
STATE_DIR=${STATE_DIR:-.run/podman}
# netavark programs the container network with iptables; debootstrap makes the base image;
# catatonit is what podman builds its pods' pause image from (`podman kube play`) without a registry.
PACKAGES=(podman runc netavark aardvark-dns iptables debootstrap catatonit)
REGISTRY_BASE=docker.io/library/debian:bookworm-slim
LOCAL_BASE=localhost/debian-debootstrap:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf '%s\n' "$*"; }
fail() { printf 'podman.sh: %s\n' "$*" >&2; exit 1; }

install() {
  local missing=()
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  if [[ $(id -u) != 0 ]]; then
    say "Missing Debian packages: ${missing[*]}. Run: sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
  say "Installing Debian packages: ${missing[*]}"
  # Another apt may hold the lock for a while (unattended upgrades): wait for it.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Exit 3 with one line saying why when podman cannot run a container here (no user namespaces
# for a rootless podman, no cgroups...): callers report it and carry on.
usable() {
  command -v podman >/dev/null || { say "podman is not installed"; exit 3; }
  if [[ $(id -u) != 0 && $(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0) == 0 ]]; then
    say "podman cannot start containers here: rootless podman needs user namespaces (user.max_user_namespaces is 0)"
    exit 3
  fi
  local limit
  for limit in "$(ulimit -Hn)" "$(ulimit -Hu)"; do
    if [[ $limit != unlimited && $limit -lt 4096 ]]; then
      say "podman cannot start containers here: the hard limits (ulimit -Hn/-Hu) are under deploy/podman/containers.conf's 4096"
      exit 3
    fi
  done
  local info
  if ! info=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>&1); then
    say "podman cannot start containers here: ${info##*$'\n'}"
    exit 3
  fi
}

# A Debian bookworm base image: debian:bookworm-slim where a registry answers; otherwise one
# made here from Debian's packages with debootstrap --variant=minbase, as that image is made.
# It uses the host's apt sources and trusts the extra CAs the host trusts, because builds from it
# must reach the same package mirrors the host reaches, through the same proxies.
base_image() {
  local image
  # One made earlier is kept: no registry is asked again on the next run.
  for image in "$REGISTRY_BASE" "$LOCAL_BASE"; do
    if podman image exists "$image"; then
      say "$image"
      return
    fi
  done
  if podman pull -q "$REGISTRY_BASE" >/dev/null 2>&1; then
    say "$REGISTRY_BASE"
    return
  fi
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/debootstrap.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the folder is this call's
  trap "rm -rf '$work'" EXIT
  say "no registry answers: making $LOCAL_BASE with debootstrap from $MIRROR" >&2
  debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    fail "debootstrap failed: $(tail -n 5 "$work/debootstrap.log")"
  local root=$work/rootfs
  rm -f "$root/etc/apt/sources.list"
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  else
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$MIRROR" >"$root/etc/apt/sources.list.d/debian.sources"
  fi
  # A mirror that serves a dated snapshot has Release files past their Valid-Until.
  grep -rhs 'Check-Valid-Until\|Check-Date' /etc/apt/apt.conf.d/ >"$root/etc/apt/apt.conf.d/99host-mirror" || true
  # ca-certificates (installed by the images' own builds) adds these to the system store.
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  # As debian:bookworm-slim: no documentation, manual pages or translations.
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n' \
    >"$root/etc/dpkg/dpkg.cfg.d/slim"
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright -type f -delete
  rm -rf "$root"/usr/share/{man,info}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  tar --numeric-owner -C "$root" -c . | podman import -q --change 'CMD ["bash"]' - "$LOCAL_BASE" >/dev/null
  say "$LOCAL_BASE"
}

# Podman runs no healthcheck timer without systemd, so nothing would ever turn a container
# "healthy": run each container's healthcheck here until every one passes.
wait_healthy() {
  local project=$1 seconds=$2 deadline containers pending name
  deadline=$((SECONDS + seconds))
  # -a: a container that exited at start (before this wait began) is one that will never be healthy.
  mapfile -t containers < <(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}')
  [[ ${#containers[@]} -gt 0 ]] || fail "project $project has no container: did its up fail?"
  while :; do
    pending=()
    for name in "${containers[@]}"; do
      podman healthcheck run "$name" >/dev/null 2>&1 && continue
      pending+=("$name")
      # A container that exited, or keeps being restarted, will not get healthy: say so now.
      local state restarts
      read -r state restarts < <(podman inspect --format '{{.State.Status}} {{.RestartCount}}' "$name")
      if [[ $state =~ ^(exited|stopped|dead)$ ]] || ((restarts >= 3)); then
        printf '%s stopped; its last log lines:\n' "$name" >&2
        podman logs --tail 30 "$name" >&2 || true
        exit 1
      fi
    done
    [[ ${#pending[@]} -eq 0 ]] && { say "healthy: ${containers[*]}"; return; }
    if ((SECONDS >= deadline)); then
      for name in "${pending[@]}"; do
        printf '%s is not healthy after %ss; its last log lines:\n' "$name" "$seconds" >&2
        podman logs --tail 20 "$name" >&2 || true
      done
      exit 1
    fi
    sleep 2
  done
}

api_running() {
  local pid_file=$1 command=$2 pid
  [[ -s $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ -r /proc/$pid/cmdline ]] && [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == "$command " ]]
}

# The Docker-compatible API, for clients that speak Docker's (testcontainers):
# DOCKER_HOST=unix://$STATE_DIR/podman.sock.
api() {
  mkdir -p "$STATE_DIR"
  local state sock pid_file pid
  state=$(realpath -- "$STATE_DIR")  # absolute or relative, the socket's URL needs the full path
  sock=$state/podman.sock pid_file=$state/api.pid
  # The pid file's process is ours only while its command line is this service on this socket: a
  # pid reused after a crash or a reboot is someone else's, never stopped as ours.
  local command="podman system service --time 0 unix://$sock"
  case $1 in
    start)
      if api_running "$pid_file" "$command"; then return; fi
      rm -f "$sock"
      nohup podman system service --time 0 "unix://$sock" >"$state/api.log" 2>&1 &
      pid=$!
      echo "$pid" >"$pid_file"
      for ((i = 0; i < 100; i++)); do
        [[ -S $sock ]] && return
        kill -0 "$pid" 2>/dev/null || break  # exited: no point waiting out the 10 s
        sleep 0.1
      done
      fail "the podman API did not start: $(tail -n 5 "$state/api.log")"
      ;;
    stop)
      if api_running "$pid_file" "$command"; then kill "$(<"$pid_file")"; fi
      rm -f "$pid_file" "$sock"
      ;;
    *) fail "usage: $0 api start|stop" ;;
  esac
}

case ${1:-} in
  install) install ;;
  usable) usable ;;
  base-image) base_image ;;
  wait) wait_healthy "${2:?project}" "${3:-120}" ;;
  api) api "${2:-}" ;;
  *) fail "usage: $0 install | usable | base-image | wait PROJECT [SECONDS] | api start|stop" ;;
esac
