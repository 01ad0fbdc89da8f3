# setup.rb - for the LOCAL, throwaway Redmine of `make test` and `make demo` ONLY.
# Never run it on a real Redmine: it sets the admin password when asked, creates test
# accounts with known logins, and changes server settings. On your own Redmine an
# administrator creates the fields and the service account by hand (README: "Use it with
# your own Redmine").
#
# Run by start.sh as www-data:
#   cd /usr/share/redmine && RAILS_ENV=production bundle exec rails runner setup.rb
# Idempotent: brings settings, slabridge's issue custom fields and the agency's test
# accounts to the wanted state and prints ADMIN_API_KEY=..., CF_IDS={"name": id, ...} and
# ACCOUNTS={"login": "api key", ...} on stdout.
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
# issue while slabridge's daemon wrote). This local Redmine has no mail server, so its
# accounts (below) are set to receive no mail: with no recipient Redmine queues no mail
# job. The server's own notification settings stay as they are.
# An earlier version of this script emptied the server's notified events; back to
# Redmine's default.
Setting.where(name: 'notified_events').delete_all if Setting.notified_events == []

def no_mail(user)
  user.mail_notification = 'none'
  user.save!
  user.pref.update!(no_self_notified: true)
end

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
no_mail(admin)

# The accounts of an agency, as on a real Redmine: customers report (Reporter role in
# their projects), staff answer (Developer), and slabridge runs as its own non-admin
# service account with the stock Developer role. The tests add the project memberships.
# login => [first name, last name]
ACCOUNTS = {
  'slabridge'  => %w[SLA Bridge],
  'sam.staff'  => %w[Sam Staff],
  'carla.acme' => %w[Carla Customer],
  'gus.globex' => %w[Gus Customer],
  'ida.initech' => %w[Ida Customer],
}
keys = ACCOUNTS.to_h do |login, (first, last)|
  user = User.find_by_login(login) || User.new
  user.login = login
  user.firstname = first
  user.lastname = last
  user.mail = "#{login}@example.test" if user.mail.blank?
  user.admin = false
  user.status = User::STATUS_ACTIVE
  if user.new_record?
    user.password = user.password_confirmation = SecureRandom.hex(16)
    user.must_change_passwd = false
  end
  user.save!
  no_mail(user)
  # As the README tells admins to: Redmine would make the service account a watcher of
  # every issue it writes to ("Automatically add me as watcher" in its preferences).
  user.pref.update!(auto_watch_on: ['']) if login == 'slabridge'
  [login, user.api_key]   # api_key creates the token if missing
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
  # A metric beyond the response (sla.metrics.resolution in the demo and the tests).
  ensure_issue_cf('SLA resolution due', 'string',
                  description: 'ISO 8601 UTC timestamp (slabridge, sla.metrics.resolution)'),
  ensure_issue_cf('SLA resolution status', 'string'),
  # Enabled for the Bug tracker only: the tests' field that some issues do not carry.
  ensure_issue_cf('SLA status (bugs only)', 'string',
                  tracker_ids: Tracker.where(name: 'Bug').pluck(:id)),
]

puts "ADMIN_API_KEY=#{admin.api_key}"   # api_key creates the token if missing
puts 'CF_IDS=' + fields.to_h { |cf| [cf.name, cf.id] }.to_json
puts 'ACCOUNTS=' + keys.to_json
