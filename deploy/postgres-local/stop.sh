#!/usr/bin/env bash
# Stops the test PostgreSQL started by start.sh (fast shutdown). Exits 0 if none runs.
set -euo pipefail
PG_DIR=${PG_DIR:-/var/tmp/slabridge-postgres}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$BIN" ] && [ -s "$PG_DIR/postmaster.pid" ] || exit 0
runuser -u postgres -- "$BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null || true
