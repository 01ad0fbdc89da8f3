"""Notifications to the configured channels: each exactly once, each channel on its own,
a failing one tried again with backoff while the tracker and the others go on."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from slabridge.app.report import SyncReport
from slabridge.domain.model import IssueRecord, Ticket
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import NotificationError
from slabridge.ports import Notifier, StateStore, Tracker

RETRY_FIRST_SECONDS = 60.0
RETRY_MAX_SECONDS = 900.0


class ChannelHealth:
    """Which notification channels fail, since when, and when each is tried again
    (backoff from RETRY_FIRST_SECONDS, doubling, at most RETRY_MAX_SECONDS)."""

    def __init__(self) -> None:
        self._failing: dict[str, tuple[float, str]] = {}
        self._retry: dict[str, tuple[int, float]] = {}
        self._wanted: set[str] = set()

    def due(self, channel: str, monotonic: float) -> bool:
        """Whether the channel may be tried now (it has something to send)."""
        self._wanted.add(channel)
        retry = self._retry.get(channel)
        return retry is None or monotonic >= retry[1]

    def end_cycle(self) -> list[str]:
        """Forget failing channels nothing wanted to use in this cycle: with nothing left
        to send they are not known to fail (health would call them failing for ever).
        Returns those forgotten."""
        idle = [channel for channel in self._failing if channel not in self._wanted]
        for channel in idle:
            self._failing.pop(channel, None)
            self._retry.pop(channel, None)
        self._wanted.clear()
        return idle

    def failed(self, channel: str, error: str, monotonic: float, wall: float) -> bool:
        """Record a failure; True if the channel was not failing before or its error is
        new (say it once per change, not every cycle)."""
        failures = self._retry.get(channel, (0, 0.0))[0] + 1
        delay = min(RETRY_FIRST_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)
        self._retry[channel] = (failures, monotonic + delay)
        since, last = self._failing.get(channel, (wall, ""))
        self._failing[channel] = (since, error)
        return error != last

    def succeeded(self, channel: str) -> bool:
        """Record a success; True if the channel had been failing."""
        self._retry.pop(channel, None)
        return self._failing.pop(channel, None) is not None

    def failing(self) -> dict[str, tuple[float, str]]:
        """Failing channels: since when (Unix time) and the last error."""
        return dict(self._failing)


class Delivery:
    """Sends updates' notifications for one tracker, recording each as it is sent."""

    def __init__(self, notifiers: Mapping[str, Notifier], store: StateStore,
                 tracker: Tracker) -> None:
        self.notifiers = dict(notifiers)
        self.channels = ChannelHealth()
        self.store = store
        self.tracker = tracker
        self.unconfirmed: set[str] = set()
        """Issues with a notification no channel confirmed in this cycle: looked at again
        in the next one."""

    def _notifier(self, channel: str) -> Notifier:
        notifier = self.notifiers.get(channel)
        if notifier is None:
            raise NotificationError(f"no channel named {channel!r}")
        return notifier

    def send(self, update: TicketUpdate, ticket: Ticket, stored: IssueRecord | None,
             done: frozenset[str], report: SyncReport, log: Any) -> frozenset[str]:
        """Send the update's notifications not yet sent, each channel on its own, recording
        each at once; a channel that fails is tried again in a later cycle, with backoff.

        The record stored after each one adds only the sent key to what was stored before
        and is due at once: if the process dies before the batch is stored, the next cycle
        must not take the issue for settled.
        """
        before = stored or IssueRecord(ticket)
        for notification in update.notifications:
            if notification.key in done:
                continue
            channel = notification.channel
            if not self.channels.due(channel, time.monotonic()):
                self.unconfirmed.add(update.ticket_key)
                continue
            try:
                self._notifier(channel).send(replace(
                    notification, url=self.tracker.issue_url(notification.ticket_key)))
            except Exception as error:
                self.unconfirmed.add(update.ticket_key)
                report.channel_counts(channel)[1] += 1
                message = f"{type(error).__name__}: {error}" if not isinstance(
                    error, NotificationError) else str(error)
                if self.channels.failed(channel, message, time.monotonic(), time.time()):
                    report.problems.append(f"channel {channel} failed: {message}; the tracker "
                                           "and the other channels go on, it is tried again")
                    log.warning("notification_failed", channel=channel,
                                      issue=update.ticket_key, error=message)
                continue
            if self.channels.succeeded(channel):
                log.info("channel_recovered", channel=channel)
            done = done | {notification.key}
            self.store.put(self.tracker.name, replace(
                before, done_keys=before.done_keys | done, next_check=ticket.created,
            ))
            report.notifications += 1
            report.channel_counts(channel)[0] += 1
            log.info("notified", issue=update.ticket_key, channel=channel)
        return done

    def end_cycle(self, report: SyncReport, log: Any) -> None:
        """Say which failing channels had nothing to send, and report the failing ones."""
        for channel in self.channels.end_cycle():
            log.info("channel_idle", channel=channel,
                     note="nothing left to send on a channel that had failed")
        report.channels_failing = self.channels.failing()
        self.unconfirmed.clear()
