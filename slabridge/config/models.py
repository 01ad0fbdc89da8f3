"""The configuration's sections as frozen pydantic models (the file's schema)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import holidays
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from slabridge.config.environment import ENV_REF
from slabridge.config.values import (
    DurationText,
    Money,
    Month,
    MonthDay,
    Name,
    Share,
    TimeZoneName,
    WindowText,
    check_duration,
    check_time_of_day,
    parse_window,
    weekday_keys,
)
from slabridge.domain.calendar import WEEKDAYS, Window
from slabridge.domain.model import Handling


class Strict(BaseModel):
    """Base: unknown keys are errors and settings never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)



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
            for day in weekday_keys(key):
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


class ClassTermsSettings(BaseModel):
    """A tier's promise for one class: the response, the handling, and the targets of the
    metrics declared under sla.metrics (e.g. `resolution: 2d`, in the tier's service time)."""

    model_config = ConfigDict(extra="allow", frozen=True, json_schema_extra={
        "additionalProperties": {
            "type": "string",
            "description": "the target of a metric declared under sla.metrics, e.g. 2d"}})

    response: DurationText | None
    handling: Handling

    @model_validator(mode="after")
    def _metric_targets_are_durations(self) -> ClassTermsSettings:
        for name, text in (self.__pydantic_extra__ or {}).items():
            try:
                check_duration(text)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return self

    @property
    def metrics(self) -> dict[str, str]:
        """Metric name -> target text (the keys beside response and handling)."""
        return {name: str(text).strip() for name, text in (self.__pydantic_extra__ or {}).items()}


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


class MetricSettings(Strict):
    """A clock beyond the response (e.g. resolution): from receipt until a stop status."""

    label: str | dict[str, str] = Field(
        default="", description="how notes name it, or names by notes language")
    stop_statuses: tuple[Name, ...] = Field(
        min_length=1, description="entering one of these stops the clock (e.g. Resolved)")
    pause_statuses: tuple[str, ...] | None = Field(
        default=None, description="statuses the clock pauses in; null: sla.pause_statuses")
    on_reopen: Literal["continue", "restart"] = Field(
        default="continue",
        description="a reopened issue: continue counting (the stopped time not), or restart "
                    "with the full target")


class SlaSettings(Strict):
    """Clock rules shared by all tiers."""

    at_risk: Share = 0.75
    pause_statuses: tuple[str, ...] = ()
    acceptance: AcceptanceSettings = AcceptanceSettings()
    metrics: dict[str, MetricSettings] = Field(
        default={}, description="clocks beyond the response, by name (e.g. resolution); "
                                "their targets go beside response in tiers.<tier>.classes")


class MetricFieldSettings(Strict):
    """The fields one metric is written to (either may be left out)."""

    due: str | None = Field(default=None, description="its due time (Text, ISO 8601 UTC)")
    status: str | None = Field(default=None, description="its status (Text)")


class FieldNameSettings(Strict):
    """Names of the tracker fields slabridge writes (created by the setup script)."""

    response_due: Name = "SLA response due"
    response_due_date: Name = "SLA response due date"
    sla_class: Name = "SLA class"
    sla_status: Name = "SLA status"
    sla_handling: str | None = Field(
        default="SLA handling", description="how the contract says to handle it; null: skip",
    )
    metrics: dict[str, MetricFieldSettings] = Field(
        default={}, description="fields per metric of sla.metrics (Redmine; on Jira without "
                                "fields the issue property holds every metric)")

    def roles(self) -> dict[str, str | None]:
        """Field role -> field name, the metrics' as `<metric>_due` and `<metric>_status`."""
        roles: dict[str, str | None] = self.model_dump(exclude={"metrics"})
        for metric, names in self.metrics.items():
            roles[f"{metric}_due"] = names.due
            roles[f"{metric}_status"] = names.status
        return roles


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

    @field_validator("url", "api_key", "email")
    @classmethod
    def _references_well_formed(cls, value: str | None) -> str | None:
        # A `$REDMINE_URL` or an unclosed `${REDMINE_URL` would be sent as it stands and
        # fail later as a baffling URL or a refused key.
        if value is not None and "$" in ENV_REF.sub("", value):
            raise ValueError(f"{value!r} holds a `$` that is no ${{VAR}} reference: write "
                             "environment variables as ${NAME}, e.g. ${REDMINE_URL}")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not ENV_REF.match(value) and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL (e.g. "
                             "https://redmine.example.com, or ${REDMINE_URL})")
        return value


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
        if self.kind == "postgres" and not (self.dsn and ENV_REF.fullmatch(self.dsn.strip())):
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
    metric: Name = Field(default="response",
                         description="the clock whose status reaches the step (sla.metrics)")


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
    reconcile_at: Annotated[str, AfterValidator(check_time_of_day)] = Field(
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
    if not ENV_REF.fullmatch(text.strip()):
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


