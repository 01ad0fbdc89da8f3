"""The one place that builds concrete adapters (tracker, state store) from configuration."""

from __future__ import annotations

import gc
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from slabridge.adapters.jira import doctor as jira_doctor
from slabridge.adapters.jira.tracker import JiraTracker
from slabridge.adapters.notify.mail import EmailNotifier
from slabridge.adapters.notify.webhook import WebhookNotifier
from slabridge.adapters.redmine import doctor as redmine_doctor
from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.adapters.state.postgres import LeaderLock, PostgresStateStore
from slabridge.adapters.state.sqlite import SqliteStateStore, state_file_problem
from slabridge.app.doctor import Check, needs_of
from slabridge.app.hours import HoursService
from slabridge.app.sync import Syncer
from slabridge.config.environment import env_variables, expand_env
from slabridge.config.loader import Config
from slabridge.config.models import FieldNameSettings
from slabridge.config.source import BUILTIN_DIR
from slabridge.errors import ConfigError, ConfigProblem
from slabridge.logs import register_secret
from slabridge.ports import HoursStore, Notifier, Tracker


def build_tracker(config: Config, environ: dict[str, str] | None = None) -> Tracker:
    """The configured tracker, with secrets from the environment."""
    environ = dict(os.environ if environ is None else environ)
    settings = config.settings.tracker
    if settings is None:
        raise ConfigError([ConfigProblem(
            "no tracker configured: add a `tracker:` section (see config/slabridge.example.yaml)",
            "tracker", config.source.files[-1] if config.source.files else None,
        )])
    expanded = _expand_tracker_values(config, environ)
    url = expanded["url"] or ""
    if not url.startswith(("http://", "https://")):
        raise ConfigError([config.source.problem(
            f"{_variables_in(settings.url) or 'the URL'} must be an http:// or https:// URL "
            "(e.g. https://redmine.example.com)", ("tracker", "url"))])
    # A password in the URL (a Redmine behind a basic-auth proxy) is a secret too: the URL
    # names the tracker in messages and log lines.
    register_secret(urlsplit(url).password)
    if settings.api_key is None:
        raise ConfigError([config.source.problem("api_key is required", ("tracker", "api_key"))])
    api_key = expanded["api_key"] or ""
    register_secret(api_key)
    if not settings.projects:
        raise ConfigError([config.source.problem(
            "list the projects to poll", ("tracker", "projects")
        )])
    default_zone = config.tier(config.settings.default_tier).calendar.timezone
    notes = config.settings.notes
    if settings.kind == "jira":
        email = expanded["email"] or None
        return JiraTracker(
            url, settings.projects, token=api_key, email=email,
            api_version=settings.api_version,
            field_names=settings.fields.roles() if settings.fields else None,
            wanted_fields=rule_fields(config), receipt_field=settings.receipt_field,
            board_id=settings.board_id, local_zone=default_zone,
            timeout=settings.timeout_seconds, retries=settings.retries,
            verify_tls=settings.verify_tls, private_notes=notes.private,
            visibility=notes.jira_visibility.model_dump() if notes.jira_visibility else None,
        )
    return RedmineTracker(
        url, api_key, settings.projects, (settings.fields or FieldNameSettings()).roles(),
        receipt_field=settings.receipt_field, local_zone=default_zone,
        verify_tls=settings.verify_tls, timeout=settings.timeout_seconds,
        retries=settings.retries, sprint_rule=config.settings.handling.redmine_sprint,
        key_source=_variables_in(settings.api_key) or "tracker.api_key",
        private_notes=notes.private,
    )


def _expand_tracker_values(config: Config, environ: dict[str, str]) -> dict[str, str | None]:
    """url, api_key and email with ${VAR}s expanded (None where unset in the config); every
    unset variable is reported at once, not one per attempt."""
    settings = config.settings.tracker
    assert settings is not None  # noqa: S101 - checked by the caller
    expanded: dict[str, str | None] = {}
    problems = []
    for key in ("url", "api_key", "email"):
        value = getattr(settings, key)
        try:
            expanded[key] = None if value is None else expand_env(
                value, ("tracker", key), config.source, environ)
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return expanded


def run_doctor(config: Config, environ: dict[str, str] | None = None) -> list[Check]:
    """The checks of `slabridge doctor` against the configured tracker (GET requests only)."""
    tracker = build_tracker(config, environ)
    needs = needs_of(config, rule_fields(config))
    if isinstance(tracker, JiraTracker):
        checks = jira_doctor.diagnose(tracker, needs)
    else:
        assert isinstance(tracker, RedmineTracker)  # noqa: S101 - one of two trackers
        checks = redmine_doctor.diagnose(tracker, needs)
    return [*checks, *_state_checks(config, environ)]


def _state_checks(config: Config, environ: dict[str, str] | None) -> list[Check]:
    """The SQLite state file writable by this user (a mounted folder still root's is the
    usual first-run mistake in a container); a PostgreSQL store is not checked here."""
    if config.settings.state.kind != "sqlite":
        return []
    path = state_path(config, environ)
    problem = state_file_problem(path)
    if problem is None:
        return [Check(f"state file {path}", True, "writable by this user")]
    detail, fix = problem
    return [Check(f"state file {path}", False, detail, fix)]


def _variables_in(text: str) -> str:
    """The environment variables a config value names, e.g. "REDMINE_API_KEY"."""
    return ", ".join(env_variables(text))


def build_notifiers(config: Config, environ: dict[str, str] | None = None) -> dict[str, Notifier]:
    """One notifier per configured channel, secrets from the environment."""
    environ = dict(os.environ if environ is None else environ)
    notifiers: dict[str, Notifier] = {}
    for name, channel in config.settings.escalation.channels.items():
        path = ("escalation", "channels", name)
        if channel.kind == "email":
            password = None
            if channel.password:
                password = expand_env(channel.password, (*path, "password"), config.source,
                                      environ)
                register_secret(password)
            notifiers[name] = EmailNotifier(
                channel.smtp_host, channel.smtp_port, channel.sender or "", channel.to,
                starttls=channel.starttls, username=channel.username, password=password,
                timeout=channel.timeout_seconds,
            )
        else:
            url = expand_env(channel.url or "", (*path, "url"), config.source, environ)
            register_secret(url)
            notifiers[name] = WebhookNotifier(url, channel.timeout_seconds)
    return notifiers


def rule_fields(config: Config) -> tuple[str, ...]:
    """Custom field names the classification rules look at (the tracker must read them)."""
    names: dict[str, None] = {}
    for rule in (*config.customer_rules, *config.class_rules):
        names.update(dict.fromkeys(rule.match.custom_fields))
    return tuple(names)


def state_path(config: Config, environ: dict[str, str] | None = None) -> Path:
    """The state file, ${VAR} expanded; relative to the config file that set it."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(expand_env(config.settings.state.path, ("state", "path"), config.source,
                           environ)).expanduser()
    if path.is_absolute():
        return path
    # Relative to the file that set it, else to the user's config file (not the shipped one).
    file, _ = config.source.where(("state", "path"))
    if ("state", "path") not in config.source.locations:
        user_files = [f for f in config.source.files if not f.startswith(str(BUILTIN_DIR))]
        file = user_files[-1] if user_files else None
    return Path(file).parent / path if file else path


def build_store(config: Config, environ: dict[str, str] | None = None, *,
                dry_run: bool = False) -> HoursStore:
    """The configured state store; a dry run never creates one that does not exist yet."""
    environ = dict(os.environ if environ is None else environ)
    state = config.settings.state
    if state.kind == "postgres":
        dsn = expand_env(state.dsn or "", ("state", "dsn"), config.source, environ)
        register_secret(dsn)
        return PostgresStateStore(dsn)
    path = state_path(config, environ)
    if dry_run and not path.exists():
        return SqliteStateStore(":memory:")
    return SqliteStateStore(path)


def build_leader_lock(config: Config, tracker_name: str) -> LeaderLock | None:
    """With a PostgreSQL store, the lock that makes one replica active; else None."""
    state = config.settings.state
    if state.kind != "postgres":
        return None
    dsn = expand_env(state.dsn or "", ("state", "dsn"), config.source, dict(os.environ))
    return LeaderLock(dsn, tracker_name)


def build_syncer(config: Config, *, dry_run: bool = False) -> Syncer:
    """Tracker, state store and rules wired together."""
    tracker = build_tracker(config)
    store = build_store(config, dry_run=dry_run)
    overlap = timedelta(seconds=config.settings.tracker.overlap_seconds)  # type: ignore[union-attr]
    return Syncer(tracker, store, config.rules(), overlap, build_notifiers(config),
                  scope=config.scope_fingerprint(), terms=config.terms_fingerprint())


def build_hours_service(config: Config) -> HoursService:
    """The hour statements of the configured customers, with a tracker and a store
    connection of their own (the CLI's `hours`, the daemon's monthly summary); the caller
    closes the store when done."""
    return HoursService(build_tracker(config), build_store(config), config)


def settle_long_lived_objects() -> None:
    """Keep what start-up built out of every later garbage collection (gc.freeze).

    Modules, configuration, calendars and adapters live as long as the process. Without
    this each full collection walks them all again: about 76,000 objects and 45 ms here,
    which a cycle of 500 issues against the local Redmine paid as 126 us per issue.
    Unfrozen and collected first, so what a reload left behind is freed, not kept.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
