# setup.rb - rails runner script, run by start.sh as www-data:
#   cd /usr/share/redmine && RAILS_ENV=production bundle exec rails runner setup.rb
# Idempotent: brings settings and slabridge's issue custom fields to the wanted
# state and prints ADMIN_API_KEY=... and CF_IDS={"name": id, ...} on stdout.
#
# env: CUSTOMER_VALUES  comma separated list values of "Customer" (only ADDED, never
#                       removed: issues may still carry an old value)
#      LOGIN_REQUIRED   1 (default) / 0
#      ADMIN_PASSWORD   if set, admin's password (only for web login / basic auth)
require 'json'

# REST is off by default. Without login_required a WRONG api key silently reads
# public projects as anonymous (HTTP 200); with it, a bad key is a 401.
Setting.rest_api_enabled = '1'
Setting.login_required   = ENV.fetch('LOGIN_REQUIRED', '1') == '0' ? '0' : '1'

# Redmine mails each issue change from a background thread (ActiveJob's async adapter)
# that uses the SQLite database beside the request: now and then one waits out the busy
# timeout and the request answers 500 "database is locked" (seen in a CI run: creating an
# issue while slabridge's daemon wrote). This local Redmine has no mail server anyway.
Setting.notified_events = []

# Default data has no default activity, so POST /time_entries without activity_id
# fails ("Activity cannot be blank"). Saving is_default clears the flag elsewhere.
dev = TimeEntryActivity.find_by(name: 'Development', project_id: nil)
dev.update!(is_default: true) if dev && !dev.is_default?

admin = User.find_by_login('admin') or abort 'no admin user (default data not loaded?)'
if (pw = ENV['ADMIN_PASSWORD'].to_s) != ''
  admin.password = admin.password_confirmation = pw
  admin.must_change_passwd = false
  admin.save!
end

# Custom fields cannot be created over REST (403), hence this script.
# There is no datetime format: timestamps are ISO 8601 strings.
def ensure_issue_cf(name, format, attrs = {})
  cf = IssueCustomField.find_by(name: name) || IssueCustomField.new(name: name)
  cf.field_format = format
  cf.is_for_all   = true   # every project, so new projects need no setup
  cf.is_filter    = true   # cf_N filters in /issues.json
  cf.visible      = true   # no role restriction: API users see the values
  cf.tracker_ids  = Tracker.pluck(:id)
  attrs.each { |k, v| cf.public_send("#{k}=", v) }
  cf.save!                 # no-op (no UPDATE) when nothing changed
  cf
end

wanted  = ENV.fetch('CUSTOMER_VALUES', 'Acme,Globex,Initech').split(',').map(&:strip).reject(&:empty?)
current = IssueCustomField.find_by(name: 'Customer')&.possible_values || []
fields = [
  ensure_issue_cf('SLA response due', 'string',
                  description: 'ISO 8601 UTC timestamp, e.g. 2026-01-31T14:00:00Z'),
  ensure_issue_cf('SLA response due date', 'date'),
  ensure_issue_cf('SLA class', 'string'),
  ensure_issue_cf('SLA status', 'string'),
  ensure_issue_cf('SLA handling', 'string',
                  description: 'How the contract says to handle the incident (slabridge)'),
  ensure_issue_cf('Customer', 'list', possible_values: current | wanted),
  ensure_issue_cf('Incident received', 'string',
                  description: 'ISO 8601 time the incident actually came in (e.g. by phone)'),
]

puts "ADMIN_API_KEY=#{admin.api_key}"   # api_key creates the token if missing
puts 'CF_IDS=' + fields.to_h { |cf| [cf.name, cf.id] }.to_json
