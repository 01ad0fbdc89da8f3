"""E-mail notifications over SMTP (smtplib), optionally with STARTTLS and login."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP

from slabridge.domain.plan import Notification
from slabridge.errors import NotificationError

SMTP_UNFOLDED = SMTP.clone(max_line_length=998)  # RFC 5322: at most 998 a line


class EmailNotifier:
    """Sends each notification as one plain-text e-mail."""

    def __init__(
        self, host: str, port: int, sender: str, to: tuple[str, ...], *,
        starttls: bool = False, username: str | None = None, password: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.host, self.port, self.sender, self.to = host, port, sender, to
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout = timeout

    def send(self, notification: Notification) -> None:
        """Deliver one e-mail; any SMTP or network failure is a NotificationError."""
        # No folding: the key header stays one line that filters can match whole.
        message = EmailMessage(policy=SMTP_UNFOLDED)
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Subject"] = notification.subject
        # Lets mail filters and receivers drop a duplicate if a retry ever sends twice.
        message["X-Slabridge-Key"] = f"{notification.ticket_key}/{notification.key}"
        message.set_content(notification.text + (
            f"\n\n{notification.url}" if notification.url else ""))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    # Verify the server's certificate and name, not only encrypt.
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(
                f"e-mail to {', '.join(self.to)} via {self.host}:{self.port} failed: {exc}"
            ) from None
