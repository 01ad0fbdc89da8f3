"""Checks across sections: references between them, metrics, contract changes, escalation."""

from __future__ import annotations

from slabridge.config.environment import ENV_REF
from slabridge.config.models import NOTE_KINDS, Settings
from slabridge.config.source import Source
from slabridge.domain.contracts import PriceIncreaseTerms
from slabridge.domain.pricing import FeeChange, change_problems
from slabridge.errors import ConfigProblem


def cross_check(settings: Settings, source: Source) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for tier_name, tier in settings.tiers.items():
        if tier.calendar not in settings.calendars:
            problems.append(source.problem(
                f"unknown calendar {tier.calendar!r}: one of {sorted(settings.calendars)}",
                ("tiers", tier_name, "calendar"),
            ))
        for class_name in settings.classes:
            if class_name not in tier.classes:
                problems.append(source.problem(
                    f"no terms for incident class {class_name!r}", ("tiers", tier_name, "classes")
                ))
        for class_name in tier.classes:
            if class_name not in settings.classes:
                problems.append(source.problem(
                    f"unknown incident class {class_name!r}: one of {sorted(settings.classes)}",
                    ("tiers", tier_name, "classes", class_name),
                ))
    if settings.default_tier not in settings.tiers:
        problems.append(source.problem(
            f"unknown tier {settings.default_tier!r}: one of {sorted(settings.tiers)}",
            ("default_tier",),
        ))
    for key, customer in settings.customers.items():
        if not customer.contracts:
            problems.append(source.problem(
                "a customer needs at least one contract", ("customers", key, "contracts")
            ))
        for index, contract in enumerate(customer.contracts):
            if contract.tier not in settings.tiers:
                problems.append(source.problem(
                    f"unknown tier {contract.tier!r}: one of {sorted(settings.tiers)}",
                    ("customers", key, "contracts", index, "tier"),
                ))
    for index, customer_rule in enumerate(settings.classification.customers):
        if customer_rule.customer not in settings.customers:
            problems.append(source.problem(
                f"unknown customer {customer_rule.customer!r}: "
                + (f"one of {sorted(settings.customers)}" if settings.customers
                   else "no customers are configured"),
                ("classification", "customers", index, "customer"),
            ))
    for index, class_rule in enumerate(settings.classification.classes):
        if class_rule.class_ not in settings.classes:
            problems.append(source.problem(
                f"unknown incident class {class_rule.class_!r}: one of {sorted(settings.classes)}",
                ("classification", "classes", index, "class"),
            ))
    tracker = settings.tracker
    if tracker is not None and tracker.api_key and not ENV_REF.fullmatch(tracker.api_key.strip()):
        problems.append(source.problem(
            "secrets must not be written into the file: use ${ENV_VAR}", ("tracker", "api_key")
        ))
    problems += _check_metrics(settings, source)
    problems += _check_escalation(settings, source)
    problems += _check_contract_changes(settings, source)
    notes = settings.notes
    if notes.language not in notes.templates:
        problems.append(source.problem(
            f"no templates for language {notes.language!r}: one of {sorted(notes.templates)}",
            ("notes", "language"),
        ))
    else:
        for kind in NOTE_KINDS:
            if kind not in notes.templates[notes.language]:
                problems.append(source.problem(
                    f"template {kind!r} missing", ("notes", "templates", notes.language)
                ))
    return problems


def _check_metrics(settings: Settings, source: Source) -> list[ConfigProblem]:
    """Metric targets, fields and escalation steps name declared metrics."""
    problems: list[ConfigProblem] = []
    declared = settings.sla.metrics
    named = f"one of {sorted(declared)}" if declared else "sla.metrics declares none"
    if "response" in declared:
        problems.append(source.problem(
            "'response' is the built-in metric (it stops at acceptance): give yours "
            "another name", ("sla", "metrics", "response")))
    for tier_name, tier in settings.tiers.items():
        for class_name, terms in tier.classes.items():
            for metric in terms.metrics:
                if metric not in declared:
                    problems.append(source.problem(
                        f"unknown key {metric!r}: response, handling or a metric of "
                        f"sla.metrics ({named})",
                        ("tiers", tier_name, "classes", class_name, metric)))
    fields = settings.tracker.fields if settings.tracker else None
    for metric in (fields.metrics if fields else {}):
        if metric not in declared:
            problems.append(source.problem(f"unknown metric {metric!r}: {named}",
                                           ("tracker", "fields", "metrics", metric)))
    for ladder, steps in settings.escalation.ladders.items():
        for index, step in enumerate(steps):
            if step.metric != "response" and step.metric not in declared:
                problems.append(source.problem(
                    f"unknown metric {step.metric!r}: response or {named}",
                    ("escalation", "ladders", ladder, index, "metric")))
    return problems


def _check_contract_changes(settings: Settings, source: Source) -> list[ConfigProblem]:
    """The sheet's rules for changing a flat fee and raising prices (domain/pricing.py),
    per customer, on the tier of each later contract."""
    problems: list[ConfigProblem] = []
    for key, customer in settings.customers.items():
        changes = [FeeChange(c.from_, c.monthly_fee, c.included_hours, c.agreed, c.announced)
                   for c in customer.contracts]
        for index, contract in enumerate(customer.contracts):
            tier = settings.tiers.get(contract.tier)
            if tier is None:
                continue
            billing = tier.billing
            increase = billing.price_increase
            found = change_problems(
                changes, billing.model != "hourly",
                billing.fee_adjustment == "last_month_of_quarter",
                None if increase is None else PriceIncreaseTerms(
                    increase.max_increase, increase.lookback_months, increase.notice_months,
                    increase.customer_cancel_notice_months))
            path = ("customers", key, "contracts", index)
            problems += [source.problem(p.message, (*path, p.term) if p.term else path)
                         for p in found if p.index == index]
    return problems


def _check_escalation(settings: Settings, source: Source) -> list[ConfigProblem]:
    escalation = settings.escalation
    problems: list[ConfigProblem] = []
    for name, settings_of_channel in escalation.channels.items():
        password = settings_of_channel.password
        if password and not ENV_REF.fullmatch(password.strip()):
            problems.append(source.problem(
                "secrets must not be written into the file: use ${ENV_VAR}",
                ("escalation", "channels", name, "password")))
    for name, steps in escalation.ladders.items():
        for index, step in enumerate(steps):
            for channel in step.notify:
                if channel not in escalation.channels:
                    problems.append(source.problem(
                        f"unknown channel {channel!r}: one of {sorted(escalation.channels)}",
                        ("escalation", "ladders", name, index, "notify"),
                    ))
    for index, rule in enumerate(escalation.rules):
        if rule.ladder not in escalation.ladders:
            problems.append(source.problem(
                f"unknown ladder {rule.ladder!r}: one of {sorted(escalation.ladders)}",
                ("escalation", "rules", index, "ladder"),
            ))
        for tier in rule.tiers:
            if tier not in settings.tiers:
                problems.append(source.problem(
                    f"unknown tier {tier!r}", ("escalation", "rules", index, "tiers")))
        for incident_class in rule.classes:
            if incident_class not in settings.classes:
                problems.append(source.problem(
                    f"unknown incident class {incident_class!r}",
                    ("escalation", "rules", index, "classes")))
    if escalation.on_call_channel and escalation.on_call_channel not in escalation.channels:
        problems.append(source.problem(
            f"unknown channel {escalation.on_call_channel!r}",
            ("escalation", "on_call_channel")))
    return problems


