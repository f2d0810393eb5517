#!/usr/bin/env bash
# The stack without Docker: ldap_seed's slapd on 3389/3636 and gunicorn on 8000, in the
# background, with pids and logs in one folder (.run/). `make up`/`down`/`logs`/`ps` call this
# when no Docker engine answers.
#
#   deploy/native.sh up [local|jumpcloud]   start (a second `up` finds the first and stops there)
#   deploy/native.sh down                   stop exactly the processes `up` started
#   deploy/native.sh ps | logs
#   DIRECTORY=local|jumpcloud deploy/native.sh manage ARGS...   manage.py with the stack's environment
#
# The app reads deploy/env/local.env (or jumpcloud.env), then what differs here: the directory's
# address and CA, and the database, all under RUN_DIR. RUN_DIR, APP_PORT, LDAP_PORT and
# LDAPS_PORT are set, all four, to run a second stack beside the first (the browser tests do): a
# folder holds one stack, and an `up` or `down` with other ports than its stack's is refused.
# JUMPCLOUD_ENV_FILE names another env file than deploy/env/jumpcloud.env, SEED_LDIF_DIR seeds the
# directory afresh from another folder (python -m ldap_seed from-csv writes one), and START_SECONDS
# (default 60) is how long the directory and the app each get to be ready.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# Absolute from here on: the processes' command lines name it, so `./.run`, `.run/` and the full
# path are one stack, and two checkouts' `.run` are two. (slapd's config cannot hold a space.)
RUN_DIR=$(realpath -m -- "${RUN_DIR:-.run}")
if [[ $RUN_DIR == *[[:space:]]* ]]; then
  printf 'native: RUN_DIR must not contain white space (slapd cannot use such a folder): %s\n' "$RUN_DIR" >&2
  exit 1
fi
# Unset means the default; set but empty is refused below, as a mistyped value is.
APP_PORT=${APP_PORT-8000}
LDAP_PORT=${LDAP_PORT-3389}
LDAPS_PORT=${LDAPS_PORT-3636}
for port in "$APP_PORT" "$LDAP_PORT" "$LDAPS_PORT"; do
  if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
    printf "native: APP_PORT, LDAP_PORT and LDAPS_PORT are port numbers from 1 to 65535, not '%s'\n" "$port" >&2
    exit 1
  fi
done
APP_PORT=$((10#$APP_PORT)) LDAP_PORT=$((10#$LDAP_PORT)) LDAPS_PORT=$((10#$LDAPS_PORT))
if [[ $APP_PORT == "$LDAP_PORT" || $APP_PORT == "$LDAPS_PORT" || $LDAP_PORT == "$LDAPS_PORT" ]]; then
  printf 'native: APP_PORT, LDAP_PORT and LDAPS_PORT need a port each, not %s, %s and %s\n' \
    "$APP_PORT" "$LDAP_PORT" "$LDAPS_PORT" >&2
  exit 1
fi
PYTHON=${PYTHON:-.venv/bin/python}
JUMPCLOUD_ENV_FILE=${JUMPCLOUD_ENV_FILE:-deploy/env/jumpcloud.env}
SEED_LDIF_DIR=${SEED_LDIF_DIR:-}
# How long the directory (seeding a large SEED_CSV takes a while) and the app each get to be ready.
START_SECONDS=${START_SECONDS:-60}
APP_URL=http://127.0.0.1:$APP_PORT
LDAP_PID=$RUN_DIR/ldap.pid
APP_PID=$RUN_DIR/app.pid
# The ports the stack in RUN_DIR was started on ("app ldap ldaps"): a later up or down with other
# ports is meant for another stack, which needs a RUN_DIR of its own.
PORTS_FILE=$RUN_DIR/ports
# Our processes' command lines name this stack's folder: a pid in a stale file that now belongs to
# another stack's directory or app is not ours.
LDAP_PATTERN="ldap_seed serve --state-dir $RUN_DIR/ldap "
APP_PATTERN="gunicorn --config deploy/gunicorn.conf.py --pid $APP_PID "
mkdir -p "$RUN_DIR"

say() { printf '%s\n' "$*"; }
fail() { printf 'native: %s\n' "$*" >&2; exit 1; }

# One `up` or `down` of a stack at a time: a second waits for the first (then finds what it
# started) instead of starting a second directory on the same folder. The lock is fd 9, which the
# stack's processes do not inherit (9>&-), so it ends with this script.
hold_the_stack_lock() {
  exec 9>"$RUN_DIR/native.lock"
  flock 9
}

# A pid file names a live process of ours only if the process's command line still matches:
# a stale file must never make `down` kill whatever reused the pid.
alive() {
  local pid_file=$1 pattern=$2 pid
  [[ -s $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() { "$PYTHON" -c "import urllib.request as u; u.urlopen('$APP_URL/healthz', timeout=2)" 2>/dev/null; }

# Until `check` passes (0), or 1 after `seconds` (of the clock, however long each check takes).
wait_for() {
  local deadline=$((SECONDS + $1)) check=$2
  until eval "$check"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# SIGTERM, up to 15 s to exit, then SIGKILL. With `group`, to the process group `pid` leads, if it
# leads one (the directory, started with setsid: ldap_seed and its slapd, which must not outlive it;
# one started before setsid was used leads none, and gets the signals alone).
stop_pid() {
  local pid=$1 target=$1
  if [[ ${2:-} == group ]] && kill -0 -- "-$pid" 2>/dev/null; then target=-$pid; fi
  kill -TERM -- "$target" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do
    kill -0 -- "$target" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "$target" 2>/dev/null || true
}

# Whether a stack already runs in RUN_DIR on ports other than these.
other_ports() {
  local app ldap ldaps
  [[ -s $PORTS_FILE ]] || return 1
  read -r app ldap ldaps <"$PORTS_FILE"
  [[ "$app $ldap $ldaps" != "$APP_PORT $LDAP_PORT $LDAPS_PORT" ]] || return 1
  alive "$APP_PID" "$APP_PATTERN" || alive "$LDAP_PID" "$LDAP_PATTERN" || return 1
  say "$app $ldap $ldaps"
}

# Refuses (exit 1) when a stack already runs in RUN_DIR on other ports, saying `advice`.
refuse_other_stack() {
  local running app ldap ldaps
  running=$(other_ports) || return 0
  read -r app ldap ldaps <<<"$running"
  fail "the stack in $RUN_DIR/ runs on ports $app, $ldap and $ldaps, not $APP_PORT, $LDAP_PORT and $LDAPS_PORT: $1"
}

load_env() {
  set -o allexport
  if [[ $1 == jumpcloud ]]; then
    [[ -f $JUMPCLOUD_ENV_FILE ]] ||
      fail "$JUMPCLOUD_ENV_FILE is missing: copy deploy/env/jumpcloud.env.example and fill it in."
    # shellcheck disable=SC1090
    source "$JUMPCLOUD_ENV_FILE"
  else
    # shellcheck disable=SC1091
    source deploy/env/local.env
    export LDAP_URI=ldap://127.0.0.1:$LDAP_PORT
    export LDAP_CA_CERT_FILE=$RUN_DIR/ldap/tls/ca.crt
    export DATABASE_URL=sqlite:///$RUN_DIR/db.sqlite3
  fi
  export GUNICORN_BIND=127.0.0.1:$APP_PORT
  # This stack's own control socket (gunicornc -s ...), never the user-wide default.
  GUNICORN_CONTROL_SOCKET=$(realpath "$RUN_DIR")/gunicorn.ctl
  export GUNICORN_CONTROL_SOCKET
  set +o allexport
}

# The last run's log (of a crash, say) is kept as NAME.1 when a new run starts, not emptied.
keep_previous_log() {
  [[ ! -s $RUN_DIR/$1 ]] || mv -f -- "$RUN_DIR/$1" "$RUN_DIR/$1.1"
}

start_directory() {
  if alive "$LDAP_PID" "$LDAP_PATTERN"; then
    [[ -z $SEED_LDIF_DIR ]] ||
      fail "the directory is running (pid $(<"$LDAP_PID")): make down first, then make up SEED_CSV=... seeds it afresh"
    wait_directory "$(<"$LDAP_PID")"  # an earlier `up`'s, which may still be starting
    say "directory already running (pid $(<"$LDAP_PID"))"
    return
  fi
  for port in "$LDAP_PORT" "$LDAPS_PORT"; do
    port_taken "$port" && fail "port $port is already in use: stop what holds it (is another directory running?)"
  done
  local seed=()
  # Another seed (make up SEED_CSV=...): the directory starts afresh from it.
  [[ -n $SEED_LDIF_DIR ]] && seed=(--ldif-dir "$SEED_LDIF_DIR" --reset)
  # A fresh log: an earlier run's "directory ready" must not count.
  keep_previous_log ldap.log
  # A process group of its own (setsid), so that ldap_seed and its slapd are stopped together.
  setsid nohup "$PYTHON" -m ldap_seed serve --state-dir "$RUN_DIR/ldap" --ldap-port "$LDAP_PORT" \
    --ldaps-port "$LDAPS_PORT" "${seed[@]}" >"$RUN_DIR/ldap.log" 2>&1 9>&- &
  local pid=$!
  echo "$pid" >"$LDAP_PID"
  STARTED_HERE+=("$pid")
  wait_directory "$pid"
  say "directory ready on ldap://127.0.0.1:$LDAP_PORT (StartTLS) and ldaps://127.0.0.1:$LDAPS_PORT"
}

# Until the directory's own "directory ready" line, printed once its CA, its seed and slapd are all
# there. Waited on by its pid, not by `alive`: until the child has exec'd, its command line is this
# script's, and `alive` would take a directory still starting for one that died. One that exits, or
# is not ready within START_SECONDS, is stopped (nothing half-started outlives a failed `up`) and reported.
wait_directory() {
  local pid=$1 ready="grep -qs 'directory ready' '$RUN_DIR/ldap.log'"
  wait_for "$START_SECONDS" "$ready || ! kill -0 $pid 2>/dev/null" || true
  if eval "$ready"; then return; fi
  stop_pid "$pid" group
  rm -f "$LDAP_PID"
  fail "the directory did not start (or not within $START_SECONDS s); last lines of $RUN_DIR/ldap.log:
$(tail -n 20 "$RUN_DIR/ldap.log")"
}

start_app() {
  if alive "$APP_PID" "$APP_PATTERN"; then
    say "app already running (pid $(<"$APP_PID"))"
    return
  fi
  port_taken "$APP_PORT" && fail "port $APP_PORT is already in use: stop what holds it, then run make up again"
  rm -f "$APP_PID"  # not ours (alive said so): gunicorn would refuse to start beside a pid file naming a live process
  "$PYTHON" app/manage.py migrate --noinput >"$RUN_DIR/migrate.log" 2>&1 ||
    fail "migrations failed: $(tail -n 5 "$RUN_DIR/migrate.log")"
  keep_previous_log app.log
  nohup .venv/bin/gunicorn --config deploy/gunicorn.conf.py --pid "$APP_PID" >"$RUN_DIR/app.log" 2>&1 9>&- &
  local pid=$!
  STARTED_HERE+=("$pid")
  wait_for "$START_SECONDS" "healthy || ! kill -0 $pid 2>/dev/null" || true
  if ! healthy; then
    stop_pid "$pid"
    fail "the app did not start (or not within $START_SECONDS s); last lines of $RUN_DIR/app.log:
$(tail -n 20 "$RUN_DIR/app.log")"
  fi
  say "app ready on $APP_URL"
}

# What this `up` started: stopped again if the `up` fails, so a failed `up` leaves nothing running.
STARTED_HERE=()
stop_what_this_up_started() {
  local status=$?
  ((status != 0)) || return 0
  for pid in "${STARTED_HERE[@]}"; do stop_pid "$pid" group; done
  return "$status"
}

up() {
  local directory=${1:-local}
  hold_the_stack_lock
  trap stop_what_this_up_started EXIT
  say "No Docker engine answers: starting the native stack (pids and logs in $RUN_DIR/)."
  load_env "$directory"
  refuse_other_stack "a second stack needs its own RUN_DIR as well as its own ports \
(make up RUN_DIR=.run-$APP_PORT APP_PORT=$APP_PORT LDAP_PORT=$LDAP_PORT LDAPS_PORT=$LDAPS_PORT)."
  echo "$APP_PORT $LDAP_PORT $LDAPS_PORT" >"$PORTS_FILE"
  # A taken app port is found before anything starts, so a failed `up` leaves nothing running.
  if ! alive "$APP_PID" "$APP_PATTERN" && port_taken "$APP_PORT"; then
    fail "port $APP_PORT is already in use: stop what holds it, then run make up again"
  fi
  [[ $directory == jumpcloud ]] || start_directory
  start_app
}

stop() {
  local name=$1 pid_file=$2 pattern=$3
  if alive "$pid_file" "$pattern"; then
    stop_pid "$(<"$pid_file")" group
    say "$name stopped"
  fi
  rm -f "$pid_file"
}

down() {
  hold_the_stack_lock
  refuse_other_stack "stop it with the ports it was started with (or none, for the defaults)."
  stop app "$APP_PID" "$APP_PATTERN"
  stop directory "$LDAP_PID" "$LDAP_PATTERN"
  rm -f "$PORTS_FILE"
}

report() {
  local name=$1 pid_file=$2 pattern=$3
  if alive "$pid_file" "$pattern"; then say "$name: running (pid $(<"$pid_file"))"; else say "$name: stopped"; fi
}

ps_() {
  report app "$APP_PID" "$APP_PATTERN"
  report directory "$LDAP_PID" "$LDAP_PATTERN"
}

# manage.py with the stack's own environment (the one `up` gives the app), e.g. createsuperuser.
manage() {
  local directory=$1
  shift
  load_env "$directory"
  exec "$PYTHON" app/manage.py "$@"
}

case ${1:-} in
  up) up "${2:-local}" ;;
  down) down ;;
  ps) ps_ ;;
  logs) exec tail -n 50 -F "$RUN_DIR/app.log" "$RUN_DIR/ldap.log" ;;
  manage) shift && manage "${DIRECTORY:-local}" "$@" ;;
  *) fail "usage: $0 up [local|jumpcloud] | down | ps | logs | manage ARGS..." ;;
esac
