"""Refresh the vendored Jira OpenAPI descriptions from Atlassian's published files.

Usage (from the repository root)::

    .venv/bin/python -m tests.jira_openapi.refresh_specs            # download both
    .venv/bin/python -m tests.jira_openapi.refresh_specs --from DIR # files already downloaded
    .venv/bin/python -m tests.jira_openapi.refresh_specs platform --snapshot "late 2025"

Each file is checked (JSON, OpenAPI 3, the paths the adapter uses), gzipped reproducibly
into ``tests/jira_openapi/specs/`` and recorded in ``specs/sources.json`` (URL, snapshot,
``info.version``, path count, sha256 of the JSON); ``specs/README.md`` is rewritten from
that record. Afterwards run the Jira tests: a new description may reject a request.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

SPECS: Final = Path(__file__).resolve().parent / "specs"
SOURCES: Final = {
    "platform": ("jira-platform-v3.openapi.json",
                 "https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json",
                 ("/rest/api/3/search/jql", "/rest/api/3/issue/{issueIdOrKey}",
                  "/rest/api/3/worklog/updated", "/rest/api/3/worklog/list")),
    "agile": ("jira-software-agile.openapi.json",
              "https://developer.atlassian.com/cloud/jira/software/swagger.v3.json",
              ("/rest/agile/1.0/board/{boardId}/sprint",
               "/rest/agile/1.0/sprint/{sprintId}/issue")),
}
TIMEOUT_SECONDS: Final = 120


def fetch(url: str) -> bytes:
    """The published file's bytes."""
    if not url.startswith("https://"):
        raise ValueError(f"not an https URL: {url}")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - https only
        data: bytes = answer.read()
    return data


def checked(name: str, raw: bytes, wanted_paths: tuple[str, ...]) -> dict[str, Any]:
    """The parsed description; raises ValueError if it is not what the tests need."""
    document = json.loads(raw)
    if not str(document.get("openapi", "")).startswith("3."):
        raise ValueError(f"{name}: not an OpenAPI 3 description")
    missing = [p for p in wanted_paths if p not in document.get("paths", {})]
    if missing:
        raise ValueError(f"{name}: lacks paths the adapter uses: {', '.join(missing)}")
    return dict(document)


def write(name: str, raw: bytes) -> None:
    """Gzip the file into specs/ (no name or time in the header: the same input, same bytes)."""
    with (SPECS / f"{name}.gz").open("wb") as target, \
            gzip.GzipFile(filename="", mode="wb", fileobj=target, compresslevel=9,
                          mtime=0) as packed:
        packed.write(raw)


def readme(entries: list[dict[str, Any]]) -> str:
    """specs/README.md, from the recorded sources."""
    rows = "\n".join(
        f"| `{e['file']}.gz` | {e['url']} | {e['snapshot']} | `{e['version']}` | {e['paths']} "
        f"| `{e['sha256']}` |" for e in entries)
    return f"""# Atlassian's OpenAPI descriptions of Jira (vendored)

The tests check every request the Jira adapter sends against these files
(`tests/jira_openapi/validator.py`) and generate Jira answers from their schemas
(`tests/jira_openapi/test_robustness.py`). They are Atlassian's published files, gzipped,
unchanged (the validator patches a few defects in memory at load time, see its docstring).
Atlassian publishes them under the Apache 2.0 licence (`info.license` in each file).

| file | source | snapshot | `info.version` | paths | sha256 of the JSON |
|---|---|---|---|---|---|
{rows}

Refresh with `.venv/bin/python -m tests.jira_openapi.refresh_specs` (it downloads both,
checks them, rewrites this file and `sources.json`), then run `make test`.
`sources.json` holds the same record; `test_vendored_specs.py` checks the files against it.

Known quirks:
- Response examples are stored as JSON *strings* (about 720 in the platform file, 41 in the
  agile file); `fixtures.py` decodes them.
- The agile operations declare OAuth2 only and the platform file allows anonymous access:
  the validator drops security requirements.
- The comment `body` has no type in the schema; the validator checks ADF (v3) and wiki
  markup (v2) itself.
- The platform file fails strict spec validation (a `''` default outside its enum).
"""


def main(argv: list[str] | None = None) -> int:
    """Download (or copy), check, gzip and record the chosen descriptions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("which", nargs="*", help=f"any of {', '.join(SOURCES)} (default: all)")
    parser.add_argument("--from", dest="source_dir", type=Path,
                        help="read the .json files from this directory instead of downloading")
    parser.add_argument("--snapshot", help="what to record as the snapshot (default: today)")
    args = parser.parse_args(argv)
    unknown = [w for w in args.which if w not in SOURCES]
    if unknown:
        parser.error(f"unknown description(s): {', '.join(unknown)}")
    record_path = SPECS / "sources.json"
    record = {e["file"]: e for e in json.loads(record_path.read_text(encoding="utf-8"))} \
        if record_path.is_file() else {}
    snapshot = args.snapshot or datetime.now(UTC).strftime("%Y-%m-%d")
    for which in args.which or list(SOURCES):
        name, url, wanted = SOURCES[which]
        raw = (args.source_dir / name).read_bytes() if args.source_dir else fetch(url)
        document = checked(name, raw, wanted)
        write(name, raw)
        record[name] = {"file": name, "url": url, "snapshot": snapshot,
                        "version": document["info"]["version"],
                        "paths": len(document["paths"]),
                        "sha256": hashlib.sha256(raw).hexdigest()}
        print(f"{name}: {record[name]['version']}, {record[name]['paths']} paths")
    entries = [record[SOURCES[w][0]] for w in SOURCES if SOURCES[w][0] in record]
    record_path.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    (SPECS / "README.md").write_text(readme(entries), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
