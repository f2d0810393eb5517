#!/usr/bin/env bash
# `make test-containers`: the containerised deployment, run for real with Debian's podman.
#
# Builds the app image from deploy/Dockerfile and the directory image from ldap_seed/Dockerfile
# (on debian:bookworm-slim, or on a Debian base made here with debootstrap when no registry
# answers), starts docker-compose.yml with podman-compose and deploy/compose.ldap-seed.yml (the
# directory built from ldap_seed in osixia's place), waits until both services are healthy, runs
# the browser suite against the containerised app, checks the containers from inside
# (deploy/tests/test_container_stack.py), stops the stack with `make down` and checks that nothing
# is left, plays the rendered Kubernetes Deployment with the app image (podman kube play,
# deploy/tests/test_kube_play.py), then runs the testcontainers tests against podman's API socket.
# Prints each step's time and the images' sizes. Where podman cannot start a container, says why
# in one line and exits 0.
#
# The stack runs as its own compose project on its own ports (COMPOSE_PROJECT_NAME, APP_PORT,
# LDAP_PORT, LDAPS_PORT), so a `make up` stack beside it is left alone.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
export CONTAINERS_CONF=$PWD/deploy/podman/containers.conf
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-jumpcloud-django-test}
export APP_PORT=${APP_PORT:-18080} LDAP_PORT=${LDAP_PORT:-18389} LDAPS_PORT=${LDAPS_PORT:-18636}
export STATE_DIR=${STATE_DIR:-.run/podman}
PROJECT=$COMPOSE_PROJECT_NAME
LABEL=label=io.podman.compose.project=$PROJECT
DIRECTORY_IMAGE=localhost/jumpcloud-django-directory:latest
API=unix://$PWD/$STATE_DIR/podman.sock
started=$(date +%s%N)
timings=()

# Seconds since a `date +%s%N`, to a tenth.
since() {
  local tenths=$((($(date +%s%N) - $1) / 100000000))
  printf '%d.%d' $((tenths / 10)) $((tenths % 10))
}

step() {
  local name=$1 start
  shift
  start=$(date +%s%N)
  printf '\n=== %s\n' "$name"
  "$@"
  timings+=("$(printf '%-56s %7s s' "$name" "$(since "$start")")")
}

base_image() {
  BASE_IMAGE=$(deploy/podman.sh base-image)
  export BASE_IMAGE
  echo "$BASE_IMAGE"
}

project_left() {
  podman ps -a --filter "$LABEL" --format '{{.Names}}'
  podman network ls --filter "$LABEL" --format '{{.Name}}'
}

clean_up() {
  # Whatever a failed run left: this project's containers, network and volumes, and the API.
  if [[ -n $(project_left) ]]; then make --no-print-directory down ENGINE=podman >/dev/null 2>&1 || true; fi
  podman volume ls -q --filter "$LABEL" | xargs -r podman volume rm -f >/dev/null || true
  deploy/podman.sh api stop
}

summary() {
  printf '\n=== test-containers: timings\n'
  printf '%s\n' "${timings[@]}"
  printf '%-56s %7s s\n' "total" "$(since "$started")"
  printf '\n=== images\n'
  local image
  for image in "$BASE_IMAGE" "localhost/${PROJECT}_app:latest" "$DIRECTORY_IMAGE"; do
    podman image exists "$image" &&
      printf '%-56s %7.1f MB\n' "$image" "$(podman image inspect --format '{{.Size}}' "$image" | awk '{print $1 / 1e6}')"
  done
}

step "install podman (Debian packages, as root)" deploy/podman.sh install
if ! reason=$(deploy/podman.sh usable); then
  echo "test-containers: skipped: $reason"
  exit 0
fi
trap clean_up EXIT
clean_up
step "base image (kept in podman's store between runs)" base_image
# podman info answering is not podman running a container: try one.
if ! output=$(podman run --rm "$BASE_IMAGE" true 2>&1); then
  echo "test-containers: skipped: podman cannot start a container here: ${output##*$'\n'}"
  exit 0
fi
step "build the app and directory images" make --no-print-directory build ENGINE=podman
step "compose up, both services healthy" make --no-print-directory up ENGINE=podman COMPOSE_UP_BUILD=
# The suite's own harness tests (e2e/test_harness.py) test no stack: `make test` runs them.
step "browser suite against the containerised app" \
  env E2E_BASE_URL="http://127.0.0.1:$APP_PORT" E2E_LDAP_URI="ldap://127.0.0.1:$LDAP_PORT" \
  make --no-print-directory e2e E2E_ARGS="--deselect e2e/test_harness.py"
deploy/podman.sh api start
step "the containers from inside (test_container_stack)" \
  env CONTAINER_STACK="$PROJECT" DOCKER_HOST="$API" .venv/bin/pytest -p no:cacheprovider deploy/tests/test_container_stack.py
step "make down" make --no-print-directory down ENGINE=podman
left=$(project_left)
if [[ -n $left ]]; then
  echo "make down left these behind: $left" >&2
  exit 1
fi
echo "make down left no container and no network of project $PROJECT"
# kubectl renders the manifests (Debian's kubernetes-client, as `make lint` installs it).
make --no-print-directory apt-install PACKAGES="$(command -v kubectl >/dev/null || echo kubernetes-client)"
step "the Deployment under podman kube play (test_kube_play)" \
  env KUBE_PLAY_IMAGE="localhost/${PROJECT}_app:latest" .venv/bin/pytest -p no:cacheprovider deploy/tests/test_kube_play.py
step "testcontainers against podman's API (directory image)" \
  env DOCKER_HOST="$API" TESTCONTAINERS_RYUK_DISABLED=true LDAP_CONTAINER_OVERRIDE=deploy/compose.ldap-seed.yml \
  .venv/bin/pytest -p no:cacheprovider ldap_seed/tests/test_container_directory.py
summary
