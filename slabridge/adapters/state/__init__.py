"""State stores: what slabridge has decided and written, in SQLite or PostgreSQL."""
