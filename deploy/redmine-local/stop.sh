#!/usr/bin/env bash
# stop.sh - stops the puma that start.sh launched (found via its pid file).
# Exit 0 when nothing is running, so it is safe in any teardown.
set -euo pipefail
PIDFILE=/var/cache/redmine/default/tmp/puma.pid
log() { printf '[redmine-local %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# A zombie still answers kill -0 until its parent (runuser) reaps it: count it as gone.
alive() { [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

pid=$(cat "$PIDFILE" 2>/dev/null || true)
# Only signal a live puma: after a reboot or crash the pid may name another process.
if [ -z "$pid" ] || ! alive "$pid" || ! grep -qa puma "/proc/$pid/cmdline"; then
  log "no puma running"
  rm -f "$PIDFILE"
  exit 0
fi

parent=$(awk '{print $4}' "/proc/$pid/stat")
log "stopping puma (pid $pid)"
kill -TERM "$pid"
# A stopped (SIGSTOP) puma would only see TERM once continued; runuser stops itself
# when its child stops and then cannot reap it, so wake both.
kill -CONT "$pid" "$parent" 2>/dev/null || true
# puma finishes in-flight requests on TERM; give it 20 s, then KILL.
for _ in $(seq 1 80); do
  alive "$pid" || break
  sleep 0.25
done
if alive "$pid"; then
  log "still alive after 20 s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do alive "$pid" || break; sleep 0.25; done
fi
# puma removes its pid file on a clean exit, not after KILL.
rm -f "$PIDFILE"
if alive "$pid"; then log "pid $pid did not exit"; exit 1; fi
log "stopped"
