"""Notification channels: e-mail and webhooks."""
