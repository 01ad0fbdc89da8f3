# create_fields.rb - creates slabridge's issue custom fields in a Redmine, nothing else.
# Custom fields cannot be created over REST; this does by `rails runner` what an
# administrator would do in Administration > Custom fields (see the README's "Use it with
# your own Redmine" for the same by hand). It creates no accounts and changes no settings.
#
#   bundle exec rails runner create_fields.rb      # in the Redmine directory or container
#
# Idempotent: an existing field of the same name is left as it is.
def ensure_issue_cf(name, format, description)
  existing = IssueCustomField.find_by(name: name)
  return puts("exists:  #{name} (id #{existing.id})") if existing
  cf = IssueCustomField.new(name: name, field_format: format, description: description)
  cf.is_for_all  = true               # every project, so new projects need no setup
  cf.is_filter   = true               # usable in Redmine's filters and queries
  cf.visible     = true               # the service account's role can see the values
  cf.tracker_ids = Tracker.pluck(:id)
  cf.save!
  puts "created: #{name} (id #{cf.id})"
end

ensure_issue_cf('SLA response due', 'string', 'ISO 8601 UTC time the response is due (slabridge)')
ensure_issue_cf('SLA response due date', 'date', 'Day the response is due (slabridge)')
ensure_issue_cf('SLA class', 'string', 'Incident class (slabridge)')
ensure_issue_cf('SLA status', 'string', 'running, at_risk, breached, met, paused, no_target (slabridge)')
ensure_issue_cf('SLA handling', 'string', 'How the contract says to handle the incident (slabridge)')
ensure_issue_cf('Incident received', 'string', 'ISO 8601 time the incident came in, e.g. by phone')
