"""The loaded configuration: tiers with their calendars, customers, rules and SLA policy."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from slabridge.config.closures import DatedClosure, DaysOffProvider, read_ical_closures
from slabridge.config.environment import variables_named
from slabridge.config.models import FieldNameSettings, MatchSettings, Settings, TierSettings
from slabridge.config.source import Source, read_config
from slabridge.config.validation import validate
from slabridge.domain.annotations import NoteTemplates
from slabridge.domain.calendar import BusinessCalendar
from slabridge.domain.classify import Match, Rule
from slabridge.domain.contracts import (
    BillingTerms,
    ClassTerms,
    Contract,
    Customer,
    PriceIncreaseTerms,
    Tier,
    contract_day,
)
from slabridge.domain.durations import ServiceDuration
from slabridge.domain.escalation import Escalations, LadderRule, Step
from slabridge.domain.metrics import MetricDefinition
from slabridge.domain.model import HANDLING_TEXT, FieldRole, SlaStatus
from slabridge.domain.plan import Rules
from slabridge.domain.sla import SlaPolicy
from slabridge.errors import ConfigError, ConfigProblem, UsageError

CONFIG_ENV = "SLABRIDGE_CONFIG"
LOCAL_CONFIG = Path("slabridge.yaml")


def find_config_path(explicit: str | None) -> Path | None:
    """--config, else $SLABRIDGE_CONFIG, else ./slabridge.yaml, else None (shipped defaults)."""
    if explicit:
        return _existing(Path(explicit), "given by --config")
    if os.environ.get(CONFIG_ENV):
        return _existing(Path(os.environ[CONFIG_ENV]),
                         f"named by {CONFIG_ENV}; the container image names "
                         "/etc/slabridge/slabridge.yaml: mount the folder holding your "
                         "slabridge.yaml at /etc/slabridge")
    if LOCAL_CONFIG.exists():
        return LOCAL_CONFIG
    return None


def _existing(path: Path, origin: str) -> Path:
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError([ConfigProblem(f"file not found ({origin})", file=str(path))]) from None
    except OSError:
        pass  # e.g. a folder this user may not open: reading the file says what to do
    return path


def load_config(path: str | Path | None = None) -> Config:
    """Load, merge and validate a config file (None: the shipped contract terms)."""
    source = read_config(Path(path) if path is not None else None)
    settings = validate(source)
    return Config(settings, source)


@dataclass(frozen=True, slots=True)
class TermsRow:
    """One tier x class cell of the terms table."""

    tier: str
    incident_class: str
    target: str | None
    target_service_time: timedelta | None
    handling: str
    handling_text: str
    metrics: dict[str, tuple[str, timedelta]] = field(default_factory=dict)
    """The cell's other metrics' targets: name -> (as written, service time)."""


def _values(value: str | list[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    items = [value] if isinstance(value, str) else value
    return frozenset(str(v).casefold() for v in items)


def _match(settings: MatchSettings) -> Match:
    return Match(
        project=_values(settings.project),
        tracker=_values(settings.tracker),
        priority=_values(settings.priority),
        status=_values(settings.status),
        labels=_values(settings.labels),
        custom_fields={k: _values(v) for k, v in settings.custom_fields.items()},
    )


class Config:
    """Validated configuration with the domain objects built from it."""

    def __init__(self, settings: Settings, source: Source) -> None:
        self.settings = settings
        self.source = source
        self._tiers_on: dict[tuple[str | None, date], Tier] = {}
        dated = self._ical_closures()
        calendars: dict[tuple[str, bool], BusinessCalendar] = {}
        self.tiers: dict[str, Tier] = {}
        for name, tier in settings.tiers.items():
            key = (tier.calendar, tier.observe_closures)
            if key not in calendars:
                calendars[key] = self._calendar(tier, dated)
            self.tiers[name] = self._tier(name, tier, calendars[key])
        self.customers = {
            key: Customer(
                key,
                customer.name or key,
                tuple(
                    Contract(
                        tier=c.tier,
                        start=c.from_,
                        end=c.to,
                        included_hours=c.included_hours,
                        hourly_rate=c.hourly_rate,
                        extra_hourly_rate=c.extra_hourly_rate,
                        monthly_fee=c.monthly_fee,
                        emergency_tickets=c.emergency_tickets,
                        reachability_24x7=c.reachability_24x7,
                    )
                    for c in customer.contracts
                ),
                opening_month=customer.opening.month if customer.opening else None,
                opening_credit=customer.opening.credit_hours if customer.opening
                else Decimal(0),
            )
            for key, customer in settings.customers.items()
        }
        rules = settings.classification
        self.customer_rules = tuple(
            Rule(_match(r.match), r.customer, r.name or f"classification.customers[{i}]")
            for i, r in enumerate(rules.customers)
        )
        self.class_rules = tuple(
            Rule(_match(r.match), r.class_, r.name or f"classification.classes[{i}]")
            for i, r in enumerate(rules.classes)
        )
        sla = settings.sla
        self.policy = SlaPolicy(
            at_risk_fraction=sla.at_risk,
            pause_statuses=frozenset(s.casefold() for s in sla.pause_statuses),
            accept_on_status_change=sla.acceptance.status_change,
            accept_statuses=frozenset(s.casefold() for s in sla.acceptance.statuses),
            accept_on_public_note=sla.acceptance.public_note,
        )
        # Precomputed so response_due is two dict lookups plus the calendar arithmetic.
        self._targets: dict[str, dict[str, tuple[Callable[[datetime, int], datetime], int]
                                      | None]] = {}
        for name, tier_obj in self.tiers.items():
            by_class = self._targets[name] = {}
            for class_name in tier_obj.classes:
                target = tier_obj.response_target(class_name)
                by_class[class_name] = None if target is None else (
                    tier_obj.calendar.add_micros, target // timedelta(microseconds=1)
                )

    def _ical_closures(self) -> list[DatedClosure]:
        dated: list[DatedClosure] = []
        problems: list[ConfigProblem] = []
        base = Path(self.source.files[-1]).parent if self.source.files else Path()
        for index, name in enumerate(self.settings.ical_closures):
            path = Path(name) if Path(name).is_absolute() else base / name
            try:
                dated += read_ical_closures(path)
            except (OSError, ValueError) as exc:
                problems.append(self.source.problem(f"cannot read iCalendar file: {exc}",
                                                    ("ical_closures", index)))
        if problems:
            raise ConfigError(problems)
        return dated

    def _calendar(self, tier: TierSettings, dated: list[DatedClosure]) -> BusinessCalendar:
        calendar = self.settings.calendars[tier.calendar]
        provider = DaysOffProvider(
            calendar.holidays,
            self.settings.closures if tier.observe_closures else (),
            dated if tier.observe_closures else (),
        )
        service_day = None
        if calendar.service_day is not None:
            service_day = ServiceDuration.parse(calendar.service_day).length(timedelta(days=1))
        try:
            return BusinessCalendar(calendar.timezone, calendar.weekly(), provider, service_day)
        except ValueError as exc:
            raise ConfigError(
                [self.source.problem(str(exc), ("calendars", tier.calendar))]
            ) from None

    def _tier(self, name: str, tier: TierSettings, calendar: BusinessCalendar) -> Tier:
        billing = tier.billing
        increase = billing.price_increase
        return Tier(
            name=name,
            label=self.label(tier.label, name),
            calendar=calendar,
            observes_closures=tier.observe_closures,
            maintenance_included=tier.maintenance_included,
            intake=tier.intake,
            classes={
                class_name: ClassTerms(
                    None if terms.response is None else ServiceDuration.parse(terms.response),
                    terms.handling,
                    {metric: ServiceDuration.parse(text)
                     for metric, text in terms.metrics.items()},
                )
                for class_name, terms in tier.classes.items()
            },
            billing=BillingTerms(
                model=billing.model,
                included_hours=billing.included_hours,
                extra_hours=billing.extra_hours,
                critical_current_sprint_surcharge=billing.critical_current_sprint_surcharge,
                credit_cap_months=billing.credit_cap_months,
                fee_due=billing.fee_due,
                extra_work_due=billing.extra_work_due,
                fee_adjustment=billing.fee_adjustment,
                price_increase=None if increase is None else PriceIncreaseTerms(
                    increase.max_increase,
                    increase.lookback_months,
                    increase.notice_months,
                    increase.customer_cancel_notice_months,
                ),
                travel_and_expenses=billing.travel_and_expenses,
            ),
        )

    # --- lookups -----------------------------------------------------------------------

    def tier(self, name: str) -> Tier:
        """The tier called `name`; a UsageError lists the known ones."""
        try:
            return self.tiers[name]
        except KeyError:
            raise UsageError(f"unknown tier {name!r}: one of {', '.join(self.tiers)}") from None

    def check_class(self, incident_class: str) -> str:
        """`incident_class` if configured; a UsageError lists the known ones."""
        if incident_class not in self.settings.classes:
            raise UsageError(
                f"unknown incident class {incident_class!r}: "
                f"one of {', '.join(self.settings.classes)}"
            )
        return incident_class

    def customer(self, key: str) -> Customer:
        """The customer called `key`; a UsageError lists the known ones."""
        try:
            return self.customers[key]
        except KeyError:
            known = ", ".join(self.customers) or "none configured"
            raise UsageError(f"unknown customer {key!r}: {known}") from None

    @property
    def contract_zone(self) -> tzinfo:
        """The zone whose days contracts are dated in: the default tier's calendar zone."""
        return self.tiers[self.settings.default_tier].calendar.zone

    def contract_day(self, instant: datetime) -> date:
        """The day of `instant` as contracts count days (see contract_zone)."""
        return contract_day(instant, self.contract_zone)

    def tier_for(self, customer: str | None, day: date) -> Tier:
        """The tier in force for a customer on `day`; without a contract, the default tier."""
        # Asked once per issue and cycle, mostly for the same few days: remembered.
        found = self._tiers_on.get((customer, day))
        if found is None:
            found = self.tiers[self.settings.default_tier]
            if customer is not None:
                contract = self.customer(customer).contract_at(day)
                if contract is not None:
                    found = self.tiers[contract.tier]
            self._tiers_on[customer, day] = found
        return found

    def response_due(
        self, tier: str, incident_class: str, received: datetime
    ) -> datetime | None:
        """When a response is due for a ticket of `incident_class` received on `tier`."""
        try:
            entry = self._targets[tier][incident_class]
        except KeyError:
            self.tier(tier)  # raises a clear error for an unknown tier or class
            self.check_class(incident_class)
            raise
        if entry is None:
            return None
        add_micros, target = entry
        return add_micros(received, target)

    def terms_fingerprint(self) -> str:
        """What decides due times: calendars, closures, classes, tiers, customers' contracts
        and the SLA clock rules. A change (a reload) re-evaluates every open issue."""
        data = self.settings.model_dump(
            mode="json", include={"calendars", "closures", "ical_closures", "classes", "tiers",
                                  "customers", "sla", "default_tier"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def scope_fingerprint(self) -> str:
        """What decides which issues slabridge looks after and where it writes: the
        projects polled, the classification rules and the fields. A change means issues
        nobody touched may now be in scope, or have a field to fill (a misspelt field name
        is then found at once: a full cycle names the fields no issue carries)."""
        settings = self.settings
        tracker = settings.tracker
        scope = {
            "projects": list(tracker.projects) if tracker else [],
            "classification": settings.classification.model_dump(mode="json"),
            "fields": tracker.fields.model_dump(mode="json") if tracker and tracker.fields
            else None,
            "receipt_field": tracker.receipt_field if tracker else None,
        }
        return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:16]

    def label(self, label: str | dict[str, str], key: str) -> str:
        """A configured label in the notes' language (then English, then any), or `key`."""
        if isinstance(label, str):
            return label or key
        language = self.settings.notes.language
        return label.get(language) or label.get("en") or next(iter(label.values()), key)

    def rules(self, ignored_authors: frozenset[str] = frozenset()) -> Rules:
        """What the per-ticket decision needs; `ignored_authors` are slabridge's own accounts."""
        notes = self.settings.notes
        return Rules(
            customer_rules=self.customer_rules,
            class_rules=self.class_rules,
            tier_for=self.tier_for,
            customer_names={key: c.name for key, c in self.customers.items()},
            class_labels={key: self.label(c.label, key)
                          for key, c in self.settings.classes.items()},
            policy=self.policy,
            templates=NoteTemplates(
                notes.templates[notes.language], notes.handling.get(notes.language, {})
            ),
            ignored_authors=ignored_authors,
            contract_for=self.contract_for,
            contract_zone=self.contract_zone,
            escalations=self.escalations(),
            standard_critical=self.settings.handling.standard_critical,
            emergency_classes=frozenset(
                key for key, c in self.settings.classes.items() if c.emergency),
            on_call_channel=self.settings.escalation.on_call_channel,
            metrics=self.metrics(),
            metric_labels={name: self.label(m.label, name)
                           for name, m in self.settings.sla.metrics.items()},
            metric_roles=self.metric_roles(),
        )

    def metrics(self) -> tuple[MetricDefinition, ...]:
        """The metrics beyond the response (sla.metrics), statuses casefolded."""
        return tuple(
            MetricDefinition(
                name, frozenset(s.casefold() for s in m.stop_statuses),
                None if m.pause_statuses is None
                else frozenset(s.casefold() for s in m.pause_statuses),
                m.on_reopen)
            for name, m in self.settings.sla.metrics.items())

    def metric_roles(self) -> frozenset[str]:
        """The metric field roles the tracker stores: those with a field named (Redmine, or
        Jira with fields), every metric's where Jira keeps them in the issue property."""
        tracker = self.settings.tracker
        if tracker is None:
            return frozenset()
        if tracker.kind == "jira" and tracker.fields is None:
            return frozenset(role for name in self.settings.sla.metrics
                             for role in (f"{name}_due", f"{name}_status"))
        fields = tracker.fields or FieldNameSettings()
        return frozenset(role for role, field_name in fields.roles().items()
                         if field_name and role not in set(FieldRole))

    def contract_for(self, customer: str, day: date) -> Contract | None:
        """The customer's contract in force on `day`, if any."""
        found = self.customers.get(customer)
        return found.contract_at(day) if found else None

    def escalations(self) -> Escalations | None:
        """The configured ladders, or None if there are none."""
        settings = self.settings.escalation
        if not settings.rules:
            return None
        return Escalations(
            ladders={
                name: tuple(
                    Step(s.name, SlaStatus(s.when), s.mention, s.watchers, s.raise_priority,
                         s.reassign, s.notify, s.metric)
                    for s in steps
                )
                for name, steps in settings.ladders.items()
            },
            rules=tuple(
                LadderRule(r.ladder, frozenset(r.tiers), frozenset(r.classes))
                for r in settings.rules
            ),
        )

    def terms(self) -> list[TermsRow]:
        """The tier x class table of targets and handling in effect."""
        rows = []
        for name, tier in self.tiers.items():
            for class_name in self.settings.classes:
                terms = tier.classes[class_name]
                rows.append(TermsRow(
                    name,
                    class_name,
                    None if terms.response is None else str(terms.response),
                    tier.response_target(class_name),
                    terms.handling.value,
                    HANDLING_TEXT[terms.handling],
                    {metric: (str(target), tier.metric_target(class_name, metric)
                              or timedelta(0))
                     for metric, target in terms.metrics.items()},
                ))
        return rows

    def metric_due(self, tier: str, incident_class: str, metric: str,
                   received: datetime) -> datetime | None:
        """When `metric` is due for a ticket of `incident_class` received on `tier`, without
        pauses (None: no target); `response` is the response."""
        if metric == "response":
            return self.response_due(tier, incident_class, received)
        if metric not in self.settings.sla.metrics:
            raise UsageError(f"unknown metric {metric!r}: response or one of "
                             f"{sorted(self.settings.sla.metrics)}")
        self.check_class(incident_class)
        found = self.tier(tier)
        target = found.metric_target(incident_class, metric)
        return None if target is None else found.calendar.add(received, target)

    def summary(self) -> dict[str, Any]:
        """Counts for `slabridge check`."""
        return {
            "files": list(self.source.files),
            "calendars": len(self.settings.calendars),
            "tiers": list(self.tiers),
            "classes": list(self.settings.classes),
            "customers": len(self.customers),
            "customer_rules": len(self.customer_rules),
            "class_rules": len(self.class_rules),
            "closures": [c.name for c in self.settings.closures],
            "environment": variables_named(self.settings),
        }
