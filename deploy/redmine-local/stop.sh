#!/usr/bin/env bash
# stop.sh - stops the puma that start.sh launched (found via its pid file).
# Exit 0 when nothing is running, so it is safe in any teardown.
set -euo pipefail
PIDFILE=/var/cache/redmine/default/tmp/puma.pid
log() { printf '[redmine-local %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

pid=$(cat "$PIDFILE" 2>/dev/null || true)
# Only signal a live puma: after a reboot or crash the pid may belong to
# some unrelated process.
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || ! grep -qa puma "/proc/$pid/cmdline"; then
  log "no puma running"
  rm -f "$PIDFILE"
  exit 0
fi

log "stopping puma (pid $pid)"
kill -TERM "$pid"
# puma finishes in-flight requests on TERM; give it 20 s, then KILL.
for _ in $(seq 1 80); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.25
done
if kill -0 "$pid" 2>/dev/null; then
  log "still alive after 20 s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
fi
# puma removes its pid file on a clean exit, not after KILL.
rm -f "$PIDFILE"
if kill -0 "$pid" 2>/dev/null; then log "pid $pid did not exit"; exit 1; fi
log "stopped"
