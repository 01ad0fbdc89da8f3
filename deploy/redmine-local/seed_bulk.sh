#!/usr/bin/env bash
# seed_bulk.sh [PROJECT] [COUNT] - bulk-creates COUNT (2000) issues in PROJECT
# ("bench") for benchmarks, through seed_bulk.rb. Needs start.sh to have installed
# Redmine; the server may be running or not.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT=${1:-${PROJECT:-bench}}
COUNT=${2:-${COUNT:-2000}}
RM=/usr/share/redmine
# start.sh installs Redmine and repairs the bundle lock that any later ruby package
# install deletes; without the lock `bundle exec` fails as www-data (EACCES).
[ -s /var/lib/redmine/Gemfile.lock ] || { echo "Redmine missing or bundle lock gone: run start.sh first" >&2; exit 1; }
# Same bundler pin as start.sh: the ruby3.1 default bundler cannot see Debian's gems.
BUNDLER_VERSION=$(dpkg-query -W -f='${Version}' ruby-bundler | sed 's/-.*//')

# Copied so www-data can read it wherever the repo lives.
SCRIPT=$(mktemp /tmp/slabridge-seed.XXXXXX.rb)
trap 'rm -f "$SCRIPT"' EXIT
cp "$HERE/seed_bulk.rb" "$SCRIPT"; chmod 644 "$SCRIPT"

start=$(date +%s.%N)
# As www-data: the SQLite DB and Rails' tmp files must stay owned by the server's user.
(cd $RM && runuser -u www-data -- env RAILS_ENV=production REDMINE_INSTANCE=default \
   BUNDLER_VERSION="$BUNDLER_VERSION" PROJECT="$PROJECT" COUNT="$COUNT" \
   bundle exec rails runner "$SCRIPT")
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "WALL_SECONDS=%.2f (including rails boot)\n", b - a }'
