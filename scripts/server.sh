#!/usr/bin/env bash
# MLflow server mode: a PostgreSQL cluster under the project (.pg/) and `mlflow server` on
# 127.0.0.1 with a proxied artifact store (mlruns/server-artifacts/).
#
#   scripts/server.sh [start]   create the cluster once, start PostgreSQL and MLflow (idempotent)
#   scripts/server.sh stop      stop MLflow, then PostgreSQL (data kept)
#   scripts/server.sh status    what runs, and the URI to export
#   scripts/server.sh uri       print the tracking URI only
#   scripts/server.sh destroy   stop, then delete the cluster and its password (not the artifacts)
#
# Settings (environment): WB_SERVER_DIR (default <project>/.pg: data, logs, pids, password),
# WB_PG_PORT (5433), WB_MLFLOW_PORT (or PORT_MLFLOW, 5000), WB_ARTIFACTS_DIR (default
# <project>/mlruns/server-artifacts), WB_PG_BIN (newest /usr/lib/postgresql/*/bin),
# WB_PG_USER (the system user PostgreSQL runs as when this script runs as root: postgres).
# Both servers listen on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root the
# cluster belongs to WB_PG_USER and pg_ctl runs through runuser.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${WB_SERVER_DIR:-$ROOT/.pg}
PG_PORT=${WB_PG_PORT:-5433}
MLFLOW_PORT=${WB_MLFLOW_PORT:-${PORT_MLFLOW:-5000}}
ARTIFACTS=${WB_ARTIFACTS_DIR:-$ROOT/mlruns/server-artifacts}
MLFLOW=${WB_MLFLOW:-$ROOT/.venv/bin/mlflow}
PY=$ROOT/.venv/bin/python; [ -x "$PY" ] || PY=python3
DB=mlflow
DB_USER=workbench
URI="http://127.0.0.1:$MLFLOW_PORT"

export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true MLFLOW_MODEL_CATALOG_URI=""

die() { echo "error: $*" >&2; exit 2; }
note() { echo "server.sh: $*" >&2; }

pg_bin() {
  if [ -n "${WB_PG_BIN:-}" ]; then echo "$WB_PG_BIN"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$found" ] && command -v pg_ctl >/dev/null 2>&1; then found=$(dirname "$(command -v pg_ctl)"); fi
  [ -n "$found" ] || die "PostgreSQL binaries not found (initdb, pg_ctl); install them: make system-deps"
  echo "$found"
}
PGBIN=$(pg_bin)

# As root, PostgreSQL runs as an unprivileged user (Debian's package creates `postgres`).
if [ "$(id -u)" -eq 0 ]; then
  PG_USER=${WB_PG_USER:-postgres}
  if ! id "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER" \
      || die "cannot create the system user '$PG_USER' to run PostgreSQL as"
  fi
  as_pg() { runuser -u "$PG_USER" -- "$@"; }
  own() { chown "$PG_USER" "$@"; }
else
  PG_USER=$(id -un)
  as_pg() { "$@"; }
  own() { :; }
fi

# The cluster's folder must be reachable by PG_USER. When the project sits below a folder
# it cannot enter (e.g. /root, or a private temp dir), the cluster goes to
# /var/tmp/workbench-pg/<id>, linked from .pg/data and .pg/postgres.log.
locate_cluster() {
  if [ -L "$STATE/data" ]; then
    PGDATA=$(readlink -f "$STATE/data"); PGLOG=$(dirname "$PGDATA")/postgres.log; return
  fi
  if [ -d "$STATE/data" ] || as_pg test -x "$STATE"; then
    PGDATA=$STATE/data; PGLOG=$STATE/postgres.log; return
  fi
  local home id
  id=$(printf '%s' "$STATE" | sha1sum | cut -c1-12)
  home=/var/tmp/workbench-pg/$id
  PGDATA=$home/data; PGLOG=$home/postgres.log
}

pg_running() { [ -f "$PGDATA/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }
mlflow_pid() { [ -f "$STATE/mlflow.pid" ] && cat "$STATE/mlflow.pid" || true; }
mlflow_running() {  # the recorded pid, and still an mlflow process (pids are reused)
  local pid; pid=$(mlflow_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q mlflow
}
healthy() {
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$URI/health" >/dev/null 2>&1
}
port_busy() {
  "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)' "$1" >/dev/null 2>&1
}

init_cluster() {
  [ -f "$PGDATA/PG_VERSION" ] && return 0
  note "creating a PostgreSQL cluster in $PGDATA"
  if [ "$PGDATA" != "$STATE/data" ]; then
    # /var/tmp is world-writable: refuse a folder someone else planted (or a link to one).
    local base=/var/tmp/workbench-pg
    mkdir -p -m 755 "$base"
    if [ -L "$base" ] || [ "$(stat -c %u "$base")" != "$(id -u)" ]; then
      die "$base is a link or belongs to another user; remove it or set WB_SERVER_DIR"
    fi
    if [ -e "$(dirname "$PGDATA")" ] || [ -L "$(dirname "$PGDATA")" ]; then
      die "$(dirname "$PGDATA") exists but .pg/data does not link to it; remove it and retry"
    fi
    mkdir -m 700 "$(dirname "$PGDATA")"; own "$(dirname "$PGDATA")"
    ln -sfn "$PGDATA" "$STATE/data"; ln -sfn "$PGLOG" "$STATE/postgres.log"
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  own "$PGDATA"
  if [ ! -s "$STATE/password" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$STATE/password")
  fi
  local pwfile="$PGDATA.pw"
  (umask 077; cp "$STATE/password" "$pwfile")
  own "$pwfile"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U "$DB_USER" --pwfile="$pwfile" \
    --auth-host=scram-sha-256 --auth-local=reject -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; cat "$STATE/initdb.log" >&2; die "initdb failed (log: $STATE/initdb.log)"; }
  rm -f "$pwfile"
}

write_pgpass() {
  (umask 077; printf '127.0.0.1:%s:*:%s:%s\n' "$PG_PORT" "$DB_USER" "$(cat "$STATE/password")" > "$STATE/pgpass")
}

start_pg() {
  if pg_running; then return 0; fi
  local log="$PGLOG"
  [ -e "$log" ] || touch "$log"
  own "$log"
  # TCP on 127.0.0.1 only, no unix socket (nothing to create under /var/run).
  as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=''" >/dev/null \
    || { tail -20 "$log" >&2; die "PostgreSQL did not start on 127.0.0.1:$PG_PORT (log: $log)"; }
  export PGPASSFILE="$STATE/pgpass"
  if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" "$DB"
  fi
}

start_mlflow() {
  if mlflow_running && healthy; then return 0; fi
  if mlflow_running; then stop_mlflow; fi
  [ -x "$MLFLOW" ] || die "$MLFLOW not found; run make install first"
  if port_busy "$MLFLOW_PORT"; then
    die "port $MLFLOW_PORT is taken by another process; set WB_MLFLOW_PORT"
  fi
  mkdir -p "$ARTIFACTS"
  local backend="postgresql+psycopg2://$DB_USER@127.0.0.1:$PG_PORT/$DB"
  note "starting mlflow server on $URI (backend $backend, artifacts $ARTIFACTS)"
  # The password comes from PGPASSFILE (libpq), so it is in no URI, log or process list.
  PGPASSFILE="$STATE/pgpass" setsid "$MLFLOW" server \
    --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "$backend" \
    --artifacts-destination "$ARTIFACTS" \
    >"$STATE/mlflow.log" 2>&1 < /dev/null &
  echo $! > "$STATE/mlflow.pid"
  local i
  for i in $(seq 1 240); do  # the first start creates the schema (about 20 s)
    if healthy; then return 0; fi
    if ! mlflow_running; then tail -30 "$STATE/mlflow.log" >&2; die "mlflow server exited (log: $STATE/mlflow.log)"; fi
    sleep 0.5
  done
  tail -30 "$STATE/mlflow.log" >&2
  die "mlflow server did not answer $URI/health in 120 s (log: $STATE/mlflow.log)"
}

stop_mlflow() {
  local pid; pid=$(mlflow_pid)
  if mlflow_running; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true  # its process group (setsid)
    local i
    for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/mlflow.pid"
}

stop_pg() {
  if pg_running; then as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w >/dev/null; fi
}

cmd=${1:-start}
mkdir -p "$STATE"
locate_cluster
case "$cmd" in
  start)
    init_cluster
    write_pgpass
    start_pg
    start_mlflow
    echo "MLflow server: $URI (PostgreSQL 127.0.0.1:$PG_PORT/$DB, artifacts $ARTIFACTS)"
    echo "export MLFLOW_TRACKING_URI=$URI"
    echo "stop it with: scripts/server.sh stop"
    ;;
  stop)
    stop_mlflow
    stop_pg
    echo "stopped (data kept in $PGDATA)"
    ;;
  status)
    if pg_running; then echo "postgresql: running on 127.0.0.1:$PG_PORT ($PGDATA)"; else echo "postgresql: stopped"; fi
    if mlflow_running && healthy; then echo "mlflow: running at $URI"; echo "export MLFLOW_TRACKING_URI=$URI"; else echo "mlflow: stopped"; fi
    ;;
  uri)
    echo "$URI"
    ;;
  destroy)
    stop_mlflow
    stop_pg
    if [ "$PGDATA" != "$STATE/data" ]; then rm -rf "$(dirname "$PGDATA")"; else rm -rf "$PGDATA"; fi
    rm -f "$STATE/data" "$STATE/postgres.log" "$STATE/password" "$STATE/pgpass" \
      "$STATE/initdb.log" "$STATE/mlflow.log"
    echo "deleted the PostgreSQL cluster ($PGDATA); artifacts kept in $ARTIFACTS"
    ;;
  *)
    echo "usage: $0 [start|stop|status|uri|destroy]" >&2; exit 2 ;;
esac
