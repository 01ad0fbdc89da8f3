"""The command line: output, JSON shapes and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slabridge.cli.main import run


def test_due_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object with tier, class, received, response_due and target."""
    code = run(["due", "--tier", "advanced", "--class", "critical",
                "--at", "2026-11-20T14:00:00+01:00", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {k: data[k] for k in ("tier", "class", "received", "response_due", "target")} == {
        "tier": "advanced",
        "class": "critical",
        "received": "2026-11-20T14:00:00+01:00",
        "response_due": "2026-11-23T11:00:00+01:00",
        "target": "4h",
    }


def test_due_json_without_target(capsys: pytest.CaptureFixture[str]) -> None:
    """Where the tier sets no target, response_due and target are null."""
    assert run(["due", "--tier", "standard", "--class", "minor", "--at", "2026-11-20T13:00:00Z",
                "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["response_due"], data["target"]) == (None, None)


def test_due_text(capsys: pytest.CaptureFixture[str]) -> None:
    """The text form leads with the due time."""
    assert run(["due", "--tier", "premium", "--class", "critical",
                "--at", "2026-11-20T13:00:00Z"]) == 0
    assert capsys.readouterr().out.startswith("2026-11-20T16:00:00+01:00")


def test_due_by_customer(capsys: pytest.CaptureFixture[str]) -> None:
    """--customer uses the tier of the customer's contract at the receipt time."""
    assert run(["--config", "config/slabridge.example.yaml", "due", "--customer", "globex",
                "--class", "critical", "--at", "2026-11-20T13:00:00Z", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tier"] == "premium"


@pytest.mark.parametrize("at", ["2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00Z"])
def test_due_by_customer_takes_the_contract_day_in_local_time(
    at: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """00:30 in Vienna on a contract's first day is under it, however the time is written.

    (It is still the day before in UTC: the contract was looked up by that day.)
    """
    assert run(["--config", "config/slabridge.example.yaml", "due", "--customer", "acme",
                "--class", "critical", "--at", at, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["tier"], data["response_due"]) == ("advanced", "2026-01-02T13:00:00+01:00")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["due", "--tier", "gold", "--class", "critical", "--at", "2026-11-20T14:00:00Z"],
         "slabridge: error: unknown tier 'gold': one of standard, advanced, premium\n"),
        (["due", "--tier", "advanced", "--class", "major", "--at", "2026-11-20T14:00:00Z"],
         "slabridge: error: unknown incident class 'major': one of critical, minor, trivial\n"),
        (["due", "--tier", "advanced", "--class", "critical", "--at", "2026-11-20T14:00:00"],
         "slabridge: error: --at '2026-11-20T14:00:00' has no offset: add one, e.g. +01:00 or "
         "Z, so the time is unambiguous\n"),
        (["due", "--tier", "advanced", "--class", "critical", "--at", "yesterday"],
         "slabridge: error: --at 'yesterday' is not an ISO 8601 time, e.g. "
         "2026-11-20T14:00:00+01:00\n"),
        (["due", "--class", "critical", "--at", "2026-11-20T14:00:00Z"],
         "slabridge: error: give --tier or --customer\n"),
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad input is one line on stderr and exit code 2, never a traceback."""
    assert run(argv) == 2
    assert capsys.readouterr().err == message


@pytest.mark.parametrize("command", [["sync", "--once"], ["run"]])
def test_an_unknown_log_level_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """Not a KeyError and 'internal error' (exit 3), as `sync --log-level verbose` gave."""
    with pytest.raises(SystemExit) as exit_:
        run([*command, "--log-level", "verbose"])
    assert exit_.value.code == 2
    assert "--log-level: invalid choice: 'VERBOSE'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--config", "config/slabridge.example.yaml", "check", "--json"],
     ["check", "--config", "config/slabridge.example.yaml", "--json"],
     ["--config", "missing.yaml", "check", "--config", "config/slabridge.example.yaml",
      "--json"]],
)
def test_config_before_or_after_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --config X` works as `--config X check` does (it said 'unrecognized
    arguments'); given twice, the one after the command counts."""
    assert run(argv) == 0
    assert "slabridge.example.yaml" in json.loads(capsys.readouterr().out)["files"][-1]


def test_bad_config_exits_2(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken config file is reported with its location, exit 2."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.yaml"
    path.write_text("sla:\n  at_risk: 2\n", encoding="utf-8")
    assert run(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"slabridge: error: {path}:2: at sla.at_risk: ")
    assert "Traceback" not in err


def test_terms_json(capsys: pytest.CaptureFixture[str]) -> None:
    """terms --json lists all nine cells."""
    assert run(["terms", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 9
    assert {"tier": "premium", "class": "minor", "target": "1.5d"}.items() <= rows[7].items()
    assert rows[7]["target_service_hours"] == 15


def test_terms_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The text table shows day targets with their hours."""
    assert run(["terms"]) == 0
    out = capsys.readouterr().out
    assert "advanced   minor     3d (21h)" in out


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    """check --json reports ok and what was loaded."""
    assert run(["--config", "config/slabridge.example.yaml", "check", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["customers"] == 3


def test_check_names_the_environment_variables_and_the_unset_ones(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check` is about the file, so unset secrets do not fail it; it still says which
    ${VAR}s the file names and which are not set, before `run` fails on them."""
    monkeypatch.setenv("REDMINE_URL", "http://127.0.0.1:3000")
    monkeypatch.delenv("REDMINE_API_KEY", raising=False)
    assert run(["--config", "config/slabridge.example.yaml", "check"]) == 0
    line = [row for row in capsys.readouterr().out.splitlines() if "environment:" in row]
    assert line == ["  environment: REDMINE_URL, REDMINE_API_KEY (not set here: "
                    "REDMINE_API_KEY; sync, run and doctor need them)"]
    assert run(["--config", "config/slabridge.example.yaml", "check", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["environment"], data["environment_unset"]) == (
        ["REDMINE_URL", "REDMINE_API_KEY"], ["REDMINE_API_KEY"])


def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    """schema prints a JSON Schema document."""
    assert run(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "slabridge configuration"


def test_python_dash_m_help() -> None:
    """python -m slabridge --help lists the commands."""
    result = subprocess.run([sys.executable, "-m", "slabridge", "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("check", "schema", "terms", "due"):
        assert command in result.stdout
