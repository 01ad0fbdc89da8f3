#!/usr/bin/env bash
# start.sh - a real Redmine 5.0 (Debian's package, SQLite, puma) on 127.0.0.1 for
# slabridge's tests and demo. Idempotent: installs only what is missing, reuses a
# running server, and applies setup.rb (settings + custom fields) when needed.
#
# For the local, throwaway Redmine only: setup.rb creates test accounts and changes
# settings. Never point it at a Redmine that holds real data.
#
# stdout, last four lines (everything else goes to stderr):
#   REDMINE_URL=http://127.0.0.1:PORT
#   REDMINE_API_KEY=<admin api key: only for setting things up>
#   REDMINE_ACCOUNTS={"slabridge": "<key>", "sam.staff": ..., "carla.acme": ..., ...}
#   REDMINE_PID=<puma pid>
# (a CF_IDS={"name": id, ...} line comes just before them)
#
# env knobs: REDMINE_PORT (3000), CUSTOMER_VALUES ("Acme,Globex,Initech"),
#            LOGIN_REQUIRED (1), ADMIN_PASSWORD (unset: admin's password untouched),
#            REDMINE_FORCE_SETUP=1 (run setup.rb even if the cached state checks out)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PORT=${REDMINE_PORT:-3000}
URL=http://127.0.0.1:$PORT
RM=/usr/share/redmine
INSTANCE=default                  # Debian's multi-instance name; only this one is preseeded
PIDFILE=/var/cache/redmine/$INSTANCE/tmp/puma.pid
PUMA_LOG=/var/log/redmine/$INSTANCE/puma.log
APT_LOG=/var/log/slabridge-redmine-local-apt.log
# Result of the last setup.rb run (admin key, field ids): root-only, holds the key.
STATE=/var/cache/redmine/$INSTANCE/slabridge-local.state
export CUSTOMER_VALUES=${CUSTOMER_VALUES:-Acme,Globex,Initech}
export LOGIN_REQUIRED=${LOGIN_REQUIRED:-1}
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-}
export DEBIAN_FRONTEND=noninteractive
# Lock timeout: wait for a concurrent apt/dpkg instead of failing.
# --no-install-recommends: keeps passenger and apache out.
APT=(apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)

log() { printf '[redmine-local %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (installs packages, runs Redmine as www-data)"

# Two starts at once (parallel test sessions) would race on apt and on the puma
# launch: serialize them. fd 9 must not leak into puma (see the launch), or the
# lock would stay held for the server's whole life.
exec 9>/run/lock/slabridge-redmine-local.lock
flock -w 900 9 || die "another start.sh has held the lock for 15 min"

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
# apt's chatter (2000+ lines, all of Redmine's migrations) goes to a file; shown on failure.
quiet() { "$@" >>"$APT_LOG" 2>&1 || { tail -40 "$APT_LOG" >&2; die "failed: $* (full log: $APT_LOG)"; }; }

# Debian's ruby3.1 security update ships bundler 2.3.27 as a default gem; it treats
# Debian-packaged gems as deleted and Redmine's postinst/trigger dies ("Could not find
# racc-1.6.2.gem"). Debian's patched ruby-bundler (2.3.15) works and `bundle` honours
# BUNDLER_VERSION, so pin it for EVERY apt/dpkg/bundle run: any later ruby-* install
# fires Redmine's dpkg trigger again.
pin_bundler() {
  BUNDLER_VERSION=$(dpkg-query -W -f='${Version}' ruby-bundler | sed 's/-.*//')
  export BUNDLER_VERSION
}

# ---------------------------------------------------------------- packages
missing=()
for p in ruby-bundler redmine redmine-sqlite puma curl; do
  is_installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (~30-50 s; log: $APT_LOG)"
  quiet apt-get -o DPkg::Lock::Timeout=300 update -q
  # ruby-bundler first: its version is the pin for redmine's postinst.
  quiet "${APT[@]}" install ruby-bundler curl
  pin_bundler
  # A run that died in redmine's postinst leaves it half-configured, and
  # apt-get install would not retry the postinst; dpkg --configure does.
  quiet dpkg --configure -a
  # dbconfig-common then creates the SQLite DB, migrates, loads default data (en).
  debconf-set-selections <<'EOF'
redmine redmine/current-instances string default
redmine redmine/instances/default/dbconfig-install boolean true
redmine redmine/instances/default/database-type select sqlite3
redmine redmine/instances/default/default-language select en
EOF
  # bookworm's package is "puma", not "ruby-puma".
  quiet "${APT[@]}" install redmine redmine-sqlite puma
fi
pin_bundler

# ---------------------------------------------------------------- bundle
# Redmine's Gemfile names no app server and `bundle exec` cannot load an unlisted
# gem: add puma via Gemfile.local. The lock (/var/lib/redmine/Gemfile.lock, symlinked)
# is deleted by Redmine's dpkg trigger whenever a later ruby package is installed,
# and the trigger can fail while apt still exits 0: re-lock when it is missing,
# stale or not www-data's (the server must be able to read/refresh it).
LOCK=/var/lib/redmine/Gemfile.lock
grep -qs "^gem 'puma'" $RM/Gemfile.local || echo "gem 'puma'" >>$RM/Gemfile.local
if [ ! -s $LOCK ] || [ $RM/Gemfile.local -nt $LOCK ] || ! grep -q '^  puma' $LOCK \
   || [ "$(stat -c %U $LOCK)" != www-data ] \
   || ! (cd $RM && bundle check >/dev/null 2>&1); then
  log "re-locking the bundle (bundle install --local)"
  (cd $RM && BUNDLE_SILENCE_ROOT_WARNING=1 bundle install --local --quiet >&2)
  chown www-data:www-data $LOCK
fi

# ---------------------------------------------------------------- SQLite busy timeout
# Debian's generated database.yml sets no `timeout`, so SQLite has no busy handler:
# a rails runner (setup.rb, seed_bulk.rb) writing while puma writes fails AT ONCE with
# "database is locked". Let writers wait up to 5 s instead. dbconfig-common rewrites
# the file on reconfigure/upgrade, hence re-checked on every start.
DBYML=/etc/redmine/$INSTANCE/database.yml
if ! grep -q '^ *timeout:' $DBYML; then
  sed -i 's/^\( *\)adapter: sqlite3$/&\n\1timeout: 5000/' $DBYML   # sed -i keeps mode/owner
  grep -q '^ *timeout:' $DBYML || die "could not add timeout to $DBYML"
  log "added SQLite busy timeout to $DBYML (a running puma needs stop.sh + start.sh)"
fi

# As www-data: root-owned files in Rails' tmp/ or the SQLite DB would break the
# server later. Env goes in as arguments, never spliced into a shell string.
as_redmine() {
  (cd $RM && exec runuser -u www-data -- env RAILS_ENV=production \
     REDMINE_INSTANCE=$INSTANCE BUNDLER_VERSION="$BUNDLER_VERSION" "$@")
}

# ---------------------------------------------------------------- puma
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }
puma_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  # A stale pid file may name a recycled pid: only trust it if that is puma.
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa puma "/proc/$pid/cmdline" && echo "$pid"
}

if pid=$(puma_pid); then
  # puma's process title names its bind, e.g. "puma 5.6.5 (tcp://127.0.0.1:3000) [redmine]".
  grep -qaF "tcp://127.0.0.1:$PORT)" "/proc/$pid/cmdline" \
    || die "puma (pid $pid) runs on another port than $PORT: run stop.sh first"
  log "puma already running (pid $pid), reusing it"
else
  rm -f "$PIDFILE"
  # Our puma would die at bind, and /login could answer 200 from the wrong server.
  [ "$(http_code "$URL/login")" = 000 ] || die "port $PORT is taken by another process"
  log "starting puma on 127.0.0.1:$PORT (log: $PUMA_LOG)"
  # Plain puma: `rails server` dies creating /usr/share/redmine/tmp as www-data.
  # -t 1:1: SQLite + concurrent writer threads = HTTP 500 "database is locked".
  # setsid OUTSIDE runuser: runuser forwards SIGTERM to its child, so a harness
  # killing our process group would otherwise take the server down too.
  # 9>&-: do not inherit the start lock.
  (cd $RM && exec setsid runuser -u www-data -- env RAILS_ENV=production \
     REDMINE_INSTANCE=$INSTANCE BUNDLER_VERSION="$BUNDLER_VERSION" \
     bundle exec puma -e production -b "tcp://127.0.0.1:$PORT" -t 1:1 \
     --pidfile "$PIDFILE" config.ru) >>"$PUMA_LOG" 2>&1 </dev/null 9>&- &
  LAUNCHER=$!   # runuser; lives as long as puma does
fi

# With login required "/" answers 302; /login answers 200 once the app is booted.
wait_ready() {
  local i
  for i in $(seq 1 240); do
    [ "$(http_code "$URL/login")" = 200 ] && break
    # A puma that dies in boot (bad Gemfile.lock, port race) should fail fast.
    if [ -n "${LAUNCHER:-}" ] && ! kill -0 "$LAUNCHER" 2>/dev/null; then
      tail -30 "$PUMA_LOG" >&2; die "puma exited while booting (log: $PUMA_LOG)"
    fi
    [ "$i" = 240 ] && { tail -30 "$PUMA_LOG" >&2; die "no HTTP 200 from $URL/login after 60 s"; }
    sleep 0.25
  done
  pid=$(puma_pid) || die "/login answers but no live puma in $PIDFILE (another server on $PORT?)"
}

# ---------------------------------------------------------------- settings + fields
# setup.rb costs one rails boot (~4-5 s here). Skip it when the last run had the
# same inputs (script + knobs) and the live server still shows its results: the
# key works and every field id/name is there (a re-created DB fails this check).
stamp=$( { cat "$HERE/setup.rb"; echo "$CUSTOMER_VALUES|$LOGIN_REQUIRED|$ADMIN_PASSWORD"; } | sha256sum | cut -c1-64)
cached_state() {
  local s_stamp
  [ -r "$STATE" ] || return 1
  { read -r s_stamp; read -r API_KEY; read -r CF_IDS; read -r ACCOUNTS; } <"$STATE" || return 1
  [ "$s_stamp" = "$stamp" ] && [ -n "$API_KEY" ] && [ -n "$CF_IDS" ] && [ -n "$ACCOUNTS" ]
}
live_state_ok() {
  local json pair pairs
  json=$(curl -sf -m 10 -H "X-Redmine-API-Key: $API_KEY" "$URL/custom_fields.json") || return 1
  # CF_IDS is {"SLA class":3,...}; the names hold no commas or colons.
  IFS=, read -ra pairs <<<"${CF_IDS:1:${#CF_IDS}-2}"
  for pair in "${pairs[@]}"; do
    grep -qF "{\"id\":${pair##*:},\"name\":${pair%:*}," <<<"$json" || return 1
  done
  # ...and the service account's key still works (a re-created DB fails this).
  local service_key
  service_key=$(sed -n 's/.*"slabridge":"\([0-9a-f]*\)".*/\1/p' <<<"$ACCOUNTS")
  [ "$(http_code -H "X-Redmine-API-Key: $service_key" "$URL/users/current.json")" = 200 ]
}
run_setup() {
  local out
  # Copied: www-data may not be able to read the repo where it is checked out.
  SETUP=$(mktemp /tmp/slabridge-setup.XXXXXX.rb)
  trap 'rm -f "$SETUP"' EXIT
  cp "$HERE/setup.rb" "$SETUP"; chmod 644 "$SETUP"
  log "applying setup.rb (one rails runner)"
  out=$(as_redmine CUSTOMER_VALUES="$CUSTOMER_VALUES" LOGIN_REQUIRED="$LOGIN_REQUIRED" \
          ADMIN_PASSWORD="$ADMIN_PASSWORD" bundle exec rails runner "$SETUP") \
    || die "setup.rb failed"
  API_KEY=$(sed -n 's/^ADMIN_API_KEY=//p' <<<"$out")
  CF_IDS=$(sed -n 's/^CF_IDS=//p' <<<"$out")
  ACCOUNTS=$(sed -n 's/^ACCOUNTS=//p' <<<"$out")
  [ -n "$API_KEY" ] && [ -n "$CF_IDS" ] && [ -n "$ACCOUNTS" ] \
    || die "setup.rb printed no ADMIN_API_KEY/CF_IDS/ACCOUNTS"
  (umask 077; printf '%s\n' "$stamp" "$API_KEY" "$CF_IDS" "$ACCOUNTS" >"$STATE")
}

if [ "${REDMINE_FORCE_SETUP:-0}" != 1 ] && cached_state; then
  wait_ready
  if live_state_ok; then
    log "settings and custom fields as left by the last setup.rb run, skipping it"
  else
    run_setup
  fi
else
  # Runs while a just-started puma boots: two ~5 s boots overlap on 2 cores.
  run_setup
  wait_ready
fi
log "custom fields: $CF_IDS"

[ "$(http_code -H "X-Redmine-API-Key: $API_KEY" "$URL/users/current.json")" = 200 ] \
  || die "REST check with the admin key failed"
log "Redmine ready at $URL"

echo "CF_IDS=$CF_IDS"
echo "REDMINE_URL=$URL"
echo "REDMINE_API_KEY=$API_KEY"
# The agency's test accounts, login -> API key: slabridge (the service account, non-admin,
# Developer), sam.staff (Developer), carla.acme and gus.globex (customers, Reporter).
echo "REDMINE_ACCOUNTS=$ACCOUNTS"
echo "REDMINE_PID=$pid"
