"""The Jira adapter: the Tracker port on Jira's REST and agile APIs, and its doctor."""
