"""Webhook notifications: one JSON POST per message, with an idempotency key."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from slabridge.domain.plan import Notification
from slabridge.errors import NotificationError


class WebhookNotifier:
    """POSTs {"issue", "key", "subject", "text", "url"} as JSON to a URL."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        self.url = url
        # Webhook URLs often carry a token: messages name the host only.
        parts = urlsplit(url)
        self.where = f"{parts.scheme}://{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")
        self.timeout = timeout
        self.session = requests.Session()

    def send(self, notification: Notification) -> None:
        """Deliver one message; a non-2xx answer or network error is a NotificationError."""
        payload = {
            "issue": notification.ticket_key,
            "key": notification.key,
            "subject": notification.subject,
            "text": notification.text,
            "url": notification.url,
        }
        try:
            response = self.session.post(
                self.url, json=payload, timeout=self.timeout,
                headers={"Idempotency-Key": f"{notification.ticket_key}/{notification.key}"},
            )
        except requests.RequestException as exc:
            raise NotificationError(f"webhook {self.where} failed: {type(exc).__name__}") from None
        if not response.ok:
            raise NotificationError(f"webhook {self.where} answered HTTP {response.status_code}")
