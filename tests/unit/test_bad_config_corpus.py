"""The corpus of broken configs: each gives exit 2 and one located line, never a traceback.

Every file in tests/corpus/bad_configs/ named `NN-short-name.yaml` holds one mistake and
says what to expect in its leading comment lines:

    # expect: a substring of the message
    # at: the dotted path (empty: the message names none)
    # line: the line number (empty: the message names none)
    # command: the command to run instead of `check` (optional)
    # unset: environment variables removed for the run (optional, comma-separated)
    # secret: a value written in the file that must not be echoed (optional)
    # defect: a slabridge bug this case shows (optional: the case is an expected failure
    #         until the bug is fixed, and then fails as XPASS so the header gets removed)
    # then: a further problem line, whole, after `slabridge: error: FILE` (optional,
    #       repeatable: a file with several mistakes gives all of them, one line each, in
    #       the order of the file)

A case yields exactly one problem line, or one plus one per `then:` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from slabridge.cli.main import run

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bad_configs"
CASE_NAME = re.compile(r"^\d{2}-[a-z0-9]+(?:-[a-z0-9]+)*\.yaml$")
HEADER = re.compile(r"^#\s*(expect|at|line|command|unset|secret|defect|then):(.*)$")
ERROR_PREFIX = "slabridge: error: "


@dataclass(frozen=True)
class Case:
    """One corpus file and what it must produce."""

    path: Path
    expect: str
    at: str
    line: int | None
    command: tuple[str, ...]
    unset: tuple[str, ...]
    secret: str
    defect: str
    then: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        """The start every problem line of this case must have: file, line, dotted path."""
        where = str(self.path) + (f":{self.line}" if self.line is not None else "")
        return f"{ERROR_PREFIX}{where}:" + (f" at {self.at}: " if self.at else " ")


def read_case(path: Path) -> Case:
    """The expectations in the leading comment lines of a corpus file."""
    headers: dict[str, str] = {}
    then: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.startswith("#"):
            break
        match = HEADER.match(raw)
        if match is not None and match.group(1) == "then":
            then.append(match.group(2).strip())
        elif match is not None:
            headers[match.group(1)] = match.group(2).strip()
    line = headers.get("line", "")
    return Case(
        path=path,
        expect=headers.get("expect", ""),
        at=headers.get("at", ""),
        line=int(line) if line else None,
        command=tuple((headers.get("command") or "check").split()),
        unset=tuple(v.strip() for v in headers.get("unset", "").split(",") if v.strip()),
        secret=headers.get("secret", ""),
        defect=headers.get("defect", ""),
        then=tuple(then),
    )


PATHS = sorted(CORPUS.glob("*.yaml"))
CASES = [read_case(path) for path in PATHS if CASE_NAME.match(path.name)]


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.defect)] if case.defect else []
    return pytest.param(case, id=case.path.stem, marks=marks)


def run_case(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> tuple[int, str, str]:
    """Run the case's command; the working directory is empty, the variables unset."""
    monkeypatch.chdir(tmp_path)  # anything a command might create stays out of the repo
    monkeypatch.delenv("SLABRIDGE_CONFIG", raising=False)
    for name in case.unset:
        monkeypatch.delenv(name, raising=False)
    code = run(["--config", str(case.path), *case.command])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_config_gives_one_located_line(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Exit 2, one `slabridge: error:` line per mistake with file, line, dotted path and the
    message."""
    code, out, err = run_case(case, capsys, monkeypatch, tmp_path)
    assert "Traceback" not in out + err
    assert code == 2, err
    line, *more = err.splitlines()
    assert line.startswith(case.location), f"{line!r} does not start with {case.location!r}"
    assert case.expect in line
    assert more == [f"{ERROR_PREFIX}{case.path}{then}" for then in case.then]
    if case.secret:
        assert case.secret not in out + err


def test_corpus_has_enough_cases() -> None:
    """At least 35 broken configs, every file a case, numbers unique, expectations given."""
    assert len(CASES) >= 35
    assert [path.name for path in PATHS if not CASE_NAME.match(path.name)] == []
    numbers = [case.path.name[:2] for case in CASES]
    assert len(set(numbers)) == len(numbers)
    for case in CASES:
        assert case.expect, f"{case.path.name}: no `# expect:` line"
        text = case.path.read_text(encoding="utf-8")
        assert text.startswith("# expect: "), case.path.name
        assert "\n# at:" in text and "\n# line:" in text, case.path.name


def test_include_cycle_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """Until its location is right (see the case's defect line), a cycle still exits 2 cleanly."""
    (case,) = [c for c in CASES if c.path.name.endswith("-include-cycle.yaml")]
    code, out, err = run_case(case, capsys, monkeypatch, tmp_path)
    assert "Traceback" not in out + err
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith(ERROR_PREFIX)
    assert case.expect in line


@pytest.mark.parametrize("case", [c for c in CASES if c.unset], ids=lambda c: c.path.stem)
def test_missing_secret_is_reported_only_when_the_tracker_is_built(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The missing-variable cases are valid files: `check` passes, `sync` names them."""
    assert case.command[0] == "sync"
    code, out, err = run_case(
        Case(case.path, "", "", None, ("check",), case.unset, "", ""), capsys, monkeypatch,
        tmp_path,
    )
    assert (code, err) == (0, "")
    assert out.startswith("configuration OK")
