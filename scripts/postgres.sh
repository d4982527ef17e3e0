#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on loopback only.
#
#   scripts/postgres.sh start   install PostgreSQL from Debian's packages if it is missing,
#                               create a cluster in /tmp/safehome-pg-PORT (outside the checkout,
#                               which the `postgres` user may not be able to enter when run as
#                               root; trust on 127.0.0.1 only, no other
#                               listener), start it on port $SAFEHOME_PG_PORT (54329), and
#                               print the URL the tests take (SAFEHOME_TEST_POSTGRES)
#   scripts/postgres.sh stop    stop it and delete the cluster
#
# A developer with a PostgreSQL already running skips this and exports SAFEHOME_TEST_POSTGRES
# (a database the tests may connect to and create databases from) before scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${SAFEHOME_PG_PORT:-54329}"
ROOT="${SAFEHOME_PG_DIR:-/tmp/safehome-pg-$PORT}"
DATA="$ROOT/data"
LOG="$ROOT/server.log"

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# PostgreSQL refuses to run as root: as root, run the cluster as the `postgres` user that
# Debian's package creates.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local bin
  bin="$(bindir || true)"
  if [ -z "$bin" ]; then
    echo "installing PostgreSQL (Debian)" >&2
    apt-get install -y -q postgresql >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
    bin="$(bindir)"
  fi
  stop_quietly "$bin"
  rm -rf "$ROOT"
  mkdir -p "$ROOT"
  [ "$(id -u)" = 0 ] && chown postgres "$ROOT"
  as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # Loopback only: no other address, the socket in the cluster's own folder.
  as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c max_connections=400 -c fsync=on" \
    start >/dev/null
  echo "postgres://postgres@127.0.0.1:$PORT/postgres"
}

stop_quietly() {
  local bin="$1"
  if [ -f "$DATA/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop)
    bin="$(bindir || true)"
    [ -n "$bin" ] && stop_quietly "$bin"
    rm -rf "$ROOT"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
