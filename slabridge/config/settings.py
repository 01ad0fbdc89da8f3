"""The configuration schema: YAML data to validated, frozen settings, and its JSON Schema."""

from __future__ import annotations

import copy
import itertools
import re
from datetime import date
from decimal import Decimal
from functools import cache
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, available_timezones

import holidays
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from slabridge.config.source import PathKey, Source, dotted
from slabridge.domain.calendar import WEEKDAYS, Window
from slabridge.domain.durations import ServiceDuration
from slabridge.domain.hours import month_start
from slabridge.domain.model import Handling
from slabridge.errors import ConfigError, ConfigProblem

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Strict(BaseModel):
    """Base: unknown keys are errors and settings never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- value types -------------------------------------------------------------------------


def _duration(text: Any) -> str:
    if isinstance(text, int | float):
        # pydantic turns ValueError (not TypeError) into a located validation message.
        raise ValueError(f"{text!r} has no unit: write e.g. {text}h or {text}d")  # noqa: TRY004
    ServiceDuration.parse(str(text))
    return str(text).strip()


def _window(text: str) -> str:
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a window: write HH:MM-HH:MM, e.g. 09:00-16:00")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
        raise ValueError(f"{text!r} is not a time of day")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if end <= start:
        raise ValueError(f"window {text!r} ends before it starts")
    return text.strip()


def parse_window(text: str) -> Window:
    """A validated window string as a domain Window."""
    match = _WINDOW.match(text)
    assert match is not None  # noqa: S101 - validated by _window at load
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    return Window(start_h * 60 + start_m, end_h * 60 + end_m)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Vienna)")
    ZoneInfo(name)
    return name


def _month_day(text: Any) -> str:
    match = _MONTH_DAY.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a month and day: write MM-DD in quotes, e.g. '12-24'")
    try:
        date(2000, int(match.group(1)), int(match.group(2)))  # a leap year: 02-29 is fine
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the year") from None
    return str(text)


def _time_of_day(text: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"{text!r} is not a time of day: write HH:MM, e.g. 02:30")
    return text


def _fraction(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        percent = float(value.strip()[:-1])
        if not 0 < percent < 100:
            raise ValueError(f"{value.strip()} is not a share: give more than 0% and less "
                             "than 100%")
        return percent / 100
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
        raise ValueError(f"{value} is not a share: write {value:g}% or {value / 100:g}")
    return value


def _weekday_keys(key: str) -> list[int]:
    parts = key.lower().split("-")
    if not all(p in WEEKDAYS for p in parts) or len(parts) > 2:
        raise ValueError(f"{key!r} is not a weekday or range: use mon..sun or e.g. mon-fri")
    first, last = WEEKDAYS.index(parts[0]), WEEKDAYS.index(parts[-1])
    if last < first:
        raise ValueError(f"weekday range {key!r} runs backwards")
    return list(range(first, last + 1))


DurationText = Annotated[str, BeforeValidator(_duration)]
WindowText = Annotated[str, AfterValidator(_window)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
MonthDay = Annotated[str, BeforeValidator(_month_day)]
Share = Annotated[
    float, BeforeValidator(_fraction), Field(gt=0, lt=1),
    # Editors should accept what the loader accepts: 0.75 or "75%".
    WithJsonSchema({"anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        # More than 0% and less than 100%, as the loader takes them.
        {"type": "string",
         "pattern": r"^\s*(0*[1-9][0-9]?(\.[0-9]+)?|0*\.[0-9]*[1-9][0-9]*)\s*%\s*$"},
    ]}),
]
Money = Annotated[Decimal, Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]


# --- calendars ---------------------------------------------------------------------------


class HolidaySettings(Strict):
    """Public holidays from the `holidays` package."""

    country: str | None = "AT"
    subdivision: str | None = None
    categories: tuple[str, ...] = ("public",)

    @model_validator(mode="after")
    def _check(self) -> Any:
        """Check the country, subdivision and categories against the holidays package."""
        if self.country is None:
            return self
        supported = holidays.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"unknown holiday country {self.country!r} (ISO code, e.g. AT, DE)")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(
                f"unknown subdivision {self.subdivision!r} of {self.country}: "
                f"one of {', '.join(supported[self.country])}"
            )
        known = holidays.country_holidays(self.country).supported_categories
        for category in self.categories:
            if category not in known:
                raise ValueError(f"unknown holiday category {category!r}: one of {sorted(known)}")
        return self


class CalendarSettings(Strict):
    """A service calendar: time zone, weekly windows, holidays."""

    description: str = ""
    timezone: TimeZoneName = "Europe/Vienna"
    windows: dict[str, tuple[WindowText, ...]]
    holidays: HolidaySettings = HolidaySettings()
    service_day: DurationText | None = Field(
        default=None, description="length of one service day, if days differ in length"
    )

    def weekly(self) -> dict[int, list[Window]]:
        """Windows per weekday number (Mon=0); keys like mon-fri expanded."""
        result: dict[int, list[Window]] = {}
        for key, texts in self.windows.items():
            for day in _weekday_keys(key):
                result.setdefault(day, []).extend(parse_window(t) for t in texts)
        return result

    @model_validator(mode="after")
    def _check(self) -> Any:
        """Reject bad weekday keys, overlapping windows and empty calendars."""
        weekly = self.weekly()
        for day, windows in weekly.items():
            ordered = sorted(windows, key=lambda w: w.start_minute)
            for before, after in itertools.pairwise(ordered):
                if after.start_minute < before.end_minute:
                    raise ValueError(f"{WEEKDAYS[day]}: windows {before} and {after} overlap")
        if not any(weekly.values()):
            raise ValueError("a calendar needs at least one service window")
        return self


class YearlyRange(Strict):
    """Every year from one month-day to another, both inclusive (may cross New Year)."""

    from_: MonthDay = Field(alias="from")
    to: MonthDay


class EasterRange(Strict):
    """Days relative to Easter Sunday, both inclusive (-6 is the Monday of Holy Week)."""

    from_: int = Field(alias="from", ge=-60, le=60)
    to: int = Field(ge=-60, le=60)


class DatedRange(Strict):
    """A one-off range of dates, both inclusive."""

    from_: date = Field(alias="from")
    to: date


class ClosureSettings(Strict):
    """An announced company closure: exactly one of yearly, easter or dated."""

    name: Name
    yearly: YearlyRange | None = None
    easter: EasterRange | None = None
    dated: DatedRange | None = None

    @model_validator(mode="after")
    def _check(self) -> Any:
        """Exactly one kind of range, running forwards."""
        kinds = [k for k in (self.yearly, self.easter, self.dated) if k is not None]
        if len(kinds) != 1:
            raise ValueError("a closure needs exactly one of: yearly, easter, dated")
        if self.easter is not None and self.easter.to < self.easter.from_:
            raise ValueError("easter closure ends before it starts")
        if self.dated is not None and self.dated.to < self.dated.from_:
            raise ValueError("dated closure ends before it starts")
        return self


# --- classes and tiers -------------------------------------------------------------------


class IncidentClassSettings(Strict):
    """An incident class as the contract sheet defines it."""

    label: str | dict[str, str] = Field(
        default="", description="a name, or names by notes language ({en: ..., de: ...})")
    definition: str = ""
    examples: tuple[str, ...] = ()
    emergency: bool = Field(
        default=False,
        description="incidents of this class are emergencies: received outside service hours "
                    "they count against the contract's emergency tickets, their escalations "
                    "run outside service hours too and reach the on-call channel")


class ClassTermsSettings(Strict):
    """A tier's promise for one class."""

    response: DurationText | None
    handling: Handling


class PriceIncreaseSettings(Strict):
    """Limits on raising a flat fee."""

    max_increase: Annotated[Decimal, Field(ge=0)]
    lookback_months: int = Field(ge=1)
    notice_months: int = Field(ge=0)
    customer_cancel_notice_months: int = Field(ge=0)


class BillingSettings(Strict):
    """How a tier is billed."""

    model: Literal["hourly", "monthly_flat", "premium_flat"]
    included_hours: bool
    extra_hours: Literal["none", "fixed_rate"]
    critical_current_sprint_surcharge: Annotated[Decimal, Field(ge=0, le=10)]
    credit_cap_months: int = Field(ge=0, le=24)
    fee_due: Literal["none", "last_working_day_of_previous_month", "start_of_month"]
    extra_work_due: Literal["none", "last_working_day_of_month"]
    fee_adjustment: Literal["none", "last_month_of_quarter"]
    price_increase: PriceIncreaseSettings | None
    travel_and_expenses: Literal["billed_separately", "included"]


class TierSettings(Strict):
    """A service level."""

    label: str | dict[str, str] = Field(
        default="", description="a name, or names by notes language ({en: ..., de: ...})")
    calendar: Name
    observe_closures: bool = False
    maintenance_included: bool = False
    intake: tuple[Literal["ticket", "phone", "email"], ...] = ("ticket",)
    classes: dict[str, ClassTermsSettings]
    billing: BillingSettings


# --- customers and rules -----------------------------------------------------------------


class ContractSettings(Strict):
    """A customer's contract from a date on."""

    tier: Name
    from_: date = Field(alias="from")
    to: date | None = None
    included_hours: Money = Decimal(0)
    hourly_rate: Money | None = None
    extra_hourly_rate: Money | None = None
    monthly_fee: Money | None = None
    emergency_tickets: int = Field(default=0, ge=0)
    reachability_24x7: bool = False
    announced: date | None = Field(
        default=None, description="date of the written notice of a price increase")
    agreed: date | None = Field(
        default=None, description="date a flat-fee adjustment was agreed")

    @model_validator(mode="after")
    def _check(self) -> Any:
        """A contract ends after it starts."""
        if self.to is not None and self.to < self.from_:
            raise ValueError("contract ends before it starts")
        return self


def _month(text: Any) -> str:
    if not isinstance(text, str) or not _MONTH.match(text):
        raise ValueError(f"{str(text)!r} is not a month: write YYYY-MM, e.g. 2026-11")
    return text


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
Month = Annotated[str, BeforeValidator(_month),
                  WithJsonSchema({"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"})]


class OpeningSettings(Strict):
    """Where slabridge's hour ledger of a customer starts (a contract adopted mid-year)."""

    month: Month = Field(description="the first month slabridge counts hours for (YYYY-MM); "
                         "earlier months count nothing")
    credit_hours: Annotated[Decimal, Field(ge=0)] = Field(
        default=Decimal(0), description="unused hours credited into that month (the balance "
        "carried over from before slabridge)")


class CustomerSettings(Strict):
    """A customer and its contracts over time."""

    name: str = ""
    contracts: tuple[ContractSettings, ...] = ()
    opening: OpeningSettings | None = Field(
        default=None, description="opening balance of the hour ledger: the month tracking "
        "starts and the credit carried into it")


StrOrList = str | list[str]


class MatchSettings(Strict):
    """Conditions on tracker fields; all must hold; a list means any of its values."""

    project: StrOrList | None = None
    tracker: StrOrList | None = None
    priority: StrOrList | None = None
    status: StrOrList | None = None
    labels: StrOrList | None = None
    custom_fields: dict[str, StrOrList] = {}


class CustomerRuleSettings(Strict):
    """If the match holds, the ticket belongs to `customer`."""

    name: str = ""
    match: MatchSettings
    customer: Name


class ClassRuleSettings(Strict):
    """If the match holds, the ticket has incident class `class`."""

    name: str = ""
    match: MatchSettings
    class_: Name = Field(alias="class")


class ClassificationSettings(Strict):
    """Ordered rules; the first match wins."""

    customers: tuple[CustomerRuleSettings, ...] = ()
    classes: tuple[ClassRuleSettings, ...] = ()


class AcceptanceSettings(Strict):
    """What counts as accepting (answering) a ticket."""

    status_change: bool = True
    statuses: tuple[str, ...] = ()
    public_note: bool = True


class SlaSettings(Strict):
    """Clock rules shared by all tiers."""

    at_risk: Share = 0.75
    pause_statuses: tuple[str, ...] = ()
    acceptance: AcceptanceSettings = AcceptanceSettings()


class FieldNameSettings(Strict):
    """Names of the tracker fields slabridge writes (created by the setup script)."""

    response_due: Name = "SLA response due"
    response_due_date: Name = "SLA response due date"
    sla_class: Name = "SLA class"
    sla_status: Name = "SLA status"
    sla_handling: str | None = Field(
        default="SLA handling", description="how the contract says to handle it; null: skip",
    )


class TrackerSettings(Strict):
    """A tracker connection; secrets only as ${ENV_VAR} references."""

    kind: Literal["redmine", "jira"]
    url: Name
    api_key: str | None = Field(
        default=None,
        description="Redmine API key; Jira Cloud API token (with email); Jira Data Center "
        "personal access token (without email)",
    )
    email: str | None = Field(default=None, description="Jira Cloud: the API user's e-mail")
    api_version: Literal["auto", "2", "3"] = Field(
        default="auto", description="Jira REST version: auto is 3 on Cloud, 2 on Data Center"
    )
    board_id: int | None = Field(default=None, description="Jira: board whose active sprint "
                                 "is the current sprint")
    projects: tuple[str, ...] = Field(default=(), description="project identifiers to poll")
    verify_tls: bool = True
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    retries: int = Field(default=3, ge=0, le=10)
    overlap_seconds: int = Field(
        default=30, ge=0, le=86400,
        description="re-read issues updated this long before the last watermark",
    )
    receipt_field: str | None = Field(
        default=None, description="custom field holding when the incident really came in",
    )
    fields: FieldNameSettings | None = Field(
        default=None,
        description="custom field names to write; Redmine: defaults to the SLA fields of "
        "the setup script; Jira: unset means the issue property slabridge.sla",
    )


class CommentVisibilitySettings(Strict):
    """A Jira group or project role that private comments are restricted to."""

    type: Literal["group", "role"]
    value: str


class NotesSettings(Strict):
    """The notes slabridge writes, by language."""

    private: bool = Field(
        default=False,
        description="true: customers with tracker access do not see slabridge's notes "
        "(Redmine: private notes, the role needs 'Set notes as private'; Jira: restricted "
        "to `jira_visibility`, else an internal comment of Jira Service Management)")
    jira_visibility: CommentVisibilitySettings | None = Field(
        default=None, description="Jira, with private: true: {type: role|group, value: name}")
    language: str = "en"
    templates: dict[str, dict[str, str]] = {}
    handling: dict[str, dict[str, str]] = {}


class StateSettings(Strict):
    """Where slabridge remembers what it did: a SQLite file, or PostgreSQL for replicas."""

    kind: Literal["sqlite", "postgres"] = "sqlite"
    path: Name = Field(default=".slabridge/state.sqlite3", description="sqlite: the file")
    dsn: str | None = Field(default=None, description="postgres: a ${ENV_VAR} holding the "
                            "connection string (it may contain a password)")

    @model_validator(mode="after")
    def _check(self) -> Any:
        if self.kind == "postgres" and not (self.dsn and _ENV_REF.fullmatch(self.dsn.strip())):
            raise ValueError("state kind postgres needs dsn: ${ENV_VAR}")
        return self


class ChannelSettings(Strict):
    """Where escalations are sent: e-mail over SMTP or a JSON webhook."""

    kind: Literal["email", "webhook"]
    to: tuple[str, ...] = ()
    sender: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: str | None = Field(default=None, description="${ENV_VAR} reference")
    url: str | None = Field(default=None, description="webhook URL (may be ${ENV_VAR})")
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @model_validator(mode="after")
    def _check(self) -> Any:
        if self.kind == "email" and (not self.to or not self.sender):
            raise ValueError("an email channel needs `to` and `sender`")
        if self.kind == "webhook" and not self.url:
            raise ValueError("a webhook channel needs `url`")
        return self


class StepSettings(Strict):
    """One escalation step."""

    name: Name
    when: Literal["at_risk", "breached"]
    mention: tuple[str, ...] = ()
    watchers: tuple[str, ...] = ()
    raise_priority: str | None = None
    reassign: str | None = None
    notify: tuple[str, ...] = ()


class LadderRuleSettings(Strict):
    """Which ladder applies to which tiers and classes (empty lists: all)."""

    ladder: Name
    tiers: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()


class EscalationSettings(Strict):
    """Escalation ladders, the rules choosing them, and notification channels."""

    channels: dict[str, ChannelSettings] = {}
    ladders: dict[str, tuple[StepSettings, ...]] = {}
    rules: tuple[LadderRuleSettings, ...] = ()
    on_call_channel: str | None = Field(
        default=None, description="channel for critical escalations outside service hours "
        "on contracts with reachability_24x7",
    )


class HandlingSettings(Strict):
    """How the handling of each class is carried out in the tracker."""

    standard_critical: Literal["move", "mark"] = Field(
        default="mark", description="critical on Standard: move into the current sprint, or "
        "only mark it for the project manager",
    )
    redmine_sprint: Literal["current_dates", "default_version"] = Field(
        default="current_dates", description="Redmine's current sprint: the open version due "
        "soonest from today, or the project's default version",
    )


class HoursSettings(Strict):
    """Monthly statements: where each customer's statement is posted."""

    post_to: dict[str, str] = Field(
        default={}, description="customer -> 'project:IDENTIFIER' (Redmine wiki page) or "
        "'issue:KEY' (Jira comment)",
    )
    currency: str = "EUR"
    history_months: int = Field(default=24, ge=1, le=120,
                                description="how far back time entries are read")


class DaemonSettings(Strict):
    """`slabridge run`: how often to poll, when to reconcile, where to report health."""

    interval_seconds: int = Field(default=60, ge=5, le=86400)
    reconcile_at: Annotated[str, AfterValidator(_time_of_day)] = Field(
        default="02:30", description="local time (HH:MM) of the nightly full reconciliation")
    health_host: str = "127.0.0.1"
    health_port: int | None = Field(default=9464, ge=0, le=65535,
                                    description="port for /healthz and /metrics; null: off")
    unhealthy_after_cycles: int = Field(
        default=3, ge=1, description="/healthz fails when the last good cycle is older than "
        "this many intervals, or tracker writes failed in this many cycles in a row",
    )
    channel_unhealthy_after_seconds: int = Field(
        default=900, ge=0, description="/healthz fails when a notification channel has "
        "failed for longer than this")


def _env_only(text: str) -> str:
    # A password written into the file ends up in backups and repositories.
    if not _ENV_REF.fullmatch(text.strip()):
        raise ValueError("a password in the file: give it as ${ENV_VAR} and set that variable")
    return text.strip()


class WebSettings(Strict):
    """The web pages (board, customers, statements): who may read them, and where
    `slabridge web` listens (`slabridge run` serves them on the health listener)."""

    users: dict[Name, Annotated[str, AfterValidator(_env_only)]] = Field(
        default={}, description="user name -> ${ENV_VAR} holding the password (HTTP basic "
        "auth); without users the pages are served on a loopback address only")
    metrics_auth: bool = Field(default=False,
                               description="/metrics asks for the same credentials")
    host: str = Field(default="127.0.0.1", description="`slabridge web`: address to bind")
    port: int = Field(default=8464, ge=0, le=65535,
                      description="`slabridge web`: port (0: any free one)")

    @field_validator("metrics_auth")
    @classmethod
    def _users_to_check(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("users"):
            raise ValueError("metrics_auth needs web.users to check credentials against")
        return value


NOTE_KINDS = (
    "classified", "classified_at_risk", "classified_breached", "classified_met",
    "classified_no_target", "at_risk", "breached", "met", "escalation", "moved_to_sprint",
    "emergency", "emergency_over",
)


class Settings(Strict):
    """The whole configuration file."""

    calendars: dict[str, CalendarSettings]
    closures: tuple[ClosureSettings, ...] = ()
    ical_closures: tuple[str, ...] = ()
    classes: dict[str, IncidentClassSettings]
    tiers: dict[str, TierSettings]
    default_tier: str = "standard"
    sla: SlaSettings = SlaSettings()
    customers: dict[str, CustomerSettings] = {}
    classification: ClassificationSettings = ClassificationSettings()
    tracker: TrackerSettings | None = None
    notes: NotesSettings = NotesSettings()
    state: StateSettings = StateSettings()
    daemon: DaemonSettings = DaemonSettings()
    escalation: EscalationSettings = EscalationSettings()
    handling: HandlingSettings = HandlingSettings()
    hours: HoursSettings = HoursSettings()
    web: WebSettings = WebSettings()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, for editors (include is allowed at the top)."""
    schema = Settings.model_json_schema(by_alias=True)
    schema["properties"]["include"] = {
        "description": "files (relative to this one) or builtin names merged before this file",
        "type": "array",
        "items": {"type": "string"},
    }
    # Any file may be merged with others (include), so a mapping's keys may come from
    # another file: none is required of one file (`slabridge check` checks the merged
    # result). Lists replace what they override, so their items must be whole.
    _drop_required(schema, _defs_in_list_items(schema))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "slabridge configuration"
    return schema


def _defs_in_list_items(schema: dict[str, Any]) -> set[str]:
    """The $defs that describe list items, or anything within one."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def refs(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = {str(node["$ref"]).rsplit("/", 1)[-1]} if "$ref" in node else set()
            return found.union(*(refs(child) for child in node.values()))
        if isinstance(node, list):
            return set().union(*(refs(child) for child in node))
        return set()

    def items_anywhere(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = refs(node["items"]) if "items" in node else set()
            return found.union(*(items_anywhere(v) for k, v in node.items() if k != "items"))
        if isinstance(node, list):
            return set().union(*(items_anywhere(child) for child in node))
        return set()

    whole = items_anywhere(schema)
    todo = list(whole)
    while todo:  # and what those refer to
        for name in refs(defs.get(todo.pop(), {})) - whole:
            whole.add(name)
            todo.append(name)
    return whole


def _drop_required(node: Any, keep: set[str], inside_items: bool = False) -> None:
    if isinstance(node, dict):
        if not inside_items:
            node.pop("required", None)
        for key, child in node.items():
            if key == "$defs":
                for name, definition in child.items():
                    _drop_required(definition, keep, name in keep)
            else:
                _drop_required(child, keep, inside_items or key == "items")
    elif isinstance(node, list):
        for child in node:
            _drop_required(child, keep, inside_items)


# --- validation --------------------------------------------------------------------------


def _problems_from(error: ValidationError, source: Source) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        path: PathKey = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r}"
        elif item["type"] == "missing":
            message = "required key missing"
        problems.append(source.problem(message, path))
    return problems


def _cross_check(settings: Settings, source: Source) -> list[ConfigProblem]:
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
    if tracker is not None and tracker.api_key and not _ENV_REF.fullmatch(tracker.api_key.strip()):
        problems.append(source.problem(
            "secrets must not be written into the file: use ${ENV_VAR}", ("tracker", "api_key")
        ))
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


def _check_contract_changes(settings: Settings, source: Source) -> list[ConfigProblem]:
    """The sheet's rules for changing a flat fee and for raising prices (section 4)."""
    problems: list[ConfigProblem] = []
    for key, customer in settings.customers.items():
        ordered = sorted(enumerate(customer.contracts), key=lambda pair: pair[1].from_)
        for (_, before), (index, after) in itertools.pairwise(ordered):
            path = ("customers", key, "contracts", index)
            tier = settings.tiers.get(after.tier)
            if tier is None or tier.billing.model == "hourly":
                continue
            changed = (before.monthly_fee != after.monthly_fee
                       or before.included_hours != after.included_hours)
            if changed and tier.billing.fee_adjustment == "last_month_of_quarter":
                if after.from_.day != 1 or after.from_.month not in (1, 4, 7, 10):
                    problems.append(source.problem(
                        "a flat-fee change takes effect at the start of a quarter "
                        "(agreed in the quarter's last month)", (*path, "from")))
                elif after.agreed is not None and month_start(after.agreed, 1) != after.from_:
                    problems.append(source.problem(
                        "a flat-fee change must be agreed in the last month of the quarter "
                        "before it", (*path, "agreed")))
            increase = tier.billing.price_increase
            old_fee, new_fee = before.monthly_fee, after.monthly_fee
            if increase is None or old_fee is None or new_fee is None or new_fee <= old_fee:
                continue
            window = [c.monthly_fee for _, c in ordered
                      if c.monthly_fee is not None and c.from_ < after.from_
                      and c.from_ >= month_start(after.from_, -increase.lookback_months)]
            reference = max([*window, old_fee])
            if new_fee > reference * (1 + increase.max_increase):
                problems.append(source.problem(
                    f"price increase {new_fee} is more than {increase.max_increase:.0%} over "
                    f"the fees of the preceding {increase.lookback_months} months "
                    f"({reference})", (*path, "monthly_fee")))
            if after.announced is None:
                problems.append(source.problem(
                    "a price increase needs `announced`: the date of the written notice",
                    path))
            elif after.from_ < month_start(after.announced, increase.notice_months + 1):
                problems.append(source.problem(
                    f"a price increase takes effect at the earliest {increase.notice_months} "
                    f"months after the end of the month of notice "
                    f"({month_start(after.announced, increase.notice_months + 1)})",
                    (*path, "from")))
    return problems


def _check_escalation(settings: Settings, source: Source) -> list[ConfigProblem]:
    escalation = settings.escalation
    problems: list[ConfigProblem] = []
    for name, settings_of_channel in escalation.channels.items():
        password = settings_of_channel.password
        if password and not _ENV_REF.fullmatch(password.strip()):
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


def validate(source: Source) -> Settings:
    """Validate merged raw data; every problem is reported with file, line and path.

    All problems of one run together: those found while reading, the schema's, and the
    cross-checks (references between sections, contract rules). When the schema rejects
    some values, the cross-checks run on the rest if leaving the rejected values out keeps
    the references intact; their findings about rejected parts are left out.
    """
    problems = list(source.problems)
    skipped = list(source.invalid)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(source.data)
    except ValidationError as error:
        rejected = [tuple(item["loc"]) for item in error.errors()]
        problems += [p for p, loc in zip(_problems_from(error, source), rejected, strict=True)
                     if not _within(loc, skipped)]
        skipped += rejected
        unknown = {tuple(e["loc"]) for e in error.errors() if e["type"] == "extra_forbidden"}
        settings, untrusted = _validate_without(source.data, rejected, unknown)
        skipped += untrusted
    if settings is not None:
        problems += [p for p in _cross_check(settings, source)
                     if not any(_overlaps(p.path, dotted(loc)) for loc in skipped)]
    if problems:
        raise ConfigError(_in_file_order(problems, source))
    assert settings is not None  # noqa: S101 - no problems means the schema accepted it
    return settings


def _within(loc: PathKey, paths: list[PathKey]) -> bool:
    """Whether `loc` is one of `paths` or inside one."""
    return any(loc[: len(path)] == path for path in paths)


def _overlaps(path: str, other: str) -> bool:
    """Whether one dotted path is the other or inside it."""
    def inside(a: str, b: str) -> bool:
        return a == b or a.startswith((b + ".", b + "["))
    return bool(path) and (inside(path, other) or inside(other, path))


def _in_file_order(problems: list[ConfigProblem], source: Source) -> list[ConfigProblem]:
    """Problems by file (in reading order) and line; those without a line first."""
    order = {name: index for index, name in enumerate(source.files)}
    return sorted(problems, key=lambda p: (order.get(p.file or "", -1), p.line or 0))


PLACEHOLDERS: tuple[Any, ...] = (date(2000, 1, 1), "?", 1, 0, False, [], {})
"""Values tried for a rejected required field, so that the cross-checks can run."""


def _validate_without(
    data: dict[str, Any], rejected: list[PathKey], unknown: set[PathKey],
) -> tuple[Settings | None, list[PathKey]]:
    """The settings with the rejected values left out, if that leaves a valid whole whose
    names all still exist, and the paths whose cross-check findings are not to be trusted.

    Only fields of a section (their defaults apply) and `unknown` keys are left out, never
    a named entry (a tier, a customer) or a list item, which others may refer to; a
    required field gets a placeholder, and the findings about the list or section holding
    it are left out.
    """
    if len(rejected) > MAX_PRUNED or not all(
        loc in unknown or _is_model_field(loc) for loc in rejected
    ):
        return None, []
    pruned = copy.deepcopy(data)
    for loc in rejected:
        _parent(pruned, loc).pop(str(loc[-1]), None)
    untrusted: list[PathKey] = []
    for loc in rejected:
        try:
            return Settings.model_validate(pruned), untrusted
        except ValidationError as error:
            if loc not in [tuple(e["loc"]) for e in error.errors() if e["type"] == "missing"]:
                continue
        untrusted.append(loc[:-2] if len(loc) > 1 and isinstance(loc[-2], int) else loc[:-1])
        for placeholder in PLACEHOLDERS:
            _parent(pruned, loc)[str(loc[-1])] = placeholder
            try:
                Settings.model_validate(pruned)
            except ValidationError as error:
                if loc in [tuple(e["loc"]) for e in error.errors()]:
                    continue
            break
    try:
        return Settings.model_validate(pruned), untrusted
    except ValidationError:
        return None, []


MAX_PRUNED = 20


def _parent(data: dict[str, Any], loc: PathKey) -> dict[str, Any]:
    """The mapping that holds the value at `loc` (a field of a section, see _is_model_field)."""
    parent: Any = data
    for part in loc[:-1]:
        parent = parent[part]
    assert isinstance(parent, dict)  # noqa: S101 - the value of a section is a mapping
    return parent


def _is_model_field(loc: PathKey) -> bool:
    """Whether `loc` names a field of a settings section (not a mapping entry or list item)."""
    kind: Any = Settings
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        kind = _unwrap(kind, part)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            fields = {(f.alias or name): f for name, f in kind.model_fields.items()}
            if not isinstance(part, str) or part not in fields:
                return False
            if last:
                return True
            kind = fields[part].annotation
        elif get_origin(kind) is dict and isinstance(part, str):
            kind = get_args(kind)[1]
        elif get_origin(kind) in (tuple, list) and isinstance(part, int):
            kind = get_args(kind)[0]
        else:
            return False
        if last:
            return False
    return False


def _unwrap(kind: Any, part: str | int) -> Any:
    """The one member of an optional type that can hold `part` (a key or an index)."""
    if get_origin(kind) in (Union, UnionType):
        members = [m for m in get_args(kind) if m is not type(None)]
        fitting = [m for m in members if (
            isinstance(m, type) and issubclass(m, BaseModel) and isinstance(part, str)
        ) or (get_origin(m) is dict and isinstance(part, str))
            or (get_origin(m) in (tuple, list) and isinstance(part, int))]
        return fitting[0] if len(fitting) == 1 else None
    return kind


def env_variables(value: str) -> list[str]:
    """The environment variables a config value names as ${VAR}, in order."""
    return _ENV_REF.findall(value)


def expand_env(value: str, path: PathKey, source: Source, environ: dict[str, str]) -> str:
    """`value` with every ${VAR} replaced from the environment; missing ones (all named)
    are a ConfigError."""
    missing = [name for name in env_variables(value) if not environ.get(name)]
    if len(missing) == 1:
        raise ConfigError([source.problem(
            f"environment variable {missing[0]} is not set (or empty)", path)])
    if missing:
        raise ConfigError([source.problem(
            f"environment variables {', '.join(missing)} are not set (or empty)", path)])
    return _ENV_REF.sub(lambda m: environ[m.group(1)], value)
