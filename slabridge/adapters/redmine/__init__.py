"""The Redmine adapter: the Tracker port on Redmine's REST API, and its doctor."""
