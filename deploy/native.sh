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
# LDAPS_PORT may be set to run a second stack beside the first (the browser tests do), and
# JUMPCLOUD_ENV_FILE to use another env file than deploy/env/jumpcloud.env, and SEED_LDIF_DIR to
# seed the directory afresh from another folder (python -m ldap_seed from-csv writes one).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-.run}
APP_PORT=${APP_PORT:-8000}
LDAP_PORT=${LDAP_PORT:-3389}
LDAPS_PORT=${LDAPS_PORT:-3636}
PYTHON=${PYTHON:-.venv/bin/python}
JUMPCLOUD_ENV_FILE=${JUMPCLOUD_ENV_FILE:-deploy/env/jumpcloud.env}
SEED_LDIF_DIR=${SEED_LDIF_DIR:-}
APP_URL=http://127.0.0.1:$APP_PORT
LDAP_PID=$RUN_DIR/ldap.pid
APP_PID=$RUN_DIR/app.pid
APP_PATTERN="gunicorn --config deploy/gunicorn.conf.py"
mkdir -p "$RUN_DIR"

say() { printf '%s\n' "$*"; }
fail() { printf 'native: %s\n' "$*" >&2; exit 1; }

# A pid file names a live process of ours only if the process's command line still matches:
# a stale file must never make `down` kill whatever reused the pid.
alive() {
  local pid_file=$1 pattern=$2 pid
  [[ -s $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() { "$PYTHON" -c "import urllib.request as u; u.urlopen('$APP_URL/healthz', timeout=2)" 2>/dev/null; }

wait_for() {
  local what=$1 seconds=$2 check=$3 log=$4
  for ((i = 0; i < seconds * 10; i++)); do
    if eval "$check"; then return 0; fi
    sleep 0.1
  done
  fail "$what did not become ready within ${seconds}s; last lines of $log:
$(tail -n 20 "$log")"
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

start_directory() {
  if alive "$LDAP_PID" "ldap_seed serve"; then
    say "directory already running (pid $(<"$LDAP_PID"))"
    return
  fi
  for port in "$LDAP_PORT" "$LDAPS_PORT"; do
    port_taken "$port" && fail "port $port is already in use: stop what holds it (is another directory running?)"
  done
  local seed=()
  # Another seed (make up SEED_CSV=...): the directory starts afresh from it.
  [[ -n $SEED_LDIF_DIR ]] && seed=(--ldif-dir "$SEED_LDIF_DIR" --reset)
  nohup "$PYTHON" -m ldap_seed serve --state-dir "$RUN_DIR/ldap" --ldap-port "$LDAP_PORT" --ldaps-port "$LDAPS_PORT" \
    "${seed[@]}" >"$RUN_DIR/ldap.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$LDAP_PID"
  # Waited on by its pid, not by `alive`: until the child has exec'd, its command line is this
  # script's, and `alive` would take a directory still starting for one that died. Only its own
  # "directory ready" line (printed once the CA, the seed and slapd are all there) says ready.
  local ready="grep -q 'directory ready' '$RUN_DIR/ldap.log'"
  wait_for "the directory" 20 "$ready || ! kill -0 $pid 2>/dev/null" "$RUN_DIR/ldap.log"
  eval "$ready" || fail "the directory did not start: $(tail -n 5 "$RUN_DIR/ldap.log")"
  say "directory ready on ldap://127.0.0.1:$LDAP_PORT (StartTLS) and ldaps://127.0.0.1:$LDAPS_PORT"
}

start_app() {
  if alive "$APP_PID" "$APP_PATTERN"; then
    say "app already running (pid $(<"$APP_PID"))"
    return
  fi
  port_taken "$APP_PORT" && fail "port $APP_PORT is already in use: stop what holds it, then run make up again"
  "$PYTHON" app/manage.py migrate --noinput >"$RUN_DIR/migrate.log" 2>&1 ||
    fail "migrations failed: $(tail -n 5 "$RUN_DIR/migrate.log")"
  nohup .venv/bin/gunicorn --config deploy/gunicorn.conf.py --pid "$APP_PID" >"$RUN_DIR/app.log" 2>&1 &
  local pid=$!
  wait_for "the app" 20 "healthy || ! kill -0 $pid 2>/dev/null" "$RUN_DIR/app.log"
  healthy || fail "the app did not start; last lines of $RUN_DIR/app.log:
$(tail -n 20 "$RUN_DIR/app.log")"
  say "app ready on $APP_URL"
}

up() {
  local directory=${1:-local}
  say "No Docker engine answers: starting the native stack (pids and logs in $RUN_DIR/)."
  load_env "$directory"
  # A taken app port is found before anything starts, so a failed `up` leaves nothing running.
  if ! alive "$APP_PID" "$APP_PATTERN" && port_taken "$APP_PORT"; then
    fail "port $APP_PORT is already in use: stop what holds it, then run make up again"
  fi
  [[ $directory == jumpcloud ]] || start_directory
  start_app
}

stop() {
  local name=$1 pid_file=$2 pattern=$3 pid
  if ! alive "$pid_file" "$pattern"; then
    rm -f "$pid_file"
    return
  fi
  pid=$(<"$pid_file")
  kill -TERM "$pid"
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$pid_file"
  say "$name stopped"
}

down() {
  stop app "$APP_PID" "$APP_PATTERN"
  stop directory "$LDAP_PID" "ldap_seed serve"
}

ps_() {
  for entry in "app:$APP_PID:$APP_PATTERN" "directory:$LDAP_PID:ldap_seed serve"; do
    IFS=: read -r name pid_file pattern <<<"$entry"
    if alive "$pid_file" "$pattern"; then say "$name: running (pid $(<"$pid_file"))"; else say "$name: stopped"; fi
  done
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
