"""Loading configuration: includes, overrides, and one clear located message per mistake."""

from __future__ import annotations

from pathlib import Path

import jsonschema  # type: ignore[import-untyped]  # its stubs upset openapi-core's types
import pytest
import yaml

from slabridge.config.loader import find_config_path, load_config
from slabridge.config.schema import json_schema
from slabridge.errors import ConfigError
from tests.conftest import vienna


def write(tmp_path: Path, text: str, name: str = "slabridge.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_user_file_overrides_one_value(tmp_path: Path) -> None:
    """Overriding one target keeps every other term of the shipped sheet."""
    path = write(tmp_path, "tiers:\n  advanced:\n    classes:\n      critical: {response: 3h}\n")
    config = load_config(path)
    assert config.response_due("advanced", "critical", vienna(2026, 11, 23, 9)) == vienna(
        2026, 11, 23, 12
    )
    assert config.tier("advanced").classes["critical"].handling == "fastlane"
    assert config.response_due("premium", "critical", vienna(2026, 11, 23, 9)) == vienna(
        2026, 11, 23, 11
    )


def test_empty_include_starts_from_scratch(tmp_path: Path) -> None:
    """include: [] drops the shipped terms, so required sections are missing."""
    path = write(tmp_path, "include: []\n")
    assert problems(path)[0] == f"{path}: at calendars: required key missing"


def test_include_relative_file(tmp_path: Path) -> None:
    """A user file may include other files next to it; later files win."""
    write(tmp_path, "default_tier: advanced\n", "base.yaml")
    path = write(tmp_path, "include: [contract-terms, base.yaml]\n")
    assert load_config(path).settings.default_tier == "advanced"


def test_missing_include(tmp_path: Path) -> None:
    """An include that does not exist is named."""
    path = write(tmp_path, "include: [nothere.yaml]\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:1: at include: included file 'nothere.yaml' not found")


def test_bad_duration_has_file_line_and_path(tmp_path: Path) -> None:
    """The whole message: file, line, dotted path and what to write instead."""
    path = write(tmp_path, "tiers:\n  advanced:\n    classes:\n      critical: {response: 4x}\n")
    assert problems(path) == [
        f"{path}:4: at tiers.advanced.classes.critical.response: '4x' is not a duration: "
        "use a number and a unit, e.g. 90m, 2h, 1.5d"
    ]


def test_duration_without_unit(tmp_path: Path) -> None:
    """A bare number is ambiguous and refused."""
    path = write(tmp_path, "tiers:\n  premium:\n    classes:\n      minor: {response: 4}\n")
    assert problems(path) == [
        f"{path}:4: at tiers.premium.classes.minor.response: 4 has no unit: write e.g. 4h or 4d"
    ]


def test_window_ending_before_it_starts(tmp_path: Path) -> None:
    """Windows must run forwards."""
    path = write(tmp_path, 'calendars:\n  office:\n    windows:\n      mon-fri: ["16:00-09:00"]\n')
    assert problems(path) == [
        f"{path}:4: at calendars.office.windows.mon-fri[0]: window '16:00-09:00' ends before "
        "it starts"
    ]


def test_unknown_time_zone(tmp_path: Path) -> None:
    """Time zones are IANA names."""
    path = write(tmp_path, "calendars:\n  office:\n    timezone: Europe/Vienn\n")
    assert problems(path) == [
        f"{path}:3: at calendars.office.timezone: unknown time zone 'Europe/Vienn' "
        "(use an IANA name like Europe/Vienna)"
    ]


def test_unknown_holiday_country(tmp_path: Path) -> None:
    """Holiday countries are checked against the holidays package."""
    path = write(tmp_path, "calendars:\n  office:\n    holidays: {country: XX}\n")
    assert problems(path) == [
        f"{path}:3: at calendars.office.holidays: unknown holiday country 'XX' "
        "(ISO code, e.g. AT, DE)"
    ]


def test_unknown_key(tmp_path: Path) -> None:
    """Typos in keys are errors, not silently ignored."""
    path = write(tmp_path, "sla:\n  at_rsk: 0.5\n")
    assert problems(path) == [f"{path}:2: at sla.at_rsk: unknown key 'at_rsk'"]


def test_contract_with_unknown_tier(tmp_path: Path) -> None:
    """A contract must name a configured tier."""
    path = write(
        tmp_path,
        "customers:\n  acme:\n    contracts:\n      - tier: gold\n        from: 2026-01-01\n",
    )
    assert problems(path) == [
        f"{path}:4: at customers.acme.contracts[0].tier: unknown tier 'gold': "
        "one of ['advanced', 'premium', 'standard']"
    ]


def test_wrong_type(tmp_path: Path) -> None:
    """A list where a mapping belongs is reported at its path."""
    path = write(tmp_path, "customers: [acme]\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:1: at customers: ")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    """Broken YAML names the line."""
    path = write(tmp_path, "sla:\n  at_risk: [0.5\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:3: not valid YAML: ")


def test_duplicate_key(tmp_path: Path) -> None:
    """YAML would keep the last of two equal keys; we refuse."""
    path = write(tmp_path, "default_tier: standard\ndefault_tier: premium\n")
    assert problems(path) == [f"{path}:2: at default_tier: duplicate key 'default_tier'"]


def test_secret_written_in_clear(tmp_path: Path) -> None:
    """API keys may only be ${ENV_VAR} references."""
    path = write(
        tmp_path,
        "tracker:\n  kind: redmine\n  url: http://127.0.0.1:3000\n  api_key: abc123\n",
    )
    assert problems(path) == [
        f"{path}:4: at tracker.api_key: secrets must not be written into the file: use ${{ENV_VAR}}"
    ]


def test_at_risk_as_percentage(tmp_path: Path) -> None:
    """75% and 0.75 mean the same."""
    path = write(tmp_path, "sla:\n  at_risk: 80%\n")
    assert load_config(path).policy.at_risk_fraction == pytest.approx(0.8)


def test_bad_closure(tmp_path: Path) -> None:
    """A closure needs exactly one kind of range."""
    path = write(tmp_path, "closures:\n  - name: x\n")
    assert problems(path) == [
        f"{path}:2: at closures[0]: a closure needs exactly one of: yearly, easter, dated"
    ]


def test_dated_and_ical_closures(tmp_path: Path) -> None:
    """One-off closures and iCalendar all-day events close Standard's calendar."""
    (tmp_path / "closures.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Company outing\r\nDTSTART;VALUE=DATE:20261127\r\n"
        "DTEND;VALUE=DATE:20261128\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        encoding="utf-8",
    )
    path = write(
        tmp_path,
        "closures:\n"
        "  - {name: Christmas closure, yearly: {from: '12-24', to: '01-07'}}\n"
        "  - {name: Office move, dated: {from: 2026-11-24, to: 2026-11-25}}\n"
        "ical_closures: [closures.ics]\n",
    )
    config = load_config(path)
    # Standard, Mon 23 Nov 14:00 + 8h: 2h Mon, Tue-Wed closed (office move), 6h Thu.
    assert config.response_due("standard", "critical", vienna(2026, 11, 23, 14)) == vienna(
        2026, 11, 26, 15
    )
    # Thu 26 Nov 14:00 + 8h: 2h Thu, Fri closed (company outing from the .ics), 6h Mon.
    assert config.response_due("standard", "critical", vienna(2026, 11, 26, 14)) == vienna(
        2026, 11, 30, 15
    )
    calendar = config.tier("standard").calendar
    assert calendar.day_off(vienna(2026, 11, 27).date()) is not None
    # Advanced ignores closures.
    assert config.response_due("advanced", "critical", vienna(2026, 11, 23, 14)) == vienna(
        2026, 11, 24, 11
    )


def test_days_must_have_equal_length_or_service_day(tmp_path: Path) -> None:
    """With a short Friday, '1d' is ambiguous until service_day says how long a day is."""
    text = (
        "calendars:\n  office:\n    windows:\n      mon-thu: ['09:00-16:00']\n"
        "      fri: ['09:00-12:00']\n"
    )
    path = write(tmp_path, text)
    (message,) = problems(path)
    assert "service_day" in message and "at calendars.office" in message
    fixed = write(tmp_path, text + "    service_day: 7h\n", "fixed.yaml")
    assert load_config(fixed).tier("advanced").calendar.service_day_us == 7 * 3600 * 10**6


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config beats $SLABRIDGE_CONFIG beats ./slabridge.yaml beats the shipped defaults."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLABRIDGE_CONFIG", raising=False)
    assert find_config_path(None) is None
    write(tmp_path, "{}\n")
    assert find_config_path(None) == Path("slabridge.yaml")
    (tmp_path / "env.yaml").write_text("{}\n")
    (tmp_path / "mine.yaml").write_text("{}\n")
    monkeypatch.setenv("SLABRIDGE_CONFIG", str(tmp_path / "env.yaml"))
    assert find_config_path(None) == tmp_path / "env.yaml"
    assert find_config_path("mine.yaml") == Path("mine.yaml")


def test_a_named_config_that_is_not_there_says_who_named_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing file is reported with where its name came from; SLABRIDGE_CONFIG's says
    how the container image expects it (a forgotten mount is the usual cause)."""
    monkeypatch.setenv("SLABRIDGE_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError) as named_by_env:
        find_config_path(None)
    assert str(named_by_env.value) == (
        f"{tmp_path / 'gone.yaml'}: file not found (named by SLABRIDGE_CONFIG; the container "
        "image names /etc/slabridge/slabridge.yaml: mount the folder holding your "
        "slabridge.yaml at /etc/slabridge)")
    with pytest.raises(ConfigError, match=r"file not found \(given by --config\)"):
        find_config_path(str(tmp_path / "typo.yml"))


def test_json_schema_describes_the_file() -> None:
    """The schema names the top-level sections and forbids unknown keys."""
    schema = json_schema()
    assert {"calendars", "tiers", "customers", "classification", "include"} <= set(
        schema["properties"]
    )
    assert schema["additionalProperties"] is False


def test_json_schema_accepts_the_shipped_files_and_partial_overrides() -> None:
    """An editor using `slabridge schema` must not flag what the loader accepts: the
    shipped files (at_risk written as 75%), and a file overriding one key of an included
    section (as `make demo` writes: tracker.receipt_field alone)."""
    validator = jsonschema.Draft202012Validator(json_schema())
    root = Path(__file__).parents[2]
    files = [*sorted(root.joinpath("config").glob("*.yaml")),
             root / "slabridge" / "config" / "defaults" / "contract-terms.yaml"]
    for path in files:
        # Dates as editors read them: text, not YAML's date objects.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextDates)  # noqa: S506 - a SafeLoader
        assert [e.message for e in validator.iter_errors(data)] == [], path
    partial = {"include": ["slabridge.example.yaml"],
               "tracker": {"receipt_field": "Incident received"},
               "sla": {"at_risk": "80%"}}
    assert list(validator.iter_errors(partial)) == []
    for share in ("lots", "150%", "0%", "100%"):
        wrong = [e.message for e in validator.iter_errors({"sla": {"at_risk": share}})]
        assert len(wrong) == 1 and f"'{share}' is not valid" in wrong[0], share
    for fine in ("75%", "0.5%", "99.9%", 0.75):
        assert list(validator.iter_errors({"sla": {"at_risk": fine}})) == [], fine
    # List items replace what they override, so they must be whole: a class rule needs
    # its class, as the loader says.
    rule_without_class = {"classification": {"classes": [{"match": {"priority": "Low"}}]}}
    assert [e.message for e in validator.iter_errors(rule_without_class)] == [
        "'class' is a required property"]


class _TextDates(yaml.SafeLoader):
    """YAML with dates left as text."""


_TextDates.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def test_shipped_example_configs_are_valid() -> None:
    """Every example under config/ loads."""
    examples = sorted(Path(__file__).parents[2].joinpath("config").glob("*.yaml"))
    assert examples
    for example in examples:
        load_config(example)


def test_scope_fingerprint_follows_projects_rules_and_fields(tmp_path: Path) -> None:
    """The scope that makes the next cycle full: projects, rules and the fields written
    (a misspelt field name was found only by the next full cycle, hours later)."""
    tracker = ("tracker:\n  kind: redmine\n  url: http://127.0.0.1:1\n  projects: [acme]\n"
               "{extra}")

    def fingerprint(extra: str) -> str:
        return load_config(write(tmp_path, tracker.format(extra=extra))).scope_fingerprint()

    plain = fingerprint("")
    assert fingerprint("") == plain
    assert fingerprint("  fields:\n    sla_status: SLA state\n") != plain
    assert fingerprint("  receipt_field: Received\n") != plain
    assert fingerprint("  timeout_seconds: 10\n") == plain
