#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: Debian's server binaries, a cluster in $PG_DIR owned by
# the postgres user, listening on 127.0.0.1:$PG_PORT only, trust auth (loopback, tests only).
# Idempotent. Last stdout lines: PG_DSN=... and PG_PID=...
set -euo pipefail
PG_PORT=${PG_PORT:-55432}
PG_DIR=${PG_DIR:-/var/tmp/slabridge-postgres}
log() { printf '[postgres-local] %s\n' "$*" >&2; }

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(bin_dir)" ] || [ ! -x "$(bin_dir)/initdb" ]; then
  log "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends postgresql >/dev/null
fi
BIN=$(bin_dir)
as_postgres() { runuser -u postgres -- "$@"; }

if [ ! -s "$PG_DIR/PG_VERSION" ]; then
  log "initdb in $PG_DIR"
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  as_postgres "$BIN/initdb" -D "$PG_DIR" -A trust -U postgres >/dev/null
fi
if ! as_postgres "$BIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
  log "starting on 127.0.0.1:$PG_PORT"
  # setsid: the server must not die with the shell or test process group that started it.
  setsid runuser -u postgres -- "$BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
fi
for _ in $(seq 1 50); do
  "$BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q && break
  sleep 0.2
done
if ! "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'slabridge'" | grep -q 1; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres slabridge
fi
echo "PG_DSN=postgresql://postgres@127.0.0.1:$PG_PORT/slabridge"
echo "PG_PID=$(head -n 1 "$PG_DIR/postmaster.pid")"
